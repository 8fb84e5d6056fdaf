/**
 * saliflow's error taxonomy. Each class sets `name` so that Temporal's
 * failure converter shows it as the failure type in the Web UI, and every
 * message says what was wrong, where, and what to do.
 */
import type { RunCauseReport } from './run-causes.js';

import { formatLimit } from './text.js';

/**
 * The base of every saliflow error: its `name` is its class's name, which
 * Temporal's failure converter shows as the failure type and
 * NON_RETRYABLE_ERRORS matches on.
 */
export class SaliflowError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config file (or a credential file it names) is malformed. */
export class ConfigError extends SaliflowError {
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
export class InvalidTransitionError extends SaliflowError {
  constructor(
    readonly job: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`job ${job}: cannot move from ${from} to ${to}`);
  }
}

/** A job row or directory is not what the operation needs. */
export class JobStateError extends SaliflowError {
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
export class JobDirectoryError extends SaliflowError {
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
export class DiskFullError extends SaliflowError {
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
export class StackError extends SaliflowError {}

/**
 * A server saliflow needs (MySQL, Temporal) cannot be reached or refuses it. The
 * message names the address, the account, where they were configured and what
 * to check.
 */
export class ConnectionError extends SaliflowError {}

/** A worker cannot start (a port taken, the start-up check refused): the message says what to fix. */
export class StartupError extends SaliflowError {}

/** A runner could not submit, query or cancel its job. */
export class RunnerError extends SaliflowError {}

/** A cluster job ended without its script writing DONE to job-state. */
export class RunDiedError extends SaliflowError {
  // Narrowed for the run-ended signal's failure type; the value is set by SaliflowError.
  declare readonly name: 'RunDiedError';
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
export class ServiceStepError extends SaliflowError {
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
export class RunnerSpecError extends SaliflowError {
  constructor(
    readonly job: string,
    readonly step: string,
    problem: string,
  ) {
    super(`${step} of job ${job} returned a bad runner: ${problem}`);
  }
}

/** The runner reported that the run itself failed (non-zero exit, scheduler error). */
export class RunFailedError extends SaliflowError {
  // Narrowed for the run-ended signal's failure type; the value is set by SaliflowError.
  declare readonly name: 'RunFailedError';
}

/** A step was cut short by a crash and the service asked not to run its steps twice. */
export class StepInterruptedError extends SaliflowError {}

/** A step ran past its limit (`stepTimeouts`); its call was abandoned and the job fails. */
export class StepTimeoutError extends SaliflowError {
  constructor(job: string, step: string, limitMs: number, key: string) {
    super(
      `${step} of job ${job} did not finish within ${formatLimit(limitMs)} (stepTimeouts.${key} of the service); ` +
        'its call was abandoned: fix the step or raise the limit, then resubmit the job',
    );
  }
}

/** The job was cancelled by an operator. */
export class JobCancelledError extends SaliflowError {}

/** `saliflow reload-limits` or a worker's SIGHUP found a config file it cannot use: nothing was changed. */
export class LimitsNotChangedError extends SaliflowError {
  constructor(cause: Error) {
    super(`the limits were not changed: ${cause.message}`, { cause });
  }
}

/**
 * Exclusive work (an admission round, a pause) whose lease another process
 * took over while this one was stalled: its writes were refused, nothing
 * changed. Retried by the admitter; an operator command says try again.
 */
export class LeaseLostError extends SaliflowError {
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

/** A service's column specs (or a built-in schema) cannot be turned into a jobs table. */
export class SchemaError extends SaliflowError {}

/** The service module cannot be loaded, or does not export a service made with defineService. */
export class ServiceModuleError extends SaliflowError {}

/**
 * `defineService({...})` was given an unknown key, a step that is not a function, or no `run`.
 * `problems` are the messages; the worker re-reads `definition` to name the module's file.
 */
export class ServiceDefinitionError extends SaliflowError {
  constructor(
    readonly problems: readonly string[],
    readonly definition: unknown,
  ) {
    super(problems.join('\n'));
  }
}

/** `[general] socket_group` names a group this host does not know. */
export class GroupNotFoundError extends SaliflowError {}

/** The file system and the jobs table disagree at start-up: the worker refuses to start, as saliweb did. */
export class ConsistencyError extends SaliflowError {
  constructor(readonly problems: string[]) {
    super(
      `the file system and the jobs table disagree; fix these, then start the worker again ` +
        `(or pass --skip-consistency-check):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  }
}

/** No lease within the wait: its holder keeps renewing it or the database is unreachable. */
export class LeaseBusyError extends SaliflowError {
  constructor(
    readonly lease: string,
    readonly waitedSeconds: number,
    readonly holder: string | undefined,
  ) {
    super(`could not take lease ${lease} in ${waitedSeconds} s (held by ${holder ?? 'nobody known'})`);
  }
}

/** The command was typed wrong (bad state name, bad job name, a missing --force): exit code 2. */
export class UsageError extends SaliflowError {}

/** The command ran and found the service needs an operator (no worker, an inconsistency): exit code 3. */
export class AttentionError extends SaliflowError {}

/** The job named is not in the jobs table. */
export class NoSuchJobError extends SaliflowError {
  constructor(
    readonly job: string,
    serviceName: string,
  ) {
    super(`no job ${job} in ${serviceName}; \`saliflow list\` shows the jobs there are`);
  }
}

/** A value is not what it must be; the caller says where it came from (a config key, an option). */
export class InvalidValueError extends SaliflowError {}

/** A submission cannot be made as asked (no free job name, an input file outside the job directory). */
export class SubmissionError extends SaliflowError {}

/** saliweb's backend daemon still runs: adopting its jobs (or serving its socket) is refused; exit code 1. */
export class SaliwebDaemonRunningError extends SaliflowError {}

/** Some of several jobs could not be handled (each was reported): exit code 1. */
export class SomeJobsFailedError extends SaliflowError {}

/**
 * Error types that must fail the job at once rather than be retried by
 * Temporal: they describe the job or the service, not a passing fault.
 * Named through the classes, so a renamed class cannot silently drop out.
 */
export const NON_RETRYABLE_ERRORS: readonly string[] = [
  ConfigError,
  InvalidTransitionError,
  JobStateError,
  ServiceStepError,
  RunDiedError,
  RunFailedError,
  JobCancelledError,
  SchemaError,
  RunnerSpecError,
  StepInterruptedError,
  StepTimeoutError,
  JobDirectoryError,
  DiskFullError,
].map((errorClass) => errorClass.name);

/**
 * The failure types a job workflow ends with (`ApplicationFailure.type`), as
 * the Web UI and `saliflow` commands see them.
 */
export const WORKFLOW_FAILURE = {
  /** The job ended FAILED. */
  jobFailed: 'JobFailed',
  /** Before issue 29: the job's complete step failed after it reached COMPLETED (now that fails the job). */
  completeStepFailed: 'CompleteStepFailed',
  /**
   * The job waits for an operator, its row untouched (a RUNNING job saliweb left without a run record). A
   * failed run, not a completed one: a new run of the same ID may start once the operator has chosen.
   */
  needsOperator: 'NeedsOperator',
  /** The workflow deleted its run and ended on a `stopOnly` cancel. */
  stopped: 'JobStopped',
} as const;
