/**
 * Waits for the runs of a service's jobs without an activity per run: the
 * status poller asks each scheduler once per interval about every run this
 * worker watches, and the watcher signals a job's workflow (`runEnded`)
 * when its run ends. While runs go on, waiting costs the Temporal server
 * nothing: no heartbeats, no timers, no cached workflows. A heartbeating
 * activity per run cost the dev server about 0.35 ms of CPU per second per
 * run, which ten thousand runs in flight would exceed two cores with.
 *
 * Who watches what: a local run is watched on its host, a cluster or
 * web-service run by every worker (the workflow takes the first signal for
 * its run and ignores the others). A run is handed over by the
 * `advanceJob` that submitted (or found) it, and found again by a scan of
 * the RUNNING rows, at start and every `scanEveryMs`: after a restart, or
 * when the worker that submitted it died.
 */
import type { RunEnded, RunUnknown } from '../core/job-workflow-contract.js';
import { describeThrown, RunDiedError, RunFailedError } from '../core/errors.js';
import type { RunResults } from '../core/runner-spec.js';
import type { Pool } from '../store/pool.js';
import { readRunningJobs } from '../store/run-watch.js';
import { readCycleRecord, type SubmittedRun } from './run-cycle-record.js';
import { runnerFor, type RunnerRegistry } from './runners/index.js';

export interface RunWatcherDeps {
  pool: Pool;
  runners: RunnerRegistry;
  hostId: string;
  awaitRun(
    job: string,
    run: SubmittedRun,
    options: { signal: AbortSignal; onUnknown: (reason: string) => void },
  ): Promise<{ results?: RunResults }>;
  /**
   * Tells the job's workflow, paced and retried (paced-calls.ts); true once delivered. A job without a
   * workflow is not an error (reconcile starts one). Not delivered: the next scan tries again.
   */
  signal(job: string, ended: RunEnded): Promise<boolean>;
  /** Tells the job's workflow its run is unknown to the scheduler (shown in `show` and the Web UI). */
  tellUnknown?(job: string, unknown: RunUnknown): void;
  warn(message: string): void;
  scanEveryMs?: number;
}

export type RunWatcher = ReturnType<typeof createRunWatcher>;

export function createRunWatcher(deps: RunWatcherDeps) {
  const { pool, runners, hostId, scanEveryMs = 30_000 } = deps;
  /** Runs being waited for, by job: the `runner_id` they have in the row, and how to stop waiting. */
  const watching = new Map<string, { runnerId: string; local: boolean; stop: AbortController }>();
  /** Runs whose end was delivered, by job, so a scan does not signal them again while the job moves on. */
  const delivered = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const runnerIdOf = (run: SubmittedRun) => `${runnerFor(runners, run.kind).name}:${run.id}`;
  const visibleHere = (run: SubmittedRun) =>
    run.kind !== 'do-nothing' && (run.kind !== 'local' || (run.host ?? hostId) === hostId);

  async function endOf(job: string, run: SubmittedRun, stop: AbortSignal): Promise<RunEnded | undefined> {
    const id = { cycle: run.cycle, id: run.id };
    try {
      // Once per distinct reason, not once per poll interval: an outage of an hour is one line, not 720.
      let told: string | undefined;
      const { results } = await deps.awaitRun(job, run, {
        signal: stop,
        onUnknown: (reason) => {
          if (reason === told) return;
          told = reason;
          deps.warn(`status of ${job}'s run ${run.id} unknown, still waiting: ${reason}`);
          // The scheduler's own "no trace" (not a failed query, which the outage warning covers once for all runs).
          if (/unknown since /.test(reason)) deps.tellUnknown?.(job, { cycle: run.cycle, id: run.id, reason });
        },
      });
      return { ...id, ...(results ? { results } : {}) };
    } catch (error) {
      if (stop.aborted) return undefined;
      if (error instanceof RunFailedError) return { ...id, failure: { type: error.name, message: error.message } };
      if (error instanceof RunDiedError) {
        const cause = error.runCause ? { cause: error.runCause } : {};
        return { ...id, failure: { type: error.name, message: error.message, ...cause } };
      }
      // Not the run's fault (a file system hiccup): the next scan or advance tries again.
      deps.warn(`could not learn how ${job}'s run ${run.id} ended: ${describeThrown(error)}`);
      return undefined;
    }
  }

  async function follow(job: string, run: SubmittedRun, runnerId: string, stop: AbortController): Promise<void> {
    const ended = await endOf(job, run, stop.signal);
    if (ended && !stop.signal.aborted && (await deps.signal(job, ended)) && !stop.signal.aborted) {
      delivered.set(job, runnerId);
    }
    if (watching.get(job)?.stop === stop) watching.delete(job);
  }

  /** Waits for `run` of `job` (again, even if its end was told before: a new workflow run may be waiting). */
  function watch(job: string, run: SubmittedRun): void {
    if (closed || !visibleHere(run)) return;
    const runnerId = runnerIdOf(run);
    const current = watching.get(job);
    if (current?.runnerId === runnerId) return;
    current?.stop.abort();
    delivered.delete(job);
    const stop = new AbortController();
    watching.set(job, { runnerId, local: run.kind === 'local', stop });
    void follow(job, run, runnerId, stop);
  }

  /** Picks up RUNNING rows nobody here waits for yet; forgets jobs that moved on. */
  async function scan(): Promise<void> {
    const rows = await readRunningJobs(pool);
    const running = new Map(rows.map((row) => [row.name, row]));
    for (const [job, entry] of watching) {
      if (running.get(job)?.runnerId !== entry.runnerId) {
        entry.stop.abort();
        watching.delete(job);
      }
    }
    for (const job of delivered.keys()) if (!running.has(job)) delivered.delete(job);
    for (const row of rows) {
      const seen = watching.get(row.name)?.runnerId ?? delivered.get(row.name);
      if (seen === row.runnerId || row.directory === null) continue;
      try {
        const run = (await readCycleRecord(row.directory))?.run;
        if (run) watch(row.name, { ...run, directory: row.directory });
      } catch (error) {
        deps.warn(`cannot read the run record of ${row.name} in ${row.directory}: ${describeThrown(error)}`);
      }
    }
  }

  async function scanForever(): Promise<void> {
    timer = undefined;
    try {
      await scan();
    } catch (error) {
      deps.warn(`could not scan the RUNNING jobs for their runs (will retry): ${describeThrown(error)}`);
    }
    if (!closed) timer = setTimeout(() => void scanForever(), scanEveryMs);
  }

  return {
    watch,
    /** Starts the periodic scan (the first one at once). */
    start(): void {
      if (!closed && timer === undefined) void scanForever();
    },
    /** How many runs are being waited for now (for tests and metrics). */
    get watched(): number {
      return watching.size;
    },
    /** How many of them are local runs on this host (a draining worker waits for these: nobody else can). */
    get localRuns(): number {
      return [...watching.values()].filter((entry) => entry.local).length;
    },
    /** Picks up the RUNNING rows now rather than at the next periodic scan. */
    scanNow: (): Promise<void> => scan(),
    close(): void {
      closed = true;
      clearTimeout(timer);
      for (const entry of watching.values()) entry.stop.abort();
      watching.clear();
    },
  };
}
