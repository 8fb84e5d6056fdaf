/**
 * Accounting lookups for runs that have left the queue, kept out of the
 * shared status poll: `qacct` may need a second or more before its record is
 * flushed, and the poll answers for every waiting run, so a slow lookup must
 * not hold up the others. Each ended run gets at most one lookup in flight,
 * at most `accountingConcurrency` run at once, and the poll waits for them
 * only `accountingWaitMs`; an answer that comes later is read by the next poll.
 */
import type { RunEnding, RunHandle, RunStatus } from './runner.js';
import { readJobStateFile } from './job-state-file.js';

export type LookupAnswer<T> = { found: T } | { waiting: string };

interface Entry<T> {
  running?: Promise<void>;
  found?: T;
  lastError?: string;
  /** When a poll last asked, to forget runs nobody waits for any more. */
  seen: number;
}

export interface AccountingLookups<T> {
  /** The records of each handle once a lookup found them; otherwise why they are still awaited. */
  answers(handles: readonly RunHandle[]): Promise<Map<RunHandle, LookupAnswer<T>>>;
}

const FORGET_AFTER_MS = 10 * 60_000;

const keyOf = (handle: RunHandle) => JSON.stringify([handle.directory, handle.cycle, handle.id]);

export function createAccountingLookups<T>(
  /** Resolves to the records, or undefined while there are none yet. */
  lookup: (handle: RunHandle) => Promise<T | undefined>,
  /** The runner's options (SgeOptions, SlurmOptions) name them so. */
  {
    accountingConcurrency: concurrency = 4,
    accountingWaitMs: waitMs = 300,
  }: { accountingConcurrency?: number; accountingWaitMs?: number } = {},
): AccountingLookups<T> {
  const entries = new Map<string, Entry<T>>();
  let active = 0;
  const queue: (() => void)[] = [];

  async function slot<R>(work: () => Promise<R>): Promise<R> {
    if (active >= concurrency) await new Promise<void>((resolve) => queue.push(resolve));
    active += 1;
    try {
      return await work();
    } finally {
      active -= 1;
      queue.shift()?.();
    }
  }

  function start(key: string, handle: RunHandle, entry: Entry<T>): Promise<void> {
    entry.running = slot(() => lookup(handle))
      .then(
        (found) => {
          if (found !== undefined) entry.found = found;
          else entry.lastError = 'no accounting record yet';
        },
        (error: Error) => {
          entry.lastError = error.message;
        },
      )
      .finally(() => {
        entry.running = undefined;
      });
    entries.set(key, entry);
    return entry.running;
  }

  return {
    async answers(handles) {
      const started: Promise<void>[] = [];
      for (const handle of handles) {
        const key = keyOf(handle);
        const entry = entries.get(key) ?? { seen: 0 };
        entry.seen = Date.now();
        if (entry.found === undefined && !entry.running) started.push(start(key, handle, entry));
      }
      if (started.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(started),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
        ]);
        clearTimeout(timer);
      }
      const answers = new Map<RunHandle, LookupAnswer<T>>();
      for (const handle of handles) {
        const key = keyOf(handle);
        const entry = entries.get(key)!;
        if (entry.found !== undefined) {
          answers.set(handle, { found: entry.found });
          // Answered once: the poller stops asking about a finished run.
          entries.delete(key);
        } else {
          answers.set(handle, { waiting: entry.running ? 'accounting lookup in progress' : entry.lastError! });
        }
      }
      for (const [key, entry] of entries) if (Date.now() - entry.seen > FORGET_AFTER_MS) entries.delete(key);
      return answers;
    },
  };
}

/**
 * The statuses of runs no longer in the queue: `finished` when they wrote DONE (no post-mortem needed: no
 * accounting lookup, and no wait for its flush); otherwise `finished` with their accounting records once found,
 * `unknown` (never finished) while they are awaited.
 */
export async function statusesOfLeftRuns<E extends RunEnding>(
  lookups: AccountingLookups<E[]>,
  left: readonly RunHandle[],
  stillAwaited: (handle: RunHandle, waiting: string) => string,
  describe: (ending: E) => string | undefined,
): Promise<Map<string, RunStatus>> {
  const statuses = new Map<string, RunStatus>();
  const gone: RunHandle[] = [];
  for (const handle of left) {
    if ((await readJobStateFile(handle.directory)) === 'DONE') statuses.set(handle.id, { state: 'finished' });
    else gone.push(handle);
  }
  for (const [handle, answer] of await lookups.answers(gone)) {
    if ('waiting' in answer) {
      statuses.set(handle.id, { state: 'unknown', reason: stillAwaited(handle, answer.waiting) });
      continue;
    }
    const detail = answer.found.map(describe).filter(Boolean).join('; ');
    statuses.set(handle.id, { state: 'finished', endings: answer.found, ...(detail ? { detail } : {}) });
  }
  return statuses;
}
