/**
 * Calling the service's own steps. A step that throws fails the job at once
 * (ServiceStepError is non-retryable), naming the job and the step, whatever
 * value it threw. Steps the service does not define cost nothing: no row is
 * read for them.
 */
import { retryPolicyProblem } from '../core/retry-policy.js';
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import fs from 'node:fs/promises';
import { RunnerSpecError, ServiceStepError, StepInterruptedError, StepTimeoutError } from '../core/errors.js';
import { runnerSpecProblem, type RunResults, type RunnerSpec } from '../core/runner-spec.js';
import type { RunningStep } from '../core/job-workflow-contract.js';
import type { JobContext, RerunData, Service } from '../core/service.js';
import type { Pool } from '../store/pool.js';
import { loadStepContext } from './job-context.js';
import type { JobRow } from '../store/job-row.js';
import { completedMessageId, jobCompletedMessage, type Mailer } from './mail.js';
import { toResultFiles } from './result-files.js';
import { withLogContext } from './log-context.js';

export type StepCaller = ReturnType<typeof createStepCaller>;

/** A step's limit when the service sets none (`stepTimeouts`). */
export const DEFAULT_STEP_TIMEOUT_MS = 60 * 60 * 1000;
/** The longest limit: a step runs inside a local activity of at most 2 hours (workflows/activity-options.ts). */
export const MAX_STEP_TIMEOUT_MS = 110 * 60 * 1000;

/** The limits a service set, checked once when the worker starts. */
function checkStepTimeouts(service: Service): void {
  for (const [key, ms] of Object.entries(service.stepTimeouts ?? {})) {
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms <= 0 || ms > MAX_STEP_TIMEOUT_MS) {
      throw new TypeError(
        `the service's defineService({ stepTimeouts: { ${key}: ${String(ms)} } }): a step's limit is a whole number of ` +
          `milliseconds from 1 to ${MAX_STEP_TIMEOUT_MS} (110 minutes)`,
      );
    }
  }
}

/**
 * Told as a step starts (the job's workflow shows it); returns what to call when it ends. Never throws: a
 * failure to tell never fails the step.
 */
export type StepStartReport = (row: JobRow, step: RunningStep) => () => void;

export function createStepCaller(
  config: ServiceConfig,
  pool: Pool,
  mailer: Mailer,
  service: Service,
  log: Logger,
  onStepStart?: StepStartReport,
  /** Rejects when whatever runs the step is cancelled (activities/heartbeat.ts `activityCancellation`). */
  cancellation: () => Promise<never>[] = () => [],
) {
  checkStepTimeouts(service);
  const retryProblem = retryPolicyProblem(service.retryOn, service.maxRetries);
  if (retryProblem) throw new TypeError(`the service's defineService({ retryOn, maxRetries }): ${retryProblem}`);
  const limits: Record<string, number | undefined> = service.stepTimeouts ?? {};
  /** `rerun` is bounded by `run`'s limit; the completion e-mail by `sendJobCompletedEmail`'s. */
  function stepLimit(step: string): { ms: number; key: string } {
    const key = step === 'rerun' ? 'run' : step;
    if (limits[key] !== undefined) return { ms: limits[key], key };
    return { ms: limits.default ?? DEFAULT_STEP_TIMEOUT_MS, key: 'default' };
  }

  /** Runs one step with the job's context, then writes the metadata it changed. */
  function call<T>(row: JobRow, step: string, invoke: (context: JobContext) => T | Promise<T>): Promise<T> {
    // Lines logged during the step (the service's `job.log`, a runner's) name the step and the job's state.
    return withLogContext({ job: row.name, state: row.state, step }, () => callStep(row, step, invoke));
  }

  async function callStep<T>(row: JobRow, step: string, invoke: (context: JobContext) => T | Promise<T>): Promise<T> {
    const { context, saveMetadata } = await loadStepContext(config, pool, mailer, row.name, row, log);
    // Only services that refuse a second run pay for the marker file.
    const marker = service.interruptedSteps === 'fail' ? context.path(`.saliflow-step-${step}.running`) : undefined;
    if (marker) {
      const interrupted = await fs.access(marker).then(
        () => true,
        () => false,
      );
      if (interrupted) {
        throw new StepInterruptedError(
          `${step} of job ${row.name} was cut short by a crash (worker, MySQL or Temporal lost) and this service ` +
            "does not run steps twice (interruptedSteps: 'fail'); resubmit the job",
        );
      }
      await fs.writeFile(marker, '');
    }
    const limit = stepLimit(step);
    const ended = onStepStart?.(row, {
      name: step,
      startedAt: new Date().toISOString(),
      timeoutMs: limit.ms,
      limitKey: limit.key,
    });
    const running = Promise.resolve()
      .then(() => invoke(context))
      .catch((error: unknown) => {
        throw new ServiceStepError(step, row.name, error);
      });
    // An abandoned call may still fail later: that is no longer anyone's error.
    running.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepTimeoutError(row.name, step, limit.ms, limit.key)), limit.ms);
    });
    let result: T;
    try {
      // A step that never returns must not hold its job: its limit, or the activity's cancellation (an
      // operator's cancel, the workflow ended), abandons the call; nothing it returns later is used.
      result = await Promise.race([running, timedOut, ...cancellation()]);
    } finally {
      clearTimeout(timer);
      ended?.();
      if (marker) await fs.rm(marker, { force: true });
    }
    // The caller's row now matches MySQL: a later step in the same advance sees what this one wrote.
    Object.assign(row.metadata, await saveMetadata());
    return result;
  }

  return {
    async preprocess(row: JobRow): Promise<{ skipRun: boolean }> {
      if (!service.preprocess) return { skipRun: false };
      const result = await call(row, 'preprocess', (context) => service.preprocess?.(context));
      return { skipRun: result?.skipRun === true };
    },

    /** `run` (or `rerun` on a rescheduled cycle), validated where the spec enters. */
    async run(row: JobRow, rerun?: { data?: RerunData }): Promise<RunnerSpec> {
      const step = rerun ? 'rerun' : 'run';
      const spec: unknown = await call(row, step, (context) =>
        rerun && service.rerun ? service.rerun(context, rerun.data) : service.run(context),
      );
      const problem = runnerSpecProblem(spec);
      if (problem) throw new RunnerSpecError(row.name, step, problem);
      return spec as RunnerSpec;
    },

    async postprocess(row: JobRow, results?: RunResults): Promise<{ reschedule: boolean; data?: RerunData }> {
      if (!service.postprocess) return { reschedule: false };
      const result = await call(row, 'postprocess', (context) =>
        service.postprocess?.(context, results ? toResultFiles(results, context.directory) : undefined),
      );
      if (!result?.reschedule) return { reschedule: false };
      return { reschedule: true, ...(result.reschedule.data !== undefined ? { data: result.reschedule.data } : {}) };
    },

    async finalize(row: JobRow): Promise<void> {
      if (service.finalize) await call(row, 'finalize', (context) => service.finalize?.(context));
    },

    /** The `complete` step (its e-mail is separate: a completion records each as done). */
    async complete(row: JobRow): Promise<void> {
      if (service.complete) await call(row, 'complete', (context) => service.complete?.(context));
    },

    /**
     * The user's "job complete" e-mail. Its Message-ID is fixed per job and
     * submission, so in the instant between the mail server accepting it and
     * the completion record saying so, a crash's resend is the same message.
     */
    async sendCompletedEmail(row: JobRow): Promise<void> {
      if (service.sendJobCompletedEmail) {
        await call(row, 'sendJobCompletedEmail', (context) => service.sendJobCompletedEmail?.(context));
      } else if (row.contactEmail) {
        const message = jobCompletedMessage(config.general.serviceName, row.name, row.url);
        const messageId = completedMessageId(config.general.serviceName, row.name, row.submitTime);
        await mailer.send({ to: row.contactEmail, ...message, messageId });
      }
    },

    async archive(row: JobRow): Promise<void> {
      if (service.archive) await call(row, 'archive', (context) => service.archive?.(context));
    },

    async expire(row: JobRow): Promise<void> {
      if (service.expire) await call(row, 'expire', (context) => service.expire?.(context));
    },
  };
}
