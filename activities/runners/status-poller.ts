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
import type { RunHandle, RunnerBackend, RunStatus } from './runner.js';

type Final = Exclude<RunStatus, { state: 'running' } | { state: 'unknown' }>;

interface Waiter {
  handle: RunHandle;
  resolve(status: Final): void;
  reject(error: Error): void;
  onUnknown?: (reason: string) => void;
}

export interface StatusPoller {
  /** Resolves when the scheduler reports the run finished or failed. */
  wait(handle: RunHandle, options?: { signal?: AbortSignal; onUnknown?: (reason: string) => void }): Promise<Final>;
  /** How many status queries were made (for tests and metrics). */
  readonly queries: number;
  close(): void;
}

export function createStatusPoller(backend: RunnerBackend): StatusPoller {
  const waiters = new Map<string, Waiter[]>();
  let timer: NodeJS.Timeout | undefined;
  let queries = 0;

  async function tick(): Promise<void> {
    timer = undefined;
    const handles = [...waiters.values()].map((list) => list[0]!.handle);
    if (handles.length === 0) return;
    queries += 1;
    let statuses: Map<string, RunStatus>;
    try {
      statuses = await backend.status(handles);
    } catch (error) {
      const reason = (error as Error).message;
      statuses = new Map(handles.map((handle) => [handle.id, { state: 'unknown', reason }]));
    }
    for (const [id, status] of statuses) {
      const list = waiters.get(id);
      if (!list) continue;
      if (status.state === 'running') continue;
      if (status.state === 'unknown') {
        for (const waiter of list) waiter.onUnknown?.(status.reason);
        continue;
      }
      waiters.delete(id);
      for (const waiter of list) waiter.resolve(status);
    }
    schedule();
  }

  function schedule(): void {
    if (timer === undefined && waiters.size > 0) timer = setTimeout(() => void tick(), backend.pollIntervalMs);
  }

  return {
    wait(handle, { signal, onUnknown } = {}) {
      return new Promise<Final>((resolve, reject) => {
        const waiter: Waiter = { handle, resolve, reject, ...(onUnknown ? { onUnknown } : {}) };
        const list = waiters.get(handle.id) ?? [];
        list.push(waiter);
        waiters.set(handle.id, list);
        signal?.addEventListener('abort', () => {
          const remaining = (waiters.get(handle.id) ?? []).filter((other) => other !== waiter);
          if (remaining.length > 0) waiters.set(handle.id, remaining);
          else waiters.delete(handle.id);
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
