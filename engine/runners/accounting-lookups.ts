/**
 * Accounting lookups for runs that have left the queue, kept out of the
 * shared status poll: `qacct` may need a second or more before its record is
 * flushed, and the poll answers for every waiting run, so a slow lookup must
 * not hold up the others. Each ended run gets at most one lookup in flight,
 * at most `concurrency` run at once, and the poll waits for them only
 * `waitMs`; an answer that comes later is read by the next poll.
 */
import type { RunHandle } from './runner.js';

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
  { concurrency = 4, waitMs = 300 }: { concurrency?: number; waitMs?: number } = {},
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
