/**
 * Outages of a scheduler's status query (qstat, squeue, … failing interval
 * after interval), as each worker saw them, in a small saliflow table of the
 * service's own database, `saliflow_status_outages`: `saliflow status`
 * shows a current outage and the last recovery from any worker. The table
 * is created by the first outage (`CREATE TABLE IF NOT EXISTS`); a reader
 * that finds none sees no outage.
 */
import type mysql from 'mysql2/promise';
import { OUTAGES_TABLE } from '../core/schema.js';
import type { Queryable } from './pool.js';

/**
 * An outage of a runner's status query (engine/runners/status-poller.ts): raised once when it has failed (failed,
 * timed out, printed nothing or garbage) `OUTAGE_AFTER` times in a row, ended once when it answers again. Runs stay
 * where they were throughout.
 */
export type OutageEvent =
  { state: 'down'; since: Date; failures: number; error: string } | { state: 'up'; since: Date; failures: number };

export { OUTAGES_TABLE };

export const CREATE_OUTAGES_TABLE = `CREATE TABLE IF NOT EXISTS ${OUTAGES_TABLE} (
  runner VARCHAR(32) NOT NULL,
  worker VARCHAR(255) NOT NULL,
  since DATETIME NOT NULL,
  failures INT UNSIGNED NOT NULL,
  last_error TEXT NULL,
  recovered_at DATETIME NULL,
  PRIMARY KEY (runner, worker)
)`;

export interface StatusOutage {
  runner: string;
  worker: string;
  since: Date;
  failures: number;
  lastError: string | null;
  /** Null while the outage lasts. */
  recoveredAt: Date | null;
}

/** Records the start (`down`) or end (`up`) of an outage seen by `worker`. */
export async function recordStatusOutage(
  db: Queryable,
  runner: string,
  worker: string,
  event: OutageEvent,
): Promise<void> {
  await db.query(CREATE_OUTAGES_TABLE);
  if (event.state === 'down') {
    await db.query(
      `REPLACE INTO ${OUTAGES_TABLE} (runner, worker, since, failures, last_error, recovered_at) VALUES (?, ?, ?, ?, ?, NULL)`,
      [runner, worker, event.since, event.failures, event.error.slice(0, 2000)],
    );
  } else {
    await db.query(`UPDATE ${OUTAGES_TABLE} SET recovered_at = ?, failures = ? WHERE runner = ? AND worker = ?`, [
      new Date(),
      event.failures,
      runner,
      worker,
    ]);
  }
}

/** Every worker's last outage per runner; none when no outage was ever recorded. */
export async function readStatusOutages(db: Queryable): Promise<StatusOutage[]> {
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT runner, worker, since, failures, last_error, recovered_at FROM ${OUTAGES_TABLE} ORDER BY since`,
    );
    return rows.map((row) => ({
      runner: row.runner as string,
      worker: row.worker as string,
      since: row.since as Date,
      failures: Number(row.failures),
      lastError: row.last_error as string | null,
      recoveredAt: row.recovered_at as Date | null,
    }));
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_NO_SUCH_TABLE') return [];
    throw error;
  }
}

/** The `saliflow status` lines: every outage going on, and recoveries of the last day. */
export function describeStatusOutages(outages: readonly StatusOutage[], now = new Date()): string[] {
  return outages
    .filter((outage) => !outage.recoveredAt || now.getTime() - outage.recoveredAt.getTime() < 86_400_000)
    .map((outage) =>
      outage.recoveredAt
        ? `${outage.runner} status queries recovered at ${outage.recoveredAt.toISOString()} ` +
          `(failing since ${outage.since.toISOString()}, seen by ${outage.worker})`
        : `${outage.runner} status queries FAILING since ${outage.since.toISOString()} ` +
          `(${outage.failures}+ in a row, seen by ${outage.worker}); runs stay as they were: ${outage.lastError ?? ''}`,
    );
}
