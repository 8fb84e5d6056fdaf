/**
 * The interface every runner backend implements (do-nothing, local, SGE,
 * SLURM, web service), so the run activities treat them alike and one
 * conformance suite can test them all.
 */
import type { RunResults, RunnerSpec } from '../../core/runner-spec.js';

export interface RunJob {
  name: string;
  directory: string;
  /** 1 for the first run, 2 for the first rescheduled run, … */
  cycle: number;
}

export interface RunHandle extends RunJob {
  /** The scheduler's own id, as `submit` returned it. */
  id: string;
}

export type RunStatus =
  /** Still queued or running. */
  | { state: 'running' }
  /** The scheduler no longer has it; job-state decides success. `detail` explains an abnormal end. */
  | { state: 'finished'; detail?: string; results?: RunResults }
  /** The run itself failed in a way the runner can tell (non-zero exit of a local command). */
  | { state: 'failed'; reason: string }
  /** The scheduler could not say: never taken as finished. */
  | { state: 'unknown'; reason: string };

/** How a run ended, once the scheduler has let go of it. */
export type FinalRunStatus = Exclude<RunStatus, { state: 'running' } | { state: 'unknown' }>;

export interface RunnerBackend<S extends RunnerSpec = RunnerSpec> {
  /** Recorded in `runner_id` as `<name>:<id>`, as saliweb does (e.g. `SGE:123`). */
  readonly name: string;
  readonly kind: S['kind'];
  /** How often waiting runs are checked. */
  readonly pollIntervalMs: number;
  /**
   * Starts the run. Must be exactly-once per (job, cycle): a retry after a
   * crash finds the run already submitted and returns its id.
   */
  submit(job: RunJob, spec: S): Promise<string>;
  /** The status of every handle, with one scheduler query for all of them. */
  status(handles: readonly RunHandle[]): Promise<Map<string, RunStatus>>;
  cancel(handle: RunHandle): Promise<void>;
  /**
   * Whether the run has ended within `withinMs`, known without asking the
   * scheduler (a local process this worker started). Lets a short run
   * finish inside the job's current workflow task instead of a wait
   * activity; backends without such knowledge leave it out.
   */
  endedWithin?(handle: RunHandle, withinMs: number): Promise<boolean>;
}
