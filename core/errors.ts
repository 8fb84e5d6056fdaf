/**
 * saliflow's error taxonomy. Each class sets `name` so that Temporal's
 * failure converter shows it as the failure type in the Web UI, and every
 * message says what was wrong, where, and what to do.
 */
import type { RunCauseReport } from './run-causes.js';

import { formatLimit } from './job-workflow-contract.js';

/** A config file (or a credential file it names) is malformed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly location: { section?: string; key?: string },
    problem: string,
  ) {
    const where = [file, location.section !== undefined ? `[${location.section}]` : undefined, location.key]
      .filter((part) => part !== undefined)
      .join(' ');
    super(`${where}: ${problem}`);
  }
}

/** A state change that SALIWEB.md does not allow. */
export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(
    readonly job: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`job ${job}: cannot move from ${from} to ${to}`);
  }
}

/** A job row or directory is not what the operation needs. */
export class JobStateError extends Error {
  override readonly name = 'JobStateError';
  constructor(
    readonly job: string,
    problem: string,
  ) {
    super(`job ${job}: ${problem}`);
  }
}

/**
 * A job's own directory cannot be moved for a reason that waiting will not
 * cure (permission denied, read-only file system): the job fails at once.
 */
export class JobDirectoryError extends Error {
  override readonly name = 'JobDirectoryError';
  constructor(
    readonly job: string,
    readonly code: string,
    what: string,
    cause: string,
  ) {
    super(`job ${job}: ${what}: ${code} (${cause}); fix the folder's permissions or mount, then resubmit the job`);
  }
}

/**
 * A job's directory found no space (ENOSPC, EDQUOT) for longer than
 * `[worker] disk_full_hours`: the job waited, retrying, and now fails.
 */
export class DiskFullError extends Error {
  override readonly name = 'DiskFullError';
  constructor(
    readonly job: string,
    readonly code: string,
    waited: string,
    cause: string,
  ) {
    super(
      `job ${job}: no space for its directory for ${waited} ([worker] disk_full_hours): ${code} (${cause}); ` +
        'free space or raise the quota, then resubmit the job',
    );
  }
}

/** The dev stack (Temporal, MySQL, clusters) cannot be brought up as asked. */
export class StackError extends Error {
  override readonly name = 'StackError';
}

/**
 * A server saliflow needs (MySQL, Temporal) cannot be reached or refuses it. The
 * message names the address, the account, where they were configured and what
 * to check.
 */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}

/** A worker cannot start (a port taken, the start-up check refused): the message says what to fix. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** A runner could not submit, query or cancel its job. */
export class RunnerError extends Error {
  override readonly name = 'RunnerError';
}

/** A cluster job ended without its script writing DONE to job-state. */
export class RunDiedError extends Error {
  override readonly name = 'RunDiedError';
  constructor(
    message: string,
    /** Why the run ended, typed, when saliflow could tell (a cluster run's accounting). */
    readonly runCause?: RunCauseReport,
  ) {
    super(message);
  }
}

/**
 * Describes any thrown value, however odd (null, a string, an object without
 * a prototype, one whose toString throws), in at most a few hundred
 * characters: a step's failure text must always say something true.
 */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) {
    const own = `${value.name === 'Error' ? '' : `${value.name}: `}${value.message}`;
    // gRPC and wrapped errors say what really happened in their cause ("Failed to start Workflow" alone does not).
    return value.cause instanceof Error && value.cause !== value ? `${own} (${describeThrown(value.cause)})` : own;
  }
  let text: string;
  try {
    if (value === null || value === undefined) text = `it threw ${String(value)}`;
    else if (typeof value === 'string') text = `it threw the string ${JSON.stringify(value)}`;
    else if (typeof value !== 'object') text = `it threw the ${typeof value} ${String(value)}`;
    else {
      const proto: unknown = Object.getPrototypeOf(value);
      const kind = proto === null ? 'an object without a prototype' : 'a non-Error object';
      let shown: string;
      try {
        shown = JSON.stringify(value) ?? '';
      } catch {
        shown = `with keys ${Object.keys(value).join(', ')}`;
      }
      text = `it threw ${kind} ${shown} (throw an Error to get a stack trace)`;
    }
  } catch {
    text = 'it threw a value that cannot be described';
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** A service step (preprocess, run, postprocess, …) threw: the job fails at once. */
export class ServiceStepError extends Error {
  override readonly name = 'ServiceStepError';
  constructor(
    readonly step: string,
    readonly job: string,
    cause: unknown,
  ) {
    const inner = cause instanceof Error ? cause : new Error(describeThrown(cause));
    super(`${step} of job ${job} failed: ${inner.name === 'Error' ? '' : `${inner.name}: `}${inner.message}`);
    // Keep the service's own stack: it is what the admin needs to debug the step.
    if (inner.stack) this.stack = `${this.name}: ${this.message}\n${inner.stack.split('\n').slice(1).join('\n')}`;
  }
}

/** A service's `run`/`rerun` returned something that is not a runner this worker can run. */
export class RunnerSpecError extends Error {
  override readonly name = 'RunnerSpecError';
  constructor(
    readonly job: string,
    readonly step: string,
    problem: string,
  ) {
    super(`${step} of job ${job} returned a bad runner: ${problem}`);
  }
}

/** The runner reported that the run itself failed (non-zero exit, scheduler error). */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
}

/** A step was cut short by a crash and the service asked not to run its steps twice. */
export class StepInterruptedError extends Error {
  override readonly name = 'StepInterruptedError';
}

/** A step ran past its limit (`stepTimeouts`); its call was abandoned and the job fails. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  constructor(job: string, step: string, limitMs: number, key: string) {
    super(
      `${step} of job ${job} did not finish within ${formatLimit(limitMs)} (stepTimeouts.${key} of the service); ` +
        'its call was abandoned: fix the step or raise the limit, then resubmit the job',
    );
  }
}

/** The job was cancelled by an operator. */
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
}

/**
 * Error types that must fail the job at once rather than be retried by
 * Temporal: they describe the job or the service, not a passing fault.
 */
export const NON_RETRYABLE_ERRORS = [
  'ConfigError',
  'InvalidTransitionError',
  'JobStateError',
  'ServiceStepError',
  'RunDiedError',
  'RunFailedError',
  'JobCancelledError',
  'SchemaError',
  'RunnerSpecError',
  'StepInterruptedError',
  'StepTimeoutError',
  'JobDirectoryError',
  'DiskFullError',
] as const;

/** `saliflow reload-limits` or a worker's SIGHUP found a config file it cannot use: nothing was changed. */
export class LimitsNotChangedError extends Error {
  override readonly name = 'LimitsNotChangedError';
  constructor(cause: Error) {
    super(`the limits were not changed: ${cause.message}`, { cause });
  }
}

/**
 * Exclusive work (an admission round, a pause) whose lease another process
 * took over while this one was stalled: its writes were refused, nothing
 * changed. Retried by the admitter; an operator command says try again.
 */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly lease: string,
    readonly token: number,
  ) {
    super(
      `lease ${lease} (token ${token}) was taken over by another process while this one was stalled; ` +
        'its writes were refused and nothing changed (the work is retried, or try the command again)',
    );
  }
}

/** No lease within the wait: its holder keeps renewing it or the database is unreachable. */
export class LeaseBusyError extends Error {
  override readonly name = 'LeaseBusyError';
  constructor(
    readonly lease: string,
    readonly waitedSeconds: number,
    readonly holder: string | undefined,
  ) {
    super(`could not take lease ${lease} in ${waitedSeconds} s (held by ${holder ?? 'nobody known'})`);
  }
}
