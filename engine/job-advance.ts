/**
 * `advanceJob`: takes a job as far as it can go without waiting, from
 * wherever its row (and its cycle record) say it is: admission, preprocess,
 * run and submit, postprocess, finalize, complete. It stops where the job
 * must wait (for a slot, for a cluster run) or at the end.
 *
 * Because it decides from the row and not from what its caller believes,
 * calling it again after any crash (a worker SIGKILLed, a workflow task
 * replayed after Temporal restarted) resumes the job at the right point and
 * never repeats a finished state change: a COMPLETED job stays COMPLETED, a
 * submitted run is waited for and never submitted again. The same call
 * serves a job's first start, its resumption, and an orphaned row whose
 * workflow was terminated. It runs as a local activity, so a do-nothing job
 * is one call and one workflow task.
 *
 * A step the service defines is not run here: the advance stops at it and
 * returns `next: 'step'`; the workflow runs it as the `runStep` activity
 * (service-steps.ts) and calls the advance again with its outcome
 * (`stepDone`), which is used only if the row is still in the step's state
 * and cycle. Steps the service does not define cost nothing.
 *
 * What a step may assume: it runs at least once per cycle, and again only
 * if the worker running it died (or lost Temporal) before the job moved on;
 * an exception from a step fails the job at once, never retried.
 */
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import { DiskFullError, RunDiedError, RunFailedError, RunnerSpecError } from '../core/errors.js';
import type { RunFailure } from '../core/job-workflow-contract.js';
import type { RunResults } from '../core/runner-spec.js';
import type { JobState } from '../core/states.js';
import type { Pool } from '../store/pool.js';
import { readJob, type JobRow } from '../store/job-row.js';
import type { Admitter } from './admission.js';
import type { TransitionRequest, TransitionResult } from './job-transitions.js';
import { readCycleRecord, writeCycleRecord, type CycleRecord, type SubmittedRun } from './run-cycle-record.js';
import type { RunnerRegistry } from './runners/index.js';
import { parseLocalRunId } from './runners/local.js';
import type { StepCaller, StepDone, StepOutcome, StepRequest } from './service-steps.js';
import type { RunnerSpec } from '../core/runner-spec.js';
import { describeThrown } from '../core/errors.js';
import { checkJobDirectory } from './job-directory.js';
import { needsOperatorText } from './operator-attention.js';
import { readCompletionRecord, writeCompletionRecord } from './completion-record.js';
import { failpoint } from './failpoint.js';
import type { JobMetrics } from './job-metrics.js';
import { updateLogContext, withLogContext } from './log-context.js';
import type { PerJob } from './one-at-a-time.js';
import { describeWaited, diskRetryDelayMs, diskWaitReason, spaceErrorOf, type DiskWait } from './disk-wait.js';
import { clearDiskWait, recordDiskWait } from '../store/disk-wait.js';
import { recordRunnerId } from '../store/run-watch.js';
import { decideRetry, describeRetries, type RetryOn, type RunResources } from '../core/retry-policy.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sgeOptionsWithResources, sgeScriptResources } from './runners/sge-commands.js';
import { slurmOptionsWithResources, slurmScriptResources } from './runners/slurm-commands.js';
import { SGE_SCRIPT } from './runners/sge.js';
import { SLURM_SCRIPT } from './runners/slurm.js';

const runFailure = ({ type, message, cause }: RunFailure) =>
  type === 'RunDiedError' ? new RunDiedError(message, cause) : new RunFailedError(message);

export interface AdvanceInput {
  job: string;
  /** An operator resubmitted the FAILED job: back to INCOMING first. */
  resubmit?: boolean;
  /**
   * The run of this cycle ended (the workflow waited for it): go on to
   * postprocess with its results, or fail the job with its failure, if the
   * row still says it waits for that run (a job that moved on meanwhile, by
   * another call for the same job, is taken from where its row is).
   */
  finished?: { cycle: number; results?: RunResults; failure?: RunFailure };
  /** The job waits for disk space (see disk-wait.ts): where that wait stands. */
  diskWait?: DiskWait;
  /**
   * The workflow runs the service's steps as activities: the advance stops at each (`next: 'step'`). Absent
   * from the workflow code of earlier versions (a worker not yet upgraded), whose steps run inside the advance.
   */
  stepsApart?: boolean;
  /** The step the workflow ran for the last `next: 'step'`, and what it decided. */
  stepDone?: StepDone;
}

interface Progress {
  /** The last run this call submitted or found: `<kind>:<id>` and its cycle. */
  lastRun?: { cycle: number; label: string };
  /** When that run is a retry (`retryOn`): the retries so far and the cause it followed. */
  retry?: string;
  /**
   * How many `progress` signals the call sent its workflow: only in histories recorded while steps ran inside
   * the advance (the step reports are gone; the workflow still waits for those it was told of).
   */
  reports?: number;
}

export type AdvanceResult = Progress &
  (
    | { next: 'admission'; state: 'INCOMING'; reason: string }
    | { next: 'run'; state: 'RUNNING'; run: SubmittedRun }
    /** A service step: the workflow runs it (`runStep`) and passes its outcome back (`stepDone`). */
    | { next: 'step'; state: JobState; step: StepRequest }
    /** No space for the job's directory: ask again after `retryInMs`, passing `diskWait` back. */
    | { next: 'disk'; state: JobState; reason: string; retryInMs: number; diskWait: DiskWait }
    | {
        next: 'done';
        state: JobState;
        /** For a FAILED row: its failure text. */
        failure?: string;
        /** The job COMPLETED but its `complete` step or e-mail failed (the workflow fails it, as saliweb). */
        completeFailure?: string;
        /** The job waits for an operator, its row untouched (a RUNNING job saliweb left without a run record). */
        needsOperator?: string;
      }
  );

interface AdvanceDeps {
  config: ServiceConfig;
  pool: Pool;
  steps: StepCaller;
  runners: RunnerRegistry;
  admitter: Admitter;
  transitionJob(request: TransitionRequest): Promise<TransitionResult>;
  restoreJobDirectory(job: string, directory: string | null): Promise<void>;
  /** This worker's host identity, recorded with local runs. */
  hostId: string;
  /** A run's outcome if it ends within the time given (see `QUICK_RUN_MS`), else undefined. */
  runEndedWithin(job: string, run: SubmittedRun, withinMs: number): Promise<{ results?: RunResults } | undefined>;
  /** Hands a run the job now waits for to this worker's run watcher (which signals its end). */
  watchRun(job: string, run: SubmittedRun): void;
  /** Shared with `failJob`: one call per job at a time in this process. */
  oneAtATime: PerJob;
  metrics: Pick<JobMetrics, 'runSubmitted' | 'runEnded' | 'diskFull'>;
  log: Logger;
  /** The service's retry policy by run cause, and its per-job budget (validated when the worker starts). */
  retry?: { on?: RetryOn; maxRetries?: number };
}

/**
 * How long a job's workflow task waits for a run this worker just started
 * (a local command) before handing the wait to the run watcher. A
 * short command then costs what a do-nothing job does: one workflow task,
 * no activity; a long one holds the task this much longer, once.
 */
export const QUICK_RUN_MS = 1000;

/** The failure text a completion step's outcome carries (already described by the step's caller). */
class RecordedStepFailure extends Error {}

export function createJobAdvance(deps: AdvanceDeps) {
  const { pool, steps, runners, admitter, transitionJob } = deps;

  async function submit(row: JobRow, directory: string, record: CycleRecord, asked: RunnerSpec): Promise<SubmittedRun> {
    // A retry's grown memory and walltime replace what the service asked for.
    const resources = record.retry?.resources;
    const spec =
      resources && (asked.kind === 'sge' || asked.kind === 'slurm')
        ? {
            ...asked,
            options: (asked.kind === 'sge' ? sgeOptionsWithResources : slurmOptionsWithResources)(
              asked.options ?? '',
              resources,
            ),
          }
        : asked;
    const step = record.rerun ? 'rerun' : 'run';
    const backend = runners[spec.kind];
    if (!backend) {
      throw new RunnerSpecError(
        row.name,
        step,
        `this worker has no "${spec.kind}" runner; add its section ([${spec.kind}]) to the service config`,
      );
    }
    const id = await backend.submit({ name: row.name, directory, cycle: record.cycle }, spec);
    const run: SubmittedRun = {
      kind: spec.kind,
      id,
      directory,
      cycle: record.cycle,
      // A retry on another host may adopt a process an earlier attempt started: its id names its host.
      ...(spec.kind === 'local' ? { host: parseLocalRunId(id).host ?? deps.hostId } : {}),
    };
    await writeCycleRecord(directory, {
      ...record,
      run: { kind: run.kind, id, cycle: run.cycle, ...(run.host ? { host: run.host } : {}) },
    });
    await recordRunnerId(pool, row.name, `${backend.name}:${id}`);
    deps.metrics.runSubmitted(spec.kind);
    const retry = record.retry?.after
      ? `, a retry after ${record.retry.after} (${spec.kind === 'sge' || spec.kind === 'slurm' ? spec.options : ''})`
      : '';
    deps.log.info(`run submitted: ${backend.name}:${id}${retry}`, { runner: spec.kind, cycle: record.cycle });
    return run;
  }

  /** What the ended run's job script asked for (`#$ -l h_rt=…`, `#SBATCH --mem=…`): what it was submitted with. */
  async function submittedResources(directory: string, record: CycleRecord): Promise<RunResources> {
    const kind = record.run?.kind;
    if (kind !== 'sge' && kind !== 'slurm') return {};
    const file = path.join(directory, kind === 'sge' ? SGE_SCRIPT : SLURM_SCRIPT);
    const script = await fs.readFile(file, 'utf8').catch(() => '');
    return kind === 'sge' ? sgeScriptResources(script) : slurmScriptResources(script);
  }

  /**
   * After a run failed: a new run of the same service cycle when the service's
   * `retryOn` covers its cause and the budgets allow (the record, with the
   * budgets spent, is written before anything is submitted, so a crash here
   * neither loses nor repeats a retry); otherwise the error that fails the job,
   * saying why it was not retried and what retries it had.
   */
  async function retryOrFail(directory: string, record: CycleRecord, failure: RunFailure): Promise<Error | undefined> {
    const cause = failure.cause;
    const history = describeRetries(record.retry, deps.retry?.on);
    const failWith = (why: string | undefined) => {
      const notes = [why ? `not retried: ${why}` : undefined, history].filter(Boolean).join('; ');
      return runFailure(notes ? { ...failure, message: `${failure.message} [${notes}]` } : failure);
    };
    if (!cause || !deps.retry?.on) return failWith(undefined);
    const had = { ...record.retry?.resources, ...cause.requested, ...(await submittedResources(directory, record)) };
    const decision = decideRetry(
      deps.retry.on,
      deps.retry.maxRetries,
      {
        cause: cause.kind,
        ...(cause.exitCode !== undefined ? { exitCode: cause.exitCode } : {}),
        ...(cause.peakMemoryBytes !== undefined ? { peakMemoryBytes: cause.peakMemoryBytes } : {}),
        ...(cause.wallclockSeconds !== undefined ? { wallclockSeconds: cause.wallclockSeconds } : {}),
        resources: had,
      },
      record.retry,
      cause.text,
    );
    if (!decision.retry) return failWith(decision.why);
    await writeCycleRecord(directory, {
      cycle: record.cycle + 1,
      ...(record.rerun ? { rerun: record.rerun } : {}),
      retry: decision.state,
    });
    deps.metrics.runEnded(cause.kind);
    deps.log.warn(
      `run ${record.cycle} ended with ${cause.text}: retried (${decision.cause} ${decision.state.byCause[decision.cause]}/` +
        `${deps.retry.on[decision.cause]?.attempts}, ${decision.change})`,
      { cycle: record.cycle + 1 },
    );
    return undefined;
  }

  return function advanceJob(input: AdvanceInput): Promise<AdvanceResult> {
    return deps.oneAtATime(input.job, () => withLogContext({ job: input.job }, () => advanceOrWaitForSpace(input)));
  };

  /** A full disk (ENOSPC, EDQUOT) is a wait with a reason and a bound, not a silent retry (disk-wait.ts). */
  async function advanceOrWaitForSpace(input: AdvanceInput): Promise<AdvanceResult> {
    const { job } = input;
    try {
      const result = await advance(input);
      if (input.diskWait) await clearDiskWait(pool, job);
      return result;
    } catch (error) {
      const space = spaceErrorOf(error);
      if (!space) throw error;
      const wait: DiskWait = {
        since: input.diskWait?.since ?? Date.now(),
        attempt: (input.diskWait?.attempt ?? -1) + 1,
      };
      const waited = Date.now() - wait.since;
      const boundHours = deps.config.worker.diskFullHours;
      if (waited >= boundHours * 3_600_000) {
        throw new DiskFullError(job, space.code ?? 'ENOSPC', describeWaited(waited), space.message);
      }
      const reason = diskWaitReason(space, wait, boundHours);
      await recordDiskWait(pool, job, reason);
      deps.metrics.diskFull(space.code ?? 'ENOSPC');
      if (wait.attempt === 0) deps.log.warn(reason);
      const { state } = await readJob(pool, job);
      return { next: 'disk', state, reason, retryInMs: diskRetryDelayMs(wait.attempt), diskWait: wait };
    }
  }

  async function advance(input: AdvanceInput): Promise<AdvanceResult> {
    const { job } = input;
    let { finished, stepDone } = input;
    const progress: Progress = {};
    let row = await readJob(pool, job);
    // A change cut short between its move and its commit: the directory goes back where the row says.
    await deps.restoreJobDirectory(job, row.directory);
    updateLogContext({ state: row.state });
    const moved = (state: JobState, changes: Partial<JobRow> = {}) => {
      // Entered now, by this worker's clock: how long it stays is measured from here.
      row = { ...row, ...changes, state, since: new Date() };
      updateLogContext({ state });
    };
    const enter = async (to: JobState) => {
      const known = { state: row.state, directory: row.directory, since: row.since };
      const result = await transitionJob({ job, to, known });
      moved(to, { directory: result.directory });
    };
    if (input.resubmit && row.state === 'FAILED') await enter('INCOMING');
    /**
     * What the step decided: the workflow's `runStep` outcome if it ran this very step (same state and cycle;
     * a stale one, from before the job moved on, is ignored), or the step run here (an earlier workflow
     * version's call, and `run` within a local activity's bound); undefined: hand it to the workflow.
     */
    const outcomeOf = async (request: StepRequest, current: JobRow): Promise<StepOutcome | undefined> => {
      const done = stepDone;
      if (done && done.name === request.name && done.state === request.state && done.cycle === request.cycle) {
        stepDone = undefined;
        return done.outcome;
      }
      if (input.stepsApart && !steps.runsInline(request.name)) return undefined;
      return steps.run(current, request);
    };
    const handOver = (step: StepRequest): AdvanceResult => ({ next: 'step', state: row.state, step, ...progress });

    for (;;) {
      switch (row.state) {
        case 'INCOMING': {
          const admission = await admitter.request(job);
          if (!admission.admitted) {
            return { next: 'admission', state: 'INCOMING', reason: admission.reason ?? 'waiting', ...progress };
          }
          moved('PREPROCESSING');
          break;
        }
        case 'PREPROCESSING': {
          // Admitted by a round (row only): the directory follows now.
          const moved = await transitionJob({ job, to: 'PREPROCESSING' });
          const directory = await checkJobDirectory(deps.config, job, moved.directory);
          row = { ...row, directory };
          if (steps.defines('preprocess')) {
            const request = steps.request(row, 'preprocess', 0);
            const outcome = await outcomeOf(request, row);
            if (!outcome) return handOver(request);
            if (outcome.skipRun) return complete(directory);
          }
          await writeCycleRecord(directory, { cycle: 1 });
          await enter('RUNNING');
          break;
        }
        case 'RUNNING': {
          const directory = await checkJobDirectory(deps.config, job, row.directory);
          const found = await readCycleRecord(directory);
          // saliflow writes the record before it enters RUNNING: a RUNNING row without one is a job saliweb
          // left (it commits RUNNING before it submits), whose run may exist. Never submitted blindly, never
          // failed by itself: left RUNNING, untouched, for an operator (engine/operator-attention.ts).
          if (found === undefined) {
            const needsOperator = needsOperatorText(job, row.runnerId);
            deps.log.warn(needsOperator);
            return { next: 'done', state: 'RUNNING', ...progress, needsOperator };
          }
          const record = found;
          const submitted = record.run === undefined;
          let run: SubmittedRun;
          if (record.run) run = { ...record.run, directory };
          else {
            const name = record.rerun ? 'rerun' : 'run';
            const request = steps.request(row, name, record.cycle, record.rerun ? { rerun: record.rerun } : {});
            const outcome = await outcomeOf(request, { ...row, directory });
            if (!outcome) return handOver(request);
            if (!outcome.spec) throw new RunnerSpecError(job, name, 'its step returned no runner');
            run = await submit(row, directory, record, outcome.spec);
          }
          progress.lastRun = { cycle: run.cycle, label: `${run.kind}:${run.id}` };
          const retries = describeRetries(record.retry, deps.retry?.on);
          if (retries && record.retry?.after) progress.retry = `${retries}, after ${record.retry.after}`;
          else delete progress.retry;
          // A do-nothing run is finished as soon as it is submitted: no wait.
          if (finished?.cycle === run.cycle && finished.failure) {
            const error = await retryOrFail(directory, record, finished.failure);
            if (error) throw error;
            // A retry: the new record has no run yet, so the next turn submits it.
            finished = undefined;
            break;
          }
          if (finished?.cycle !== run.cycle && run.kind !== 'do-nothing') {
            const quick = submitted ? await deps.runEndedWithin(job, run, QUICK_RUN_MS) : undefined;
            if (!quick) {
              deps.watchRun(job, run);
              return { next: 'run', state: 'RUNNING', run, ...progress };
            }
            finished = { cycle: run.cycle, ...quick };
          }
          await enter('POSTPROCESSING');
          break;
        }
        case 'POSTPROCESSING': {
          const directory = await checkJobDirectory(deps.config, job, row.directory);
          const record = (await readCycleRecord(directory)) ?? { cycle: 1 };
          const results = finished?.cycle === record.cycle ? finished.results : undefined;
          let post: StepOutcome = {};
          if (steps.defines('postprocess')) {
            const request = steps.request(row, 'postprocess', record.cycle, results ? { results } : {});
            const outcome = await outcomeOf(request, row);
            if (!outcome) return handOver(request);
            post = outcome;
          }
          if (post.reschedule) {
            const rerun = post.reschedule.data === undefined ? {} : { data: post.reschedule.data };
            // A reschedule keeps the retry budgets (per job) and the resources retries grew.
            const retry = record.retry && {
              byCause: record.retry.byCause,
              total: record.retry.total,
              ...(record.retry.resources ? { resources: record.retry.resources } : {}),
            };
            await writeCycleRecord(directory, { cycle: record.cycle + 1, rerun, ...(retry ? { retry } : {}) });
            await enter('RUNNING');
          } else {
            await enter('FINALIZING');
          }
          break;
        }
        case 'FINALIZING': {
          const directory = await checkJobDirectory(deps.config, job, row.directory);
          // The completion record is written once finalize is done: a completion that could not be
          // committed (no space for the move to COMPLETED's folder) does not finalize again.
          if ((await readCompletionRecord(directory)) === undefined && steps.defines('finalize')) {
            const request = steps.request(row, 'finalize', 0);
            if (!(await outcomeOf(request, row))) return handOver(request);
          }
          return complete(directory);
        }
        case 'FAILED':
          return { next: 'done', state: 'FAILED', ...progress, failure: row.failure ?? 'failed (no reason recorded)' };
        case 'COMPLETED':
          // A call cut short around the completion: what its record says is left is done now.
          return finish();
        default:
          // COMPLETED, ARCHIVED, EXPIRED: finished; nothing here may change them.
          return { next: 'done', state: row.state, ...progress };
      }
    }

    /** The row becomes COMPLETED with a record saying no side effect is done yet. */
    async function complete(directory: string): Promise<AdvanceResult> {
      await writeCompletionRecord(directory, {});
      failpoint('before-completed-commit');
      await enter('COMPLETED');
      failpoint('after-completed-commit');
      return finish();
    }

    /**
     * COMPLETED: a slot is free. The `complete` step and the e-mail, each
     * once (as the completion record says what is left), cannot undo the
     * completion; their failure is recorded and reported.
     */
    async function finish(): Promise<AdvanceResult> {
      admitter.wake();
      const done = { next: 'done', state: 'COMPLETED', ...progress } as const;
      const directory = row.directory === null ? null : await checkJobDirectory(deps.config, job, row.directory);
      let record = directory === null ? undefined : await readCompletionRecord(directory);
      // No record: completed before records were kept, and finished then.
      if (directory === null || record === undefined) return done;
      if (record.failure === undefined) {
        try {
          if (!record.completeDone) {
            if (steps.defines('complete')) {
              const request = steps.request(row, 'complete', 0);
              const outcome = await outcomeOf(request, row);
              if (!outcome) return handOver(request);
              if (outcome.failure !== undefined) throw new RecordedStepFailure(outcome.failure);
            }
            record = { ...record, completeDone: true };
            await writeCompletionRecord(directory, record);
            failpoint('after-complete-step');
          }
          if (!record.emailDone) {
            if (steps.defines('sendJobCompletedEmail')) {
              const request = steps.request(row, 'sendJobCompletedEmail', 0);
              const outcome = await outcomeOf(request, row);
              if (!outcome) return handOver(request);
              if (outcome.failure !== undefined) throw new RecordedStepFailure(outcome.failure);
            } else {
              await steps.sendDefaultCompletedEmail(row);
            }
            record = { ...record, emailDone: true };
            await writeCompletionRecord(directory, record);
            failpoint('after-completion-email');
          }
        } catch (error) {
          const failure = error instanceof RecordedStepFailure ? error.message : describeThrown(error);
          record = { ...record, failure };
          await writeCompletionRecord(directory, record);
        }
      }
      return record.failure === undefined ? done : { ...done, completeFailure: record.failure };
    }
  }
}
