/** What the maintenance workflows read: jobs due to be archived or expired, and jobs the reconcile schedule checks. */
import type mysql from 'mysql2/promise';
import { IN_FLIGHT_STATES } from '../core/states.js';
import type { Queryable } from './pool.js';

export interface JobAndUser {
  name: string;
  user: string | null;
}

/** A job whose archive or expiry time has come. */
export type DueJob = JobAndUser;

function jobsAndUsers(rows: mysql.RowDataPacket[]): JobAndUser[] {
  return rows.map((row) => ({ name: String(row.name), user: row.user ?? null }));
}

/** COMPLETED jobs whose archive time has come, the longest due first, at most `limit`. */
export async function jobsDueForArchive(db: Queryable, limit: number): Promise<DueJob[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name, user FROM jobs WHERE state = 'COMPLETED' AND archive_time <= UTC_TIMESTAMP() ORDER BY archive_time LIMIT ?",
    [limit],
  );
  return jobsAndUsers(rows);
}

/** ARCHIVED jobs whose expiry time has come, the longest due first, at most `limit`. */
export async function jobsDueForExpiry(db: Queryable, limit: number): Promise<DueJob[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name, user FROM jobs WHERE state = 'ARCHIVED' AND expire_time <= UTC_TIMESTAMP() ORDER BY expire_time LIMIT ?",
    [limit],
  );
  return jobsAndUsers(rows);
}

export interface JobToReconcile extends JobAndUser {
  state: string;
  directory: string | null;
  runnerId: string | null;
}

/** The unfinished jobs (INCOMING or in flight) with their users, oldest first: each needs an open workflow. */
export async function jobsToReconcile(db: Queryable): Promise<JobToReconcile[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, user, state, directory, runner_id FROM jobs WHERE state IN (?) ORDER BY submit_time, name',
    [['INCOMING', ...IN_FLIGHT_STATES]],
  );
  return rows.map((row) => ({
    name: String(row.name),
    user: row.user ?? null,
    state: String(row.state),
    directory: row.directory ?? null,
    runnerId: row.runner_id ?? null,
  }));
}
