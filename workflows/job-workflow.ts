/**
 * One workflow per job (ID `<service>/<job name>`): walks the job through
 * SALIWEB.md's states, one idempotent activity per state change, and the
 * service's steps in between. Deterministic: every side effect is an
 * activity.
 */
import {
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  defineSignal,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { SubmittedRun } from '../activities/run-activities.js';
import { steps, store, submitting, waitingActivities } from './activity-options.js';
import type { JobState } from '../core/states.js';
import type { RerunData } from '../core/service.js';
import { endAsFailed } from './fail-job.js';
import { JOB_STATE } from './search-attributes.js';
import { countState } from './job-metrics.js';

export interface JobWorkflowInput {
  /** The job's name (primary key of `jobs`). */
  job: string;
  /** True when an operator resubmits a FAILED job: it first goes back to INCOMING. */
  resubmit?: boolean;
  /** Admission attempts before the run continues as new (keeps history short). @defaultValue 1000 */
  admissionAttemptsPerRun?: number;
}

/** How a waiting INCOMING job backs off between admission attempts. */
export const ADMISSION_BACKOFF = { firstMs: 500, factor: 1.5, maxMs: 15_000 };
// Each attempt adds ~8 events to the history; start afresh before it grows large.
const ADMISSION_ATTEMPTS_PER_RUN = 1000;

/**
 * Waits, in durable timers, until the job may start ([limits] running,
 * parents, submit order). True when admitted, false when this run should
 * continue as new to keep its history short.
 */
async function waitForAdmission(job: string, attempts: number): Promise<boolean> {
  let delay = ADMISSION_BACKOFF.firstMs;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const { admitted } = await store.tryAdmitJobs(job);
    if (admitted) return true;
    await sleep(delay);
    delay = Math.min(delay * ADMISSION_BACKOFF.factor, ADMISSION_BACKOFF.maxMs);
  }
  return false;
}

/** What `jobStatus` answers, and the Web UI's "current details" line. */
export interface JobStatus {
  state: JobState;
  /** Run cycle (1 for the first run, 2 after one reschedule, …); 0 before any run. */
  cycle: number;
  /** `<runner kind>:<scheduler id>` of the current or last run. */
  run?: string;
}

export const jobStatusQuery = defineQuery<JobStatus>('jobStatus');

function detailsLine(status: JobStatus): string {
  const run = status.run ? `, ${status.state === 'RUNNING' ? 'on' : 'last run'} ${status.run}` : '';
  return `${status.state}${status.cycle > 0 ? ` (cycle ${status.cycle}${run})` : ''}`;
}

/** Operators cancel a job with this signal; its cluster job is deleted and the job ends FAILED. */
export const cancelJobSignal = defineSignal<[reason?: string]>('cancelJob');

export const CANCELLED_BY_ADMIN = 'cancelled by administrator';

export async function jobWorkflow(input: JobWorkflowInput): Promise<JobState> {
  const { job } = input;
  let cancelReason: string | undefined;
  let activeRun: SubmittedRun | undefined;
  const lifecycle = new CancellationScope();
  const waiting = waitingActivities();
  // Per-execution state lives in this closure, never at module level.
  let status: JobStatus = { state: input.resubmit ? 'FAILED' : 'INCOMING', cycle: 0 };
  const show = (update: Partial<JobStatus>) => {
    status = { ...status, ...update };
    setCurrentDetails(detailsLine(status));
  };
  const enter = async (job: string, to: JobState) => {
    await store.transitionJob({ job, to });
    upsertSearchAttributes([{ key: JOB_STATE, value: to }]);
    countState(to);
    show({ state: to });
  };
  setHandler(jobStatusQuery, () => status);
  show({});
  setHandler(cancelJobSignal, (reason) => {
    cancelReason ??= reason ?? CANCELLED_BY_ADMIN;
    lifecycle.cancel();
  });

  try {
    return await lifecycle.run(async () => {
      if (input.resubmit) await enter(job, 'INCOMING');
      const attempts = input.admissionAttemptsPerRun ?? ADMISSION_ATTEMPTS_PER_RUN;
      if (!(await waitForAdmission(job, attempts))) {
        return continueAsNew<typeof jobWorkflow>({ job, admissionAttemptsPerRun: attempts });
      }
      upsertSearchAttributes([{ key: JOB_STATE, value: 'PREPROCESSING' }]);
      countState('PREPROCESSING');
      show({ state: 'PREPROCESSING' });
      const { skipRun } = await steps.preprocess(job);
      if (!skipRun) {
        let rerun: { data?: RerunData } | undefined;
        for (let cycle = 1; ; cycle++) {
          show({ cycle });
          await enter(job, 'RUNNING');
          const spec = await steps.run(job, rerun);
          activeRun = await submitting.submitRun({ job, cycle, spec });
          show({ run: `${activeRun.kind}:${activeRun.id}` });
          const { results } = await waiting.waitForRun({ job, run: activeRun });
          activeRun = undefined;
          await enter(job, 'POSTPROCESSING');
          const post = await steps.postprocess(job, results);
          if (!post.reschedule) break;
          rerun = post.data === undefined ? {} : { data: post.data };
        }
        await enter(job, 'FINALIZING');
        await steps.finalize(job);
      }
      await enter(job, 'COMPLETED');
      await steps.complete(job);
      return 'COMPLETED' as const;
    });
  } catch (error) {
    // Continuing as new is how a long wait ends a run, not a failure.
    if (error instanceof ContinueAsNew) throw error;
    return CancellationScope.nonCancellable(async () => {
      if (cancelReason === undefined) return endAsFailed(job, error);
      if (activeRun) await store.cancelRun({ job, run: activeRun });
      return endAsFailed(job, `JobCancelledError: ${cancelReason}`);
    });
  }
}
