/**
 * Calling the service's own steps. A step that throws fails the job at once
 * (ServiceStepError is non-retryable), naming the job and the step, whatever
 * value it threw. Steps the service does not define cost nothing: no row is
 * read for them, and no activity is scheduled.
 *
 * Where a step runs: `advanceJob` (saliflow's bookkeeping, a local activity)
 * stops at each step the service defines and hands it to the workflow as a
 * StepRequest; the workflow runs it as the regular, heartbeating `runStep`
 * activity (its own timeout, visible in the Web UI's pending activities,
 * cancelled with the job), and passes its StepOutcome to the next advance.
 * `run` and `rerun` only say what to run: they stay inside the advance (no
 * extra workflow task) unless the service gives them a limit a local
 * activity cannot hold (INLINE_STEP_LIMIT_MS).
 */
import { retryPolicyProblem } from '../core/retry-policy.js';
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import fs from 'node:fs/promises';
import {
  describeThrown,
  RunnerSpecError,
  ServiceStepError,
  StepInterruptedError,
  StepTimeoutError,
} from '../core/errors.js';
import { runnerSpecProblem, type RunResults, type RunnerSpec } from '../core/runner-spec.js';
import type { JobContext, RerunData, Service } from '../core/service.js';
import type { JobState } from '../core/states.js';
import type { Pool } from '../store/pool.js';
import { loadStepContext } from './job-context.js';
import { readJob, type JobRow } from '../store/job-row.js';
import { completedMessageId, jobCompletedMessage, type Mailer } from './mail.js';
import { toResultFiles } from './result-files.js';
import { withLogContext } from './log-context.js';

export type StepCaller = ReturnType<typeof createStepCaller>;

/** The steps of a job's life the advance hands over (archive and expire run in their own activities). */
export type AdvanceStep =
  'preprocess' | 'run' | 'rerun' | 'postprocess' | 'finalize' | 'complete' | 'sendJobCompletedEmail';

/** A step the advance hands to its workflow: what `runStep` needs to run it, and what the account shows. */
export interface StepRequest {
  job: string;
  name: AdvanceStep;
  /** The row's state the step runs in: its outcome is used only while the row still says so. */
  state: JobState;
  /** The run cycle of the job's cycle record (run, rerun, postprocess); 0 for the once-per-job steps. */
  cycle: number;
  /** Its limit (`stepTimeouts`) and the key that set it (`default` when none names the step). */
  timeoutMs: number;
  limitKey: string;
  /** postprocess: the ended run's results (a web-service run's files). */
  results?: RunResults;
  /** rerun: what the last `reschedule` passed. */
  rerun?: { data?: RerunData };
}

/** What a step decided, as plain data (it crosses Temporal from `runStep` to the next advance). */
export interface StepOutcome {
  /** preprocess: no run needed. */
  skipRun?: boolean;
  /** postprocess: run again, with this data for `rerun`. */
  reschedule?: { data?: RerunData };
  /** run, rerun: what to run (validated). */
  spec?: RunnerSpec;
  /** complete, sendJobCompletedEmail: their failure, recorded (they cannot undo the completion). */
  failure?: string;
}

/** A step the workflow ran, passed back to the advance. */
export interface StepDone {
  name: AdvanceStep;
  state: JobState;
  cycle: number;
  outcome: StepOutcome;
}

/** A step's limit when the service sets none (`stepTimeouts`). */
export const DEFAULT_STEP_TIMEOUT_MS = 60 * 60 * 1000;
/** The longest limit a timer holds (2^31 - 1 ms, 24.8 days): past it Node fires the timer at once. */
export const MAX_STEP_TIMEOUT_MS = 2 ** 31 - 1;
/**
 * `run` and `rerun` run inside the advance (a local activity of at most 2 hours) when their limit is at most
 * this; a longer one runs as an activity like every other step.
 */
export const INLINE_STEP_LIMIT_MS = 110 * 60 * 1000;

/** The limits a service set, checked once when the worker starts. */
function checkStepTimeouts(service: Service): void {
  for (const [key, ms] of Object.entries(service.stepTimeouts ?? {})) {
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms <= 0 || ms > MAX_STEP_TIMEOUT_MS) {
      throw new TypeError(
        `the service's defineService({ stepTimeouts: { ${key}: ${String(ms)} } }): a step's limit is a whole number of ` +
          `milliseconds from 1 to ${MAX_STEP_TIMEOUT_MS} (24 days)`,
      );
    }
  }
}

export function createStepCaller(
  config: ServiceConfig,
  pool: Pool,
  mailer: Mailer,
  service: Service,
  log: Logger,
  /** Rejects when whatever runs the step is cancelled (activities/heartbeat.ts `activityCancellation`). */
  cancellation: () => Promise<never>[] = () => [],
) {
  checkStepTimeouts(service);
  const retryProblem = retryPolicyProblem(service.retryOn, service.maxRetries);
  if (retryProblem) throw new TypeError(`the service's defineService({ retryOn, maxRetries }): ${retryProblem}`);
  const limits: Record<string, number | undefined> = service.stepTimeouts ?? {};
  /** What the cancellation rejected with: a cancelled step is not a failure of the step. */
  const cancelErrors = new WeakSet<object>();
  const cancelled = () =>
    cancellation().map((rejects) =>
      rejects.catch((error: unknown) => {
        if (typeof error === 'object' && error !== null) cancelErrors.add(error);
        throw error;
      }),
    );
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
    // Only services that refuse a second run pay for the marker file: a retried activity finds it.
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
      result = await Promise.race([running, timedOut, ...cancelled()]);
    } finally {
      clearTimeout(timer);
      if (marker) await fs.rm(marker, { force: true });
    }
    // The caller's row now matches MySQL: a later step in the same advance sees what this one wrote.
    Object.assign(row.metadata, await saveMetadata());
    return result;
  }

  /** Whether the service has this step (`rerun` falls back to `run`; the e-mail has saliflow's default). */
  function defines(step: AdvanceStep): boolean {
    if (step === 'run' || step === 'rerun') return true;
    return typeof service[step] === 'function';
  }

  /** Runs a step the advance asked for, in the row's current state, and says what it decided. */
  async function runRequested(row: JobRow, request: StepRequest): Promise<StepOutcome> {
    switch (request.name) {
      case 'preprocess': {
        const result = await call(row, 'preprocess', (context) => service.preprocess?.(context));
        return result?.skipRun === true ? { skipRun: true } : {};
      }
      case 'run':
      case 'rerun': {
        const step = request.name;
        const rerun = request.rerun;
        const spec: unknown = await call(row, step, (context) =>
          step === 'rerun' && service.rerun ? service.rerun(context, rerun?.data) : service.run(context),
        );
        const problem = runnerSpecProblem(spec);
        if (problem) throw new RunnerSpecError(row.name, step, problem);
        return { spec: spec as RunnerSpec };
      }
      case 'postprocess': {
        const { results } = request;
        const result = await call(row, 'postprocess', (context) =>
          service.postprocess?.(context, results ? toResultFiles(results, context.directory) : undefined),
        );
        if (!result?.reschedule) return {};
        const { data } = result.reschedule;
        return { reschedule: data !== undefined ? { data } : {} };
      }
      case 'finalize':
        await call(row, 'finalize', (context) => service.finalize?.(context));
        return {};
      case 'complete':
      case 'sendJobCompletedEmail': {
        const step = request.name;
        // saliweb: a failure here fails the job; saliflow records it (the completion stands) and reports it.
        try {
          await call(row, step, (context) => service[step]?.(context));
          return {};
        } catch (error) {
          if (typeof error === 'object' && error !== null && cancelErrors.has(error)) throw error;
          return { failure: describeThrown(error) };
        }
      }
    }
  }

  return {
    defines,

    /** What the advance hands over for `step` (its limit included). */
    request(
      row: JobRow,
      name: AdvanceStep,
      cycle: number,
      extra: Pick<StepRequest, 'results' | 'rerun'> = {},
    ): StepRequest {
      const limit = stepLimit(name);
      return { job: row.name, name, state: row.state, cycle, timeoutMs: limit.ms, limitKey: limit.key, ...extra };
    },

    /** `run`/`rerun` within a local activity's bound stay in the advance; every other step is handed over. */
    runsInline(name: AdvanceStep): boolean {
      return (name === 'run' || name === 'rerun') && stepLimit(name).ms <= INLINE_STEP_LIMIT_MS;
    },

    /** Runs a requested step with `row`, the advance's current row (a step kept inline). */
    run: runRequested,

    /**
     * The `runStep` activity: the step the advance handed over, on the row as it is now. A row that left the
     * step's state (the job moved on without it) runs nothing: the advance ignores an outcome for another state.
     */
    async runStep(request: StepRequest): Promise<StepOutcome> {
      const row = await readJob(pool, request.job);
      if (row.state !== request.state) {
        log.warn(`${request.name} of job ${request.job} not run: the job is ${row.state}, not ${request.state}`);
        return {};
      }
      return runRequested(row, request);
    },

    /**
     * saliflow's own completion e-mail ("job complete, results at <url>"), when the service does not replace
     * it. Its Message-ID is fixed per job and submission, so in the instant between the mail server accepting
     * it and the completion record saying so, a crash's resend is the same message.
     */
    async sendDefaultCompletedEmail(row: JobRow): Promise<void> {
      if (!row.contactEmail) return;
      const message = jobCompletedMessage(config.general.serviceName, row.name, row.url);
      const messageId = completedMessageId(config.general.serviceName, row.name, row.submitTime);
      await mailer.send({ to: row.contactEmail, ...message, messageId });
    },

    async archive(row: JobRow): Promise<void> {
      if (service.archive) await call(row, 'archive', (context) => service.archive?.(context));
    },

    async expire(row: JobRow): Promise<void> {
      if (service.expire) await call(row, 'expire', (context) => service.expire?.(context));
    },
  };
}
