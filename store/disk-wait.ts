/** A job's wait for disk space, kept in its row's `failure` column (engine/disk-wait.ts). */
import type { Queryable } from './pool.js';

/** Every reason written here starts so; only such a reason is ever cleared. */
export const DISK_WAIT_PREFIX = 'waiting for disk space: ';

/** The reason, on a row still on its way (never on a finished or failed one). */
export async function recordDiskWait(db: Queryable, job: string, reason: string): Promise<void> {
  await db.query(
    "UPDATE jobs SET failure = ? WHERE name = ? AND state NOT IN ('FAILED', 'COMPLETED', 'ARCHIVED', 'EXPIRED')",
    [reason, job],
  );
}

/** Space came back: the reason goes, and only that reason. */
export async function clearDiskWait(db: Queryable, job: string): Promise<void> {
  await db.query("UPDATE jobs SET failure = NULL WHERE name = ? AND state <> 'FAILED' AND failure LIKE ?", [
    job,
    `${DISK_WAIT_PREFIX}%`,
  ]);
}
