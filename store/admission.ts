/**
 * The rows an admission round reads and writes (engine/admission.ts): the
 * slots in flight, the fenced move of admitted jobs to PREPROCESSING, and
 * what the admitter asks about waiting jobs (their place in line, admitted
 * jobs whose workflow has not moved on).
 */
import type mysql from 'mysql2/promise';
import { JOB_HOSTS_TABLE } from '../core/schema.js';
import { IN_FLIGHT_STATES } from '../core/states.js';
import { createJobHostsTableSql } from './tables.js';
import { fence, type Lease } from './lease.js';
import type { Queryable } from './pool.js';

const NO_SUCH_TABLE = 1146;

/** The slots taken: the rows in flight, whatever happened to their workflows. */
export async function countInFlightJobs(db: Queryable): Promise<number> {
  const [[active]] = (await db.query('SELECT COUNT(*) AS n FROM jobs WHERE state IN (?)', [
    IN_FLIGHT_STATES,
  ])) as unknown as [[{ n: number }]];
  return Number(active.n);
}

/**
 * Moves the INCOMING jobs among `names` to PREPROCESSING in one statement;
 * returns how many rows it changed. Fenced by `lease`: a worker stalled
 * after its reads (their counts are stale by then) changes nothing if
 * another took the lease over. With `workerHost` (track_hostname), a second
 * statement records it for the round's jobs in saliflow's own table, never
 * in `hostname`: saliweb's frontend stores the submitter's address there and
 * the backend never writes it.
 */
export async function admitJobs(
  db: Queryable,
  names: readonly string[],
  lease: Lease,
  workerHost: string | undefined,
): Promise<number> {
  const fenced = fence(lease);
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE jobs SET state = 'PREPROCESSING', preprocess_time = UTC_TIMESTAMP()
          WHERE state = 'INCOMING' AND name IN (?) AND ${fenced.sql}`,
    [names, ...fenced.params],
  );
  if (workerHost !== undefined && result.affectedRows > 0) {
    const record = () =>
      db.query(
        `INSERT INTO ${JOB_HOSTS_TABLE} (name, host, admitted_at)
           SELECT name, ?, UTC_TIMESTAMP() FROM jobs WHERE name IN (?) AND state = 'PREPROCESSING'
           ON DUPLICATE KEY UPDATE host = VALUES(host), admitted_at = VALUES(admitted_at)`,
        [workerHost, names],
      );
    try {
      await record();
    } catch (error) {
      // A database made by an older saliflow (or before `db create-tables` made it): made on first use.
      if ((error as { errno?: number }).errno !== NO_SUCH_TABLE) throw error;
      await db.query(createJobHostsTableSql());
      await record();
    }
  }
  return result.affectedRows;
}

/** The worker host that admitted `job`, if recorded (track_hostname). */
export async function readJobHost(db: Queryable, job: string): Promise<string | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT host FROM ${JOB_HOSTS_TABLE} WHERE name = ?`, [job]);
  return rows[0] ? String(rows[0].host) : undefined;
}

/** How many INCOMING jobs were submitted before `job` (by submit time, then name). */
export async function countJobsAhead(db: Queryable, job: string): Promise<number> {
  // A count says a job is far back in line without ranking the whole line.
  const [[{ ahead }]] = (await db.query(
    `SELECT COUNT(*) AS ahead FROM jobs o, jobs me WHERE me.name = ? AND o.state = 'INCOMING'
          AND (o.submit_time < me.submit_time OR (o.submit_time = me.submit_time AND o.name < me.name))`,
    [job],
  )) as unknown as [[{ ahead: number }]];
  return Number(ahead);
}

/** The jobs among `names` that are still INCOMING. */
export async function stillIncoming(db: Queryable, names: readonly string[]): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name FROM jobs WHERE state = 'INCOMING' AND name IN (?)",
    [names],
  );
  return rows.map((row) => String(row.name));
}

/**
 * Admitted jobs whose directory is still in INCOMING's folder (`directoryPattern`,
 * a LIKE pattern), oldest admission first, at most `limit`: one that waited
 * (admitted well after it was submitted) 2 s after admission, one admitted as
 * it arrived after 30 s.
 */
export async function admittedNotMoved(db: Queryable, directoryPattern: string, limit: number): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT name FROM jobs WHERE state = 'PREPROCESSING' AND directory LIKE ?
         AND preprocess_time < UTC_TIMESTAMP() - INTERVAL 2 SECOND
         AND (preprocess_time > submit_time + INTERVAL 5 SECOND OR preprocess_time < UTC_TIMESTAMP() - INTERVAL 30 SECOND)
         ORDER BY preprocess_time LIMIT ?`,
    [directoryPattern, limit],
  );
  return rows.map((row) => String(row.name));
}
