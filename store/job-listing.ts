/** Reads of the jobs table: one job's state (and user) or existence, and the operator's views (list, show, status, check). */
import type mysql from 'mysql2/promise';
import { IN_FLIGHT_STATES, type JobState } from '../core/states.js';
import type { Queryable } from './pool.js';

export interface ListedRow {
  name: string;
  state: JobState;
  user: string | null;
  submitTime: Date;
  runnerId: string | null;
  failure: string | null;
}

/** The jobs in `states`, oldest first (`states` must not be empty). */
export async function jobsInStates(db: Queryable, states: readonly JobState[]): Promise<ListedRow[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, state, user, submit_time, runner_id, failure FROM jobs WHERE state IN (?) ORDER BY submit_time, name',
    [states],
  );
  return rows.map((row) => ({
    name: String(row.name),
    state: row.state as JobState,
    user: row.user ?? null,
    submitTime: row.submit_time as Date,
    runnerId: row.runner_id ?? null,
    failure: row.failure ?? null,
  }));
}

/** Every column of the job's row as MySQL returns it (dates in UTC), or undefined if there is no row. */
export async function readWholeRow(db: Queryable, name: string): Promise<Record<string, unknown> | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM jobs WHERE name = ?', [name]);
  return rows[0] ? { ...rows[0] } : undefined;
}

/** The job's state as the row says it (unchecked), or undefined if there is no row. */
export async function readJobState(db: Queryable, name: string): Promise<string | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state FROM jobs WHERE name = ?', [name]);
  return rows[0] ? String(rows[0].state) : undefined;
}

/** The job's state (unchecked) and user, or undefined if there is no row. */
export async function readStateAndUser(
  db: Queryable,
  name: string,
): Promise<{ state: string; user: string | null } | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, user FROM jobs WHERE name = ?', [name]);
  if (!rows[0]) return undefined;
  return { state: String(rows[0].state), user: (rows[0].user as string | null) ?? null };
}

/** Whether the jobs table has a row of this name. */
export async function jobExists(db: Queryable, name: string): Promise<boolean> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT 1 FROM jobs WHERE name = ?', [name]);
  return rows.length > 0;
}

/** How many jobs are in each state (states with none are absent). */
export async function countJobsByState(db: Queryable): Promise<Partial<Record<JobState, number>>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  const counts: Partial<Record<JobState, number>> = {};
  for (const row of rows) counts[row.state as JobState] = Number(row.n);
  return counts;
}

export interface UnfinishedJob {
  name: string;
  state: string;
  user: string | null;
}

/** The unfinished jobs (INCOMING or in flight), oldest first: the check looks for those without a workflow. */
export async function unfinishedJobs(db: Queryable): Promise<UnfinishedJob[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, state, user FROM jobs WHERE state IN (?) ORDER BY submit_time, name',
    [['INCOMING', ...IN_FLIGHT_STATES]],
  );
  return rows.map((row) => ({
    name: String(row.name),
    state: String(row.state),
    user: (row.user as string | null) ?? null,
  }));
}

/** The RUNNING jobs' names, run ids and directories (`status` checks them for a missing run record). */
export async function runningJobs(
  db: Queryable,
): Promise<{ name: string; state: 'RUNNING'; runnerId: string | null; directory: string | null }[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name, runner_id, directory FROM jobs WHERE state = 'RUNNING' ORDER BY submit_time, name",
  );
  return rows.map((row) => ({
    name: String(row.name),
    state: 'RUNNING' as const,
    runnerId: row.runner_id ?? null,
    directory: row.directory ?? null,
  }));
}
