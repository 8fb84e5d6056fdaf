/**
 * What every entry point and the job workflow agree on: how a job's
 * workflow is named, what it is started with, how it is labelled in the
 * Web UI, and the names of its signals and query. The one place these are
 * written (client/, worker/, activities/ and workflows/ all import it).
 */
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type QueryDefinition,
  type SearchAttributePair,
  type SignalDefinition,
} from '@temporalio/common';
import type { RunResults } from './runner-spec.js';
import type { RunCauseReport } from './run-causes.js';
import type { JobState } from './states.js';
import { WORKFLOW_FAILURE } from './errors.js';
import { formatLimit } from './text.js';

export const JOB_STATE = defineSearchAttributeKey('JobState', SearchAttributeType.KEYWORD);
export const JOB_SERVICE = defineSearchAttributeKey('JobService', SearchAttributeType.KEYWORD);
export const JOB_USER = defineSearchAttributeKey('JobUser', SearchAttributeType.KEYWORD);

export const JOB_WORKFLOW_TYPE = 'jobWorkflow';

/** Workflow ID of a job: `<service name>/<job name>`. */
export function jobWorkflowId(serviceName: string, job: string): string {
  return `${serviceName}/${job}`;
}

export interface JobWorkflowInput {
  /** The job's name (primary key of `jobs`). */
  job: string;
  /** True when an operator resubmits a FAILED job: it first goes back to INCOMING. */
  resubmit?: boolean;
}

/** Search attributes a job's run starts with (every run of the ID: job, archive, expire). */
export function jobSearchAttributes(serviceName: string, state: JobState, user: string | null): SearchAttributePair[] {
  return [
    { key: JOB_SERVICE, value: serviceName },
    { key: JOB_STATE, value: state },
    ...(user ? [{ key: JOB_USER, value: user }] : []),
  ];
}

/** The Web UI's one-line summary of a job's run. */
export function jobSummary(serviceName: string, job: string, user: string | null, what = 'job'): string {
  return `${serviceName} ${what} ${job}${user ? ` for ${user}` : ''}`;
}

/** Signal: the admitter moved this job to PREPROCESSING; its workflow goes on. */
export const ADMITTED_SIGNAL = 'admitted';
/** Signal (with the reason): why the INCOMING job waits now; the admitter refreshes the first jobs in line. */
export const WAITING_SIGNAL = 'waiting';
/**
 * Signal: an operator cancels the job (its run is deleted, the job ends
 * FAILED). With `{ stopOnly: true }` (delete, failjob) the run is deleted
 * and the workflow ends without touching the row, which the operator's
 * command changes next; it ends Failed with the type STOPPED_FAILURE_TYPE.
 */
export const CANCEL_SIGNAL = 'cancelJob';
export interface CancelOptions {
  stopOnly?: boolean;
}
/** The failure type of a workflow that deleted its run and ended on a `stopOnly` cancel. */
export const STOPPED_FAILURE_TYPE = WORKFLOW_FAILURE.stopped;
/** Signal: the job's run ended (sent by the run watcher of a worker that can see it). */
export const RUN_ENDED_SIGNAL = 'runEnded';
/**
 * Signal (a RunUnknown): the scheduler has no trace of the job's current run
 * and it waits out `unknown_grace_seconds` before ending as vanished; shown in
 * `show` and the Web UI while it lasts.
 */
export const RUN_UNKNOWN_SIGNAL = 'runUnknown';
export interface RunUnknown {
  cycle: number;
  id: string;
  /** `unknown since …, last evidence …`. */
  reason: string;
}
/** Query: the job's state, cycle, current run and why it waits. */
export const JOB_STATUS_QUERY = 'jobStatus';

export const CANCELLED_BY_ADMIN = 'cancelled by administrator';

/**
 * How a run ended, as the run watcher tells the job's workflow. `cycle` and
 * `id` name the run, so a late signal about an earlier run (or an earlier
 * workflow run of a resubmitted job) is never taken for the current one.
 */
export type RunEnded = { cycle: number; id: string } & ({ results?: RunResults } | { failure: RunFailure });

/** How a run failed: the error that fails the job, if its row still waits for that run. */
export interface RunFailure {
  type: 'RunFailedError' | 'RunDiedError';
  message: string;
  /** The run's typed cause, when saliflow could tell (absent in signals sent by older workers). */
  cause?: RunCauseReport;
}

/**
 * Signal sent by earlier versions' `advanceJob` to its own workflow of a
 * step running inside the advance. Nothing sends it now (each step is the
 * `runStep` activity, shown by the workflow as it hands it over); the
 * workflow keeps a handler so that runs recorded with it replay.
 */
export const PROGRESS_SIGNAL = 'progress';

/** A service step in progress, as `jobStatus`, the Web UI and `show` give it. */
export interface RunningStep {
  /** `preprocess`, `run`, `rerun`, `postprocess`, `finalize`, `complete`, … */
  name: string;
  /** ISO time (UTC) the step was called. */
  startedAt: string;
  /** Its limit (`stepTimeouts`): past it, the job fails with StepTimeoutError. */
  timeoutMs: number;
  /** Which `stepTimeouts` key set the limit (`default` when none names the step). */
  limitKey: string;
}

export interface JobProgress {
  /** The row's state when the step started or ended (committed before the signal). */
  state: JobState;
  /** The step running; none once a reported step has ended. */
  step?: RunningStep;
}

export { formatLimit };

/** `preprocess since 2026-12-04 19:20:01 UTC (limit 60 min, stepTimeouts.default)`. */
export function describeStep(step: RunningStep): string {
  const since = step.startedAt.slice(0, 19).replace('T', ' ');
  return `${step.name} since ${since} UTC (limit ${formatLimit(step.timeoutMs)}, stepTimeouts.${step.limitKey})`;
}

/** What `jobStatus` answers, and the Web UI's "current details" line. */
export interface JobStatus {
  state: JobState;
  /** Run cycle (1 for the first run, 2 after one reschedule, …); 0 before any run. */
  cycle: number;
  /** `<runner kind>:<scheduler id>` of the current or last run. */
  run?: string;
  /** Why an INCOMING job is not running yet. */
  waiting?: string;
  /** The current run is in no queue and no accounting: since when, and the last evidence. */
  unknown?: string;
  /** The current run is a retry by cause (`retryOn`): `retries: memory_exceeded 1/3 (…), after …`. */
  retry?: string;
  /** The service step running now, if any (set by the workflow as it hands the step to its activity). */
  step?: RunningStep;
}

/** Waiting for cluster and web-service runs: cheap heartbeating activities that must not take the slots steps need. */
export function waitQueue(taskQueue: string): string {
  return `${taskQueue}-waits`;
}

/** Local runs of one worker host: waited for and cancelled where the process runs. */
export function hostQueue(taskQueue: string, hostId: string): string {
  return `${taskQueue}-host-${hostId}`;
}

/*
 * The signals and the query, typed once: the workflow sets its handlers with
 * these, and every sender (client/, activities/) signals or queries with
 * them, so a name or an argument that disagrees is a compile error.
 */
// What the SDK's defineSignal/defineQuery return (their brands are types only); core does not import the workflow SDK.
const signal = <Args extends unknown[]>(name: string) => ({ type: 'signal', name }) as SignalDefinition<Args>;

export const jobStatusQuery = { type: 'query', name: JOB_STATUS_QUERY } as QueryDefinition<JobStatus>;
/** Operators cancel a job with this signal; its run is deleted and the job ends FAILED. */
export const cancelJobSignal = signal<[reason?: string, options?: CancelOptions]>(CANCEL_SIGNAL);
export const admittedSignal = signal<[]>(ADMITTED_SIGNAL);
/** The admitter's fresh account of why the job waits (for the Web UI and `jobStatus`). */
export const waitingSignal = signal<[reason: string]>(WAITING_SIGNAL);
/** From the run watcher of a worker that sees the run (see engine/run-watcher.ts). */
export const runEndedSignal = signal<[RunEnded]>(RUN_ENDED_SIGNAL);
/** The run watcher: the current run is unknown to the scheduler, waited out before it counts as vanished. */
export const runUnknownSignal = signal<[RunUnknown]>(RUN_UNKNOWN_SIGNAL);
/** Replay only (see PROGRESS_SIGNAL). */
export const progressSignal = signal<[JobProgress]>(PROGRESS_SIGNAL);
