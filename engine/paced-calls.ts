/**
 * Calls a worker makes into Temporal on its own (starts asked for on the
 * frontend socket; signals from the run watcher and the admitter): a few
 * at a time, in order, each tried again with backoff until it succeeds.
 *
 * Such calls come in bursts: a frontend pings as fast as jobs are
 * submitted, and ten thousand runs released at once end within a second.
 * Made as they came, 10,000 starts or signals were in flight at once, and
 * the Temporal server, busy with the jobs already started, timed out 5,792
 * starts and 6,954 signals; the starts' jobs then waited for the reconcile
 * schedule, and the Temporal core's threads held 200 MiB more. Paced, the
 * server's queue stays short, and a failed call (server busy or down)
 * waits for its retry without holding up the others.
 */
import { describeThrown } from '../core/errors.js';

export interface PacedCallsOptions {
  /** Prefixes every log line (what these calls are for). */
  name: string;
  log(message: string): void;
  /** Calls in flight at once. @defaultValue 8 */
  concurrency?: number;
  /** Calls waiting beyond this are dropped (`add` resolves false). @defaultValue 100000 */
  maxPending?: number;
  /** Backoff after a failure: doubles from `firstRetryMs` up to `maxRetryMs`. */
  firstRetryMs?: number;
  maxRetryMs?: number;
  /** A call failing for this long is given up (`add` resolves false). @defaultValue never */
  giveUpAfterMs?: number;
  /** Said when a call is given up or dropped, after the call's description. */
  whatThen?: string;
}

export interface PacedCalls {
  /**
   * Queues `call`, described as `what` in log lines. A call already queued
   * under the same key keeps its place and makes the newer call instead
   * (one start per job, the latest reason for a job). Resolves true once a
   * call under the key succeeded; false if it was given up, dropped or left
   * at close.
   */
  add(key: string, what: string, call: () => Promise<void>): Promise<boolean>;
  /** Calls waiting, waiting to retry or in flight. */
  readonly pending: number;
  /** Stops taking calls and waits for those in flight; the rest resolve false. */
  close(): Promise<void>;
}

interface Entry {
  what: string;
  call: () => Promise<void>;
  attempts: number;
  failingSince?: number;
  settle: ((done: boolean) => void)[];
  /** Added again while its call was in flight: the newer call is made after it. */
  again: boolean;
  running: boolean;
}

export function createPacedCalls(options: PacedCallsOptions): PacedCalls {
  const { name, log, concurrency = 8, maxPending = 100_000 } = options;
  const { firstRetryMs = 1000, maxRetryMs = 30_000, giveUpAfterMs = Infinity } = options;
  const then = options.whatThen ? `; ${options.whatThen}` : '';
  const line: string[] = [];
  const held = new Map<string, Entry>();
  const retryTimers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let closed = false;

  const finish = (key: string, done: boolean) => {
    const entry = held.get(key);
    held.delete(key);
    for (const settle of entry?.settle ?? []) settle(done);
  };

  function pump(): void {
    while (!closed && inFlight.size < concurrency && line.length > 0) {
      const key = line.shift()!;
      const attempt = callOnce(key).finally(() => {
        inFlight.delete(attempt);
        pump();
      });
      inFlight.add(attempt);
    }
  }

  async function callOnce(key: string): Promise<void> {
    const entry = held.get(key)!;
    entry.attempts += 1;
    entry.running = true;
    const waiting = entry.settle.length;
    try {
      await entry.call();
      entry.running = false;
      if (!entry.again) return finish(key, true);
      // Those who added before this call started are answered; the newer call goes to the back of the line.
      for (const settle of entry.settle.splice(0, waiting)) settle(true);
      Object.assign(entry, { again: false, attempts: 0, failingSince: undefined });
      line.push(key);
    } catch (error) {
      entry.running = false;
      entry.again = false;
      if (closed) return;
      const now = Date.now();
      entry.failingSince ??= now;
      if (now - entry.failingSince >= giveUpAfterMs) {
        log(`${name}: gave up (${entry.what}) after ${entry.attempts} attempts${then}: ${describeThrown(error)}`);
        return finish(key, false);
      }
      if (entry.attempts === 1)
        log(`${name}: ${entry.what}: ${describeThrown(error)} (trying again, every ${maxRetryMs / 1000} s at most)`);
      const timer = setTimeout(
        () => {
          retryTimers.delete(timer);
          line.push(key);
          pump();
        },
        Math.min(firstRetryMs * 2 ** (entry.attempts - 1), maxRetryMs),
      );
      retryTimers.add(timer);
    }
  }

  return {
    add(key, what, call) {
      return new Promise<boolean>((settle) => {
        if (closed) return settle(false);
        const queued = held.get(key);
        if (queued) {
          Object.assign(queued, { what, call, again: queued.running });
          queued.settle.push(settle);
          return;
        }
        if (held.size >= maxPending) {
          if (dropped++ === 0) log(`${name}: ${maxPending} calls wait; dropping more${then}`);
          return settle(false);
        }
        held.set(key, { what, call, attempts: 0, settle: [settle], again: false, running: false });
        line.push(key);
        pump();
      });
    },
    get pending() {
      return held.size;
    },
    async close() {
      closed = true;
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      await Promise.all(inFlight);
      if (held.size > 0) log(`${name}: ${held.size} call(s) not made${then}`);
      if (dropped > 1) log(`${name}: dropped ${dropped} calls while ${maxPending} waited`);
      for (const key of [...held.keys()]) finish(key, false);
    },
  };
}
