/**
 * Shares one status query per poll interval among every run waiting in this
 * worker, so a thousand running jobs cost the scheduler one `qstat` (or
 * `squeue`) per interval, not a thousand.
 *
 * Alternatives measured against: one poller workflow per cluster that
 * signals job workflows (one query too, but a second moving part whose own
 * failure stalls every job), and one query per waiting activity (simple, but
 * the load grows with the job count). Per-worker batching keeps each job's
 * wait a plain heartbeating activity that resumes on another worker after a
 * crash, while the query count stays bounded by the number of workers.
 */
import type { FinalRunStatus as Final, RunHandle, RunnerBackend, RunStatus } from './runner.js';
import type { OutageEvent } from '../../store/status-outages.js';

interface Waiter {
  resolve(status: Final): void;
  reject(error: Error): void;
  onUnknown?: (reason: string) => void;
}

/** The waits for one run: a scheduler id alone may repeat across jobs or cycles (local pids, reset clusters). */
interface Run {
  handle: RunHandle;
  waiters: Waiter[];
  /** Since when the backend has called the run unknown, and its last word on it. */
  unknown?: { since: number; reason: string };
}

export interface StatusPoller {
  /** Resolves when the scheduler reports the run finished or failed. */
  wait(handle: RunHandle, options?: { signal?: AbortSignal; onUnknown?: (reason: string) => void }): Promise<Final>;
  /** How many status queries were made (for tests and metrics). */
  readonly queries: number;
  close(): void;
}

function runKey(handle: RunHandle): string {
  return JSON.stringify([handle.name, handle.cycle, handle.id]);
}

/**
 * Splits runs into as few batches as possible with no scheduler id twice in
 * one batch: a backend answers by id, so two runs sharing an id must be
 * asked about in separate queries. Almost always one batch.
 */
function batchesByDistinctId(runs: readonly Run[]): Run[][] {
  const batches: { ids: Set<string>; runs: Run[] }[] = [];
  for (const run of runs) {
    let batch = batches.find((candidate) => !candidate.ids.has(run.handle.id));
    if (!batch) {
      batch = { ids: new Set(), runs: [] };
      batches.push(batch);
    }
    batch.ids.add(run.handle.id);
    batch.runs.push(run);
  }
  return batches.map((batch) => batch.runs);
}

/** Told of every status query: how long it took, and whether the scheduler answered. */
export type QueryObserver = (seconds: number, ok: boolean) => void;

export type { OutageEvent };

/** A cluster runner's names, poll interval and unknown-status grace (from its config section's seconds). */
export function clusterPolling<K extends string>(
  name: string,
  kind: K,
  config: { pollSeconds: number; unknownGraceSeconds: number },
) {
  return { name, kind, pollIntervalMs: config.pollSeconds * 1000, unknownGraceMs: config.unknownGraceSeconds * 1000 };
}

/** Failed queries in a row that make an outage: one failure is a blip, logged per run already. */
export const OUTAGE_AFTER = 5;

export function createStatusPoller(
  backend: RunnerBackend,
  onQuery: QueryObserver = () => undefined,
  onOutage: (event: OutageEvent) => void = () => undefined,
): StatusPoller {
  const runs = new Map<string, Run>();
  let timer: NodeJS.Timeout | undefined;
  let queries = 0;
  /** The failures in a row so far, since when, and whether the outage was raised. */
  let failing: { since: Date; failures: number; raised: boolean } | undefined;

  function queryFailed(error: string): void {
    failing ??= { since: new Date(), failures: 0, raised: false };
    failing.failures += 1;
    if (!failing.raised && failing.failures >= OUTAGE_AFTER) {
      failing.raised = true;
      onOutage({ state: 'down', since: failing.since, failures: failing.failures, error });
    }
  }

  function queryAnswered(): void {
    if (failing?.raised) onOutage({ state: 'up', since: failing.since, failures: failing.failures });
    failing = undefined;
  }

  async function query(batch: readonly Run[]): Promise<void> {
    queries += 1;
    let statuses: Map<string, RunStatus>;
    const started = performance.now();
    let answered = true;
    try {
      statuses = await backend.status(batch.map((run) => run.handle));
      onQuery((performance.now() - started) / 1000, true);
      queryAnswered();
    } catch (error) {
      onQuery((performance.now() - started) / 1000, false);
      answered = false;
      const reason = (error as Error).message;
      queryFailed(reason);
      statuses = new Map(batch.map((run) => [run.handle.id, { state: 'unknown', reason }]));
    }
    for (const asked of batch) {
      const status = statuses.get(asked.handle.id);
      const key = runKey(asked.handle);
      // Waits cancelled during the query are gone; read the current list.
      const run = runs.get(key);
      if (!status || !run) continue;
      if (status.state === 'running') {
        // Back in the queue (a requeue under the same id): followed, not failed.
        delete run.unknown;
        continue;
      }
      let final: Final;
      if (status.state === 'unknown') {
        // Only the scheduler's own "no trace of it" counts towards vanished: an outage of the query never does.
        if (answered) run.unknown = { since: run.unknown?.since ?? Date.now(), reason: status.reason };
        const grace = backend.unknownGraceMs;
        if (!answered || grace === undefined || run.unknown === undefined || Date.now() - run.unknown.since < grace) {
          const since = run.unknown ? `; unknown since ${new Date(run.unknown.since).toISOString()}` : '';
          for (const waiter of run.waiters) waiter.onUnknown?.(`${status.reason}${since}`);
          continue;
        }
        final = {
          state: 'finished',
          detail:
            `vanished: neither the queue nor accounting has known run ${run.handle.id} since ` +
            `${new Date(run.unknown.since).toISOString()} (${Math.round(grace / 1000)} s, unknown_grace_seconds); ` +
            `last evidence: ${run.unknown.reason}`,
        };
      } else {
        final = status;
      }
      runs.delete(key);
      for (const waiter of run.waiters) waiter.resolve(final);
    }
  }

  async function tick(): Promise<void> {
    timer = undefined;
    for (const batch of batchesByDistinctId([...runs.values()])) await query(batch);
    schedule();
  }

  function schedule(): void {
    if (timer === undefined && runs.size > 0) timer = setTimeout(() => void tick(), backend.pollIntervalMs);
  }

  return {
    wait(handle, { signal, onUnknown } = {}) {
      return new Promise<Final>((resolve, reject) => {
        if (signal?.aborted)
          return reject(signal.reason instanceof Error ? signal.reason : new Error('wait cancelled'));
        const key = runKey(handle);
        const waiter: Waiter = { resolve, reject, ...(onUnknown ? { onUnknown } : {}) };
        const run = runs.get(key) ?? { handle, waiters: [] };
        run.waiters.push(waiter);
        runs.set(key, run);
        signal?.addEventListener('abort', () => {
          const current = runs.get(key);
          if (current) {
            current.waiters = current.waiters.filter((other) => other !== waiter);
            if (current.waiters.length === 0) runs.delete(key);
          }
          reject(signal.reason instanceof Error ? signal.reason : new Error('wait cancelled'));
        });
        schedule();
      });
    },
    get queries() {
      return queries;
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
