/**
 * The contract every runner backend implements (do-nothing, local, SGE,
 * SLURM, web service), so the run activities treat them alike. The
 * behaviours below are what every runner must do; test/integration/
 * runner-conformance.test.ts checks each of them on all five runners (SGE and
 * SLURM on the fake scheduler of test/support/fake-scheduler/, and on the
 * real clusters when they are up).
 *
 * 1. Exactly-once submit per (job, cycle): `submit` called again for the same
 *    job and cycle (a retry after a crash or after the scheduler said "error"
 *    but queued the job anyway) returns the first run's id and starts nothing.
 *    A new cycle is a new run.
 * 2. One status call answers for many runs, with one scheduler query (or a
 *    bounded number) that names only saliflow's runs, never every user's.
 * 3. A status query that fails, times out, prints garbage or is cut short
 *    changes no run: `status` throws or answers `unknown`, and `unknown` is
 *    never taken as finished. (A web service's 200 reply with malformed
 *    results is its final word and fails the run.)
 * 4. A run gone from the queue is `finished` only when its job-state file
 *    says DONE or the scheduler's accounting (or the local exit file) says how
 *    it ended; until then it is `unknown`. A run requeued under the same id
 *    (back to pending) is `running`. (The local runner's accounting is its
 *    exit file and the process table: a dead process without an exit file is
 *    `finished` with a detail saying so.)
 * 5. An ended run that did not write DONE carries a `detail` saying how it
 *    ended (exit status, signal, scheduler state), and `endings` with the
 *    accounting fields it came from.
 * 6. `cancel` of an ended run is a no-op (never an error, never a signal to
 *    a process that now has the same pid); `cancel` of a queued or running
 *    run ends it, except on the web service, whose REST interface has no
 *    cancel (the runner stops asking instead).
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

/**
 * How a scheduler says one run (or one array task) ended, as its accounting
 * printed it: the raw material for typed failure causes. Fields a source does
 * not report are left out.
 */
export interface RunEnding {
  source: 'qacct' | 'scontrol' | 'jobcomp' | 'sacct' | 'exit-file';
  /** The scheduler's job id (the array task's own id on SLURM). */
  jobId: string;
  /** SGE array task number; SLURM ArrayTaskId. */
  task?: string;
  /** SLURM JobState (COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, …). */
  state?: string;
  /** SLURM Reason (NonZeroExitCode, TimeLimit, …). */
  reason?: string;
  /** The job's exit status (SGE exit_status; the first half of SLURM's ExitCode). */
  exitCode?: number;
  /** The signal that ended it (second half of SLURM's ExitCode; SGE exit_status − 128). */
  signal?: number;
  /** SGE `failed`: 0 when the scheduler saw no failure; e.g. 37 for an h_rt/h_vmem kill, 100 after qdel. */
  failedCode?: number;
  failedText?: string;
  maxVmemBytes?: number;
  wallclockSeconds?: number;
  /** The limits the run was submitted with (SGE `-l h_rt`/`h_vmem` from qacct's category; SLURM TimeLimit). */
  requestedWallclockSeconds?: number;
  requestedMemoryBytes?: number;
}

export type RunStatus =
  /** Still queued or running. */
  | { state: 'running' }
  /** The scheduler no longer has it; job-state decides success. `detail` explains an abnormal end. */
  | { state: 'finished'; detail?: string; results?: RunResults; endings?: RunEnding[] }
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
   * How long a run this backend calls `unknown` (gone from the queue, no job-state
   * DONE, no accounting) is waited for before it counts as vanished: it then ends
   * as `finished` with a `vanished: …` detail, and job-state decides (DONE is
   * success, anything else fails the job). A failed status query never counts
   * towards it; the run showing in the queue again (requeued) resets it. Unset:
   * unknown is waited out for ever.
   */
  readonly unknownGraceMs?: number;
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
