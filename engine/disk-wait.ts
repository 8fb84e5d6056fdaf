/**
 * A job whose directory finds no space (ENOSPC, EDQUOT) neither stalls in
 * silence nor fails at the first full disk: its advance returns a wait
 * instead of throwing, the workflow sleeps on a timer with backoff (so
 * cancel, failjob and SIGTERM are never held up by a retry loop) and asks
 * again, and the reason is in the row's `failure` column while it lasts
 * (`list`, `show`) and in the workflow's details (Web UI). The row keeps
 * its state; saliweb's frontends read `failure` only for FAILED jobs.
 */
import { DISK_WAIT_PREFIX } from '../store/disk-wait.js';

export const SPACE_ERRORS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

/** Where a job's wait for space stands; carried by the workflow between attempts. */
export interface DiskWait {
  /** When the first attempt met the full disk (ms since the epoch). */
  since: number;
  attempt: number;
}

const FIRST_RETRY_MS = 5_000;
const LONGEST_RETRY_MS = 5 * 60_000;

/** 5 s, 10 s, 20 s, … up to 5 minutes between attempts. */
export function diskRetryDelayMs(attempt: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempt, 16), LONGEST_RETRY_MS);
}

/** The space error behind `error` (itself or a cause), if it is one. */
export function spaceErrorOf(error: unknown): NodeJS.ErrnoException | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && SPACE_ERRORS.has(code)) return current as NodeJS.ErrnoException;
    current = current.cause;
  }
  return undefined;
}

export function describeWaited(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

export function diskWaitReason(error: NodeJS.ErrnoException, wait: DiskWait, boundHours: number): string {
  const since = new Date(wait.since).toISOString().slice(0, 19).replace('T', ' ');
  return (
    `${DISK_WAIT_PREFIX}${error.message}; retried with backoff (next in ${diskRetryDelayMs(wait.attempt) / 1000} s), ` +
    `since ${since} UTC; the job goes on once space is freed, and fails after ${boundHours} h ([worker] disk_full_hours)`
  );
}
