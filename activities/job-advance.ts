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
 * What a step may assume: it runs at least once per cycle, and again only
 * if the worker running it died (or lost Temporal) before the job moved on;
 * an exception from a step fails the job at once, never retried.
 */
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError, RunDiedError, RunFailedError, RunnerSpecError } from '../core/errors.js';
import type { RunFailure } from '../core/job-workflow-contract.js';
import type { RunResults } from '../core/runner-spec.js';
import type { JobState } from '../core/states.js';
import type { Pool } from './database.js';
import { readJob, type JobRow } from './job-row.js';
import type { Admitter } from './admission.js';
import type { TransitionRequest, TransitionResult } from './job-transitions.js';
import { readCycleRecord, writeCycleRecord, type CycleRecord, type SubmittedRun } from './run-cycle-record.js';
import type { RunnerRegistry } from './runners/index.js';
import { parseLocalRunId } from './runners/local.js';
import type { StepCaller } from './service-steps.js';
import { describeThrown } from '../core/errors.js';
import { checkJobDirectory } from './job-directory.js';
import { readCompletionRecord, writeCompletionRecord } from './completion-record.js';
import { failpoint } from './failpoint.js';
import type { JobMetrics } from './job-metrics.js';
import { updateLogContext, withLogContext } from './log-context.js';
import type { PerJob } from './one-at-a-time.js';

const runFailure = ({ type, message }: RunFailure) =>
  type === 'RunDiedError' ? new RunDiedError(message) : new RunFailedError(message);

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
}

interface Progress {
  /** The last run this call submitted or found: `<kind>:<id>` and its cycle. */
  lastRun?: { cycle: number; label: string };
  /** How many `progress` signals this call sent its workflow (step-reports.ts): it waits for them before ending. */
  reports?: number;
}

export type AdvanceResult = Progress &
  (
    | { next: 'admission'; state: 'INCOMING'; reason: string }
    | { next: 'run'; state: 'RUNNING'; run: SubmittedRun }
    | {
        next: 'done';
        state: JobState;
        /** For a FAILED row: its failure text. */
        failure?: string;
        /** The job COMPLETED but its `complete` step or e-mail failed (the row stays COMPLETED). */
        completeFailure?: string;
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
  metrics: Pick<JobMetrics, 'runSubmitted'>;
  log: Logger;
}

/**
 * How long a job's workflow task waits for a run this worker just started
 * (a local command) before handing the wait to the run watcher. A
 * short command then costs what a do-nothing job does: one workflow task,
 * no activity; a long one holds the task this much longer, once.
 */
export const QUICK_RUN_MS = 1000;

export const UNADOPTED_RUNNING =
  'is RUNNING without a saliflow run record (left by saliweb, whose run may still exist): not submitted again; ' +
  'if its run is found on the cluster, `saliflow resubmit` after checking its outputs, or adopt it before starting ' +
  'workers (`saliflow adopt --apply --runner-id JOB=NAME:ID`)';

export function createAdvanceActivity(deps: AdvanceDeps) {
  const { pool, steps, runners, admitter, transitionJob } = deps;

  async function submit(row: JobRow, directory: string, record: CycleRecord): Promise<SubmittedRun> {
    const spec = await steps.run({ ...row, directory }, record.rerun);
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
    await pool.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`${backend.name}:${id}`, row.name]);
    deps.metrics.runSubmitted(spec.kind);
    deps.log.info(`run submitted: ${backend.name}:${id}`, { runner: spec.kind, cycle: record.cycle });
    return run;
  }

  return function advanceJob(input: AdvanceInput): Promise<AdvanceResult> {
    return deps.oneAtATime(input.job, () => withLogContext({ job: input.job }, () => advance(input)));
  };

  async function advance(input: AdvanceInput): Promise<AdvanceResult> {
    const { job } = input;
    let { finished } = input;
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
          const { skipRun } = await steps.preprocess(row);
          if (skipRun) return complete(directory);
          await writeCycleRecord(directory, { cycle: 1 });
          await enter('RUNNING');
          break;
        }
        case 'RUNNING': {
          const directory = await checkJobDirectory(deps.config, job, row.directory);
          const found = await readCycleRecord(directory);
          // saliflow writes the record before it enters RUNNING: a RUNNING row without one is a job saliweb
          // left (it commits RUNNING before it submits), whose run may exist. Never submit it blindly.
          if (found === undefined) throw new JobStateError(job, UNADOPTED_RUNNING);
          const record = found;
          const submitted = record.run === undefined;
          const run = record.run ? { ...record.run, directory } : await submit(row, directory, record);
          progress.lastRun = { cycle: run.cycle, label: `${run.kind}:${run.id}` };
          // A do-nothing run is finished as soon as it is submitted: no wait.
          if (finished?.cycle === run.cycle && finished.failure) throw runFailure(finished.failure);
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
          const post = await steps.postprocess(row, results);
          if (post.reschedule) {
            const rerun = post.data === undefined ? {} : { data: post.data };
            await writeCycleRecord(directory, { cycle: record.cycle + 1, rerun });
            await enter('RUNNING');
          } else {
            await enter('FINALIZING');
          }
          break;
        }
        case 'FINALIZING':
          await steps.finalize(row);
          return complete(await checkJobDirectory(deps.config, job, row.directory));
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
            await steps.complete(row);
            record = { ...record, completeDone: true };
            await writeCompletionRecord(directory, record);
            failpoint('after-complete-step');
          }
          if (!record.emailDone) {
            await steps.sendCompletedEmail(row);
            record = { ...record, emailDone: true };
            await writeCompletionRecord(directory, record);
            failpoint('after-completion-email');
          }
        } catch (error) {
          record = { ...record, failure: describeThrown(error) };
          await writeCompletionRecord(directory, record);
        }
      }
      return record.failure === undefined ? done : { ...done, completeFailure: record.failure };
    }
  }
}
