/** `[worker]`, saliflow's own section: how a worker process stops. */
import type { SectionReader } from './section-reader.js';

export interface WorkerConfig {
  /**
   * On SIGTERM/SIGINT the worker stops polling and gives the steps it runs this
   * long to finish; then it exits, and whatever was cut short runs again on
   * another worker (docs/guarantees.md). A second signal exits at once.
   * @defaultValue 30
   */
  shutdownSeconds: number;
  /**
   * A job whose directory finds no space (ENOSPC, EDQUOT: a full disk or
   * quota) waits, retrying with backoff and saying why, and goes on by itself
   * once space is freed; after this long it fails with DiskFullError.
   * @defaultValue 24
   */
  diskFullHours: number;
  /**
   * Work serialised across workers (an admission round, recording a pause)
   * holds a lease this long (store/lease.ts): a worker frozen while it
   * holds one delays the others by at most this, and its late writes are
   * refused. Longer than any round takes; a round that overruns it is
   * retried, never applied twice.
   * @defaultValue 10
   */
  leaseSeconds: number;
  /**
   * A finished job (COMPLETED, ARCHIVED, FAILED) whose directory is missing at start: `refuse` to start, as
   * saliweb does for any job's missing directory, or `report` it (a warning naming the job) and start; the
   * job is left to the operator (`saliflow check` lists it). Unfinished jobs' missing directories always refuse.
   * @defaultValue 'refuse'
   */
  missingFinishedDirectories: 'refuse' | 'report';
}

export const WORKER_KEYS = [
  'shutdown_seconds',
  'disk_full_hours',
  'lease_seconds',
  'missing_finished_directories',
] as const;

export const DEFAULT_SHUTDOWN_SECONDS = 30;
export const DEFAULT_DISK_FULL_HOURS = 24;
export const DEFAULT_LEASE_SECONDS = 10;

export function readWorkerConfig(section: SectionReader): WorkerConfig {
  return {
    shutdownSeconds: section.positiveNumber('shutdown_seconds') ?? DEFAULT_SHUTDOWN_SECONDS,
    diskFullHours: section.positiveNumber('disk_full_hours') ?? DEFAULT_DISK_FULL_HOURS,
    leaseSeconds: section.positiveNumber('lease_seconds') ?? DEFAULT_LEASE_SECONDS,
    missingFinishedDirectories: readMissingFinished(section),
  };
}

function readMissingFinished(section: SectionReader): 'refuse' | 'report' {
  const text = section.optional('missing_finished_directories')?.trim().toLowerCase();
  if (text === undefined) return 'refuse';
  if (text === 'refuse' || text === 'report') return text;
  throw section.error(
    'missing_finished_directories',
    `${JSON.stringify(text)} is not a choice; write refuse (saliweb's: no start) or report (warn and start)`,
  );
}
