/**
 * saliflow's own Prometheus metrics, recorded through the Temporal SDK's
 * metric meter so they share the worker's one endpoint with the SDK's own
 * (`temporal_*`). Every metric carries the service as the `service` label.
 *
 * They are recorded in activities and in the worker, never in workflow code:
 * a state change is counted where its row changed (`changed` in
 * transitionJob, the admitter's UPDATE), which a retried or replayed call
 * never repeats. Nothing here costs an SQL statement: times in a state come
 * from the row the caller already read, and the jobs-by-state gauge is one
 * GROUP BY every few seconds per worker (job-count-gauge.ts).
 */
import type { MetricMeter } from '@temporalio/common';
import { JOB_STATES, type JobState } from '../core/states.js';
import { isRunCauseKind, RUN_CAUSE_KINDS, type RunCauseKind } from '../core/run-causes.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricDefinition {
  name: string;
  kind: MetricKind;
  help: string;
  /** Labels besides `service`. */
  labels: readonly string[];
  /** For histograms: bucket upper bounds. */
  buckets?: readonly number[];
}

/** Seconds, from a fast step to a long cluster run or a long wait in line. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400];
/** A qstat/squeue call: milliseconds to a slow scheduler's minute-long timeout. */
const QUERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Every metric saliflow defines; the Grafana dashboard may plot only these (and the SDK's). */
export const SALIFLOW_METRICS = [
  {
    name: 'saliflow_jobs',
    kind: 'gauge',
    help: 'Jobs in the jobs table, by state (refreshed by each worker every few seconds)',
    labels: ['state'],
  },
  {
    name: 'saliflow_job_state_entered',
    kind: 'counter',
    help: 'State changes made by this worker, by the state entered',
    labels: ['state'],
  },
  {
    name: 'saliflow_job_failures',
    kind: 'counter',
    help: 'Jobs this worker moved to FAILED, by cause',
    labels: ['cause'],
  },
  {
    name: 'saliflow_job_state_seconds',
    kind: 'histogram',
    help: 'Time a job spent in a state, recorded when it leaves the state',
    labels: ['state'],
    buckets: DURATION_BUCKETS,
  },
  {
    name: 'saliflow_admission_wait_seconds',
    kind: 'histogram',
    help: 'Time from submission (INCOMING) to admission',
    labels: [],
    buckets: DURATION_BUCKETS,
  },
  {
    name: 'saliflow_runs_ended',
    kind: 'counter',
    help: 'Cluster and local runs that ended, by typed cause (succeeded, walltime_exceeded, memory_exceeded, vanished, …)',
    labels: ['cause'],
  },
  {
    name: 'saliflow_status_query_outage',
    kind: 'gauge',
    help: 'Whether this worker sees the scheduler status query failing many intervals in a row (1) or not (0), by runner',
    labels: ['runner'],
  },
  {
    name: 'saliflow_runs_submitted',
    kind: 'counter',
    help: 'Runs submitted, by runner (sge, slurm, local, web-service, do-nothing)',
    labels: ['runner'],
  },
  {
    name: 'saliflow_status_queries',
    kind: 'counter',
    help: 'Scheduler status queries (one qstat/squeue/… per poll for every waiting run), by runner and outcome',
    labels: ['runner', 'outcome'],
  },
  {
    name: 'saliflow_status_query_seconds',
    kind: 'histogram',
    help: 'Latency of a scheduler status query',
    labels: ['runner'],
    buckets: QUERY_BUCKETS,
  },
  {
    name: 'saliflow_disk_full_retries',
    kind: 'counter',
    help: 'Attempts of a job that found no space for its directory (ENOSPC, EDQUOT) and waits, by errno',
    labels: ['code'],
  },
] as const satisfies readonly MetricDefinition[];

/**
 * `saliflow_build_info{version}`, always 1: which saliflow a worker process runs. Not in
 * SALIFLOW_METRICS: it is the process's (one series, no service label), set by worker/main.ts.
 */
export const BUILD_INFO_HELP = 'Always 1; its version label is the saliflow the worker process runs';

export type SaliflowMetricName = (typeof SALIFLOW_METRICS)[number]['name'];

/** For `Runtime.install`: the SDK's exporter takes bucket bounds per metric name. */
export function histogramBuckets(): Record<string, number[]> {
  const buckets: Record<string, number[]> = {};
  for (const metric of SALIFLOW_METRICS as readonly MetricDefinition[]) {
    if (metric.buckets) buckets[metric.name] = [...metric.buckets];
  }
  return buckets;
}

/** Why a job failed, from the error type its failure text starts with. */
export const FAILURE_CAUSES = ['step_exception', 'run_failed', 'run_died', 'cancelled', 'bad_input', 'other'] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

const CAUSE_OF_ERROR: Record<string, FailureCause> = {
  ServiceStepError: 'step_exception',
  StepInterruptedError: 'step_exception',
  StepTimeoutError: 'step_exception',
  RunnerSpecError: 'step_exception',
  RunFailedError: 'run_failed',
  RunDiedError: 'run_died',
  JobCancelledError: 'cancelled',
  // A malformed row or directory: the job's input, not the service or the infrastructure.
  JobStateError: 'bad_input',
  InvalidTransitionError: 'bad_input',
  SchemaError: 'bad_input',
};

/** `failure` is the text stored in the row: `<ErrorType>: message\nstack…`. */
export function failureCause(failure: string): FailureCause {
  const type = /^([A-Za-z]\w*):/.exec(failure)?.[1];
  return (type !== undefined && Object.hasOwn(CAUSE_OF_ERROR, type) ? CAUSE_OF_ERROR[type] : undefined) ?? 'other';
}

/**
 * The typed cause a job's failure text names (`RunDiedError: job a: run cause memory_exceeded (…)`),
 * or undefined when it names none (a step failed, or an older worker wrote it).
 */
export function runCauseOfFailure(failure: string): RunCauseKind | undefined {
  const kind = /^RunDiedError: .*?\brun cause (\w+)/.exec(failure)?.[1];
  return isRunCauseKind(kind) ? kind : undefined;
}

export interface StateChange {
  from: JobState;
  to: JobState;
  /** When the job entered `from`, if known (the row's timestamp, or the caller's clock). */
  since?: Date | null;
  /** For FAILED: the failure text. */
  failure?: string;
}

export interface JobMetrics {
  /** A row changed state (once per change: callers report only changes they made). */
  stateChanged(change: StateChange): void;
  /** The admitter moved these jobs INCOMING → PREPROCESSING. */
  admitted(jobs: readonly { submitTime: Date | null }[]): void;
  runSubmitted(runner: string): void;
  /** A run ended with this typed cause, and the job moved on (failed, was retried, or postprocesses). */
  runEnded(cause: RunCauseKind): void;
  statusQueried(runner: string, seconds: number, ok: boolean): void;
  /** A job found no space for its directory and waits (each attempt). */
  diskFull(code: string): void;
  /** The runner's status query is in an outage (true) or answers again (false). */
  statusOutage(runner: string, down: boolean): void;
  /** Sets the jobs-by-state gauge; states absent from `counts` are set to 0. */
  jobCounts(counts: Partial<Record<JobState, number>>): void;
}

export const NO_METRICS: JobMetrics = {
  stateChanged: () => undefined,
  admitted: () => undefined,
  runSubmitted: () => undefined,
  runEnded: () => undefined,
  statusQueried: () => undefined,
  diskFull: () => undefined,
  statusOutage: () => undefined,
  jobCounts: () => undefined,
};

const secondsSince = (since: Date, now: number) => Math.max(0, (now - since.getTime()) / 1000);

export function createJobMetrics(meter: MetricMeter, service: string): JobMetrics {
  const tagged = meter.withTags({ service });
  const help = (name: SaliflowMetricName) => SALIFLOW_METRICS.find((metric) => metric.name === name)!.help;
  const seconds = (name: SaliflowMetricName) => tagged.createHistogram(name, 'float', 's', help(name));
  const jobs = tagged.createGauge('saliflow_jobs', 'int', 'jobs', help('saliflow_jobs'));
  const entered = tagged.createCounter('saliflow_job_state_entered', 'jobs', help('saliflow_job_state_entered'));
  const failures = tagged.createCounter('saliflow_job_failures', 'jobs', help('saliflow_job_failures'));
  const inState = seconds('saliflow_job_state_seconds');
  const admissionWait = seconds('saliflow_admission_wait_seconds');
  const outage = tagged.createGauge(
    'saliflow_status_query_outage',
    'int',
    'outage',
    help('saliflow_status_query_outage'),
  );
  const runsEnded = tagged.createCounter('saliflow_runs_ended', 'runs', help('saliflow_runs_ended'));
  const submitted = tagged.createCounter('saliflow_runs_submitted', 'runs', help('saliflow_runs_submitted'));
  const queries = tagged.createCounter('saliflow_status_queries', 'queries', help('saliflow_status_queries'));
  const queryTime = seconds('saliflow_status_query_seconds');

  const diskFull = tagged.createCounter('saliflow_disk_full_retries', 'attempts', help('saliflow_disk_full_retries'));

  // Every cause from the start, so a first failure shows as an increase (rate() needs two points).
  for (const cause of FAILURE_CAUSES) failures.add(0, { cause });
  for (const code of ['ENOSPC', 'EDQUOT']) diskFull.add(0, { code });
  for (const cause of RUN_CAUSE_KINDS) runsEnded.add(0, { cause });

  return {
    stateChanged({ from, to, since, failure }) {
      entered.add(1, { state: to });
      if (since) inState.record(secondsSince(since, Date.now()), { state: from });
      if (to === 'FAILED') failures.add(1, { cause: failureCause(failure ?? '') });
      // Counted where the row moved on from the run, so a run is counted once, whichever worker saw it end.
      if (from === 'RUNNING' && to === 'POSTPROCESSING') runsEnded.add(1, { cause: 'succeeded' });
      const cause = from === 'RUNNING' && to === 'FAILED' ? runCauseOfFailure(failure ?? '') : undefined;
      if (cause) runsEnded.add(1, { cause });
    },
    runEnded(cause) {
      runsEnded.add(1, { cause });
    },
    admitted(admittedJobs) {
      const now = Date.now();
      for (const { submitTime } of admittedJobs) {
        entered.add(1, { state: 'PREPROCESSING' });
        if (!submitTime) continue;
        const wait = secondsSince(submitTime, now);
        admissionWait.record(wait);
        inState.record(wait, { state: 'INCOMING' });
      }
    },
    runSubmitted(runner) {
      submitted.add(1, { runner });
    },
    statusQueried(runner, seconds, ok) {
      queries.add(1, { runner, outcome: ok ? 'ok' : 'error' });
      queryTime.record(seconds, { runner });
    },
    diskFull(code) {
      diskFull.add(1, { code });
    },
    statusOutage(runner, down) {
      outage.set(down ? 1 : 0, { runner });
    },
    jobCounts(counts) {
      for (const state of JOB_STATES) jobs.set(counts[state] ?? 0, { state });
    },
  };
}
