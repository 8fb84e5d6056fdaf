/**
 * The frontend socket's job starts: in arrival order, a few at a time, each
 * retried until it succeeds. A saliweb frontend pings and hangs up at once,
 * so pings arrive as fast as jobs are submitted; starting each as it
 * arrived put ten thousand StartWorkflowExecution calls in flight in a
 * burst, and the Temporal server, busy with the jobs already started,
 * timed 5,792 of them out (their rows then waited for the reconcile
 * schedule, up to `check_minutes`). A handful of starts at a time keeps the
 * server's queue short; a start that fails (server busy or down, MySQL
 * away) is tried again later, with backoff, without holding up the others.
 */
import { describeThrown } from '../core/errors.js';

export interface StartQueueOptions {
  /** Starts one job's workflow (or decides it needs none); throws if it could not. */
  start(job: string): Promise<void>;
  log(message: string): void;
  /** Starts in flight at once. @defaultValue 8 */
  concurrency?: number;
  /** Pings waiting beyond this are dropped (the reconcile schedule starts those jobs). @defaultValue 100000 */
  maxPending?: number;
  /** Backoff after a failed start: doubles from `firstRetryMs` up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** A job whose start has failed for this long is left to the reconcile schedule. @defaultValue 600000 */
  giveUpAfterMs?: number;
}

export interface StartQueue {
  add(job: string): void;
  /** Jobs waiting for their start or a retry, and starts in flight. */
  readonly pending: number;
  /** Stops taking jobs and waits for the starts in flight; the rest are left to reconcile. */
  close(): Promise<void>;
}

export function createStartQueue(options: StartQueueOptions): StartQueue {
  const { start, log, concurrency = 8, maxPending = 100_000 } = options;
  const { firstRetryMs = 1000, maxRetryMs = 30_000, giveUpAfterMs = 600_000 } = options;
  const line: string[] = [];
  /** Every job the queue holds (in line, in flight or waiting to retry), with its first failure's time. */
  const held = new Map<string, { attempts: number; failingSince?: number }>();
  const retryTimers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let closed = false;

  function pump(): void {
    while (!closed && inFlight.size < concurrency && line.length > 0) {
      const job = line.shift()!;
      const attempt = startOnce(job).finally(() => {
        inFlight.delete(attempt);
        pump();
      });
      inFlight.add(attempt);
    }
  }

  async function startOnce(job: string): Promise<void> {
    const entry = held.get(job)!;
    entry.attempts += 1;
    try {
      await start(job);
      held.delete(job);
    } catch (error) {
      if (closed) return;
      const now = Date.now();
      entry.failingSince ??= now;
      if (now - entry.failingSince >= giveUpAfterMs) {
        held.delete(job);
        log(
          `frontend socket: gave up starting job ${job} after ${entry.attempts} attempts; ` +
            `the reconcile schedule will start it: ${describeThrown(error)}`,
        );
        return;
      }
      const delay = Math.min(firstRetryMs * 2 ** (entry.attempts - 1), maxRetryMs);
      if (entry.attempts === 1) {
        log(
          `frontend socket: job ${job}: ${describeThrown(error)} (trying again every ${maxRetryMs / 1000} s at most)`,
        );
      }
      const timer = setTimeout(() => {
        retryTimers.delete(timer);
        line.push(job);
        pump();
      }, delay);
      retryTimers.add(timer);
    }
  }

  return {
    add(job) {
      if (closed || held.has(job)) return;
      if (held.size >= maxPending) {
        if (dropped++ === 0)
          log(
            `frontend socket: ${maxPending} jobs wait to be started; dropping pings (the reconcile schedule starts them)`,
          );
        return;
      }
      held.set(job, { attempts: 0 });
      line.push(job);
      pump();
    },
    get pending() {
      return held.size;
    },
    async close() {
      closed = true;
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      await Promise.all(inFlight);
      const left = held.size;
      if (left > 0) log(`frontend socket: ${left} job(s) not started yet are left to the reconcile schedule`);
      if (dropped > 1) log(`frontend socket: dropped ${dropped} pings while the start queue was full`);
    },
  };
}
