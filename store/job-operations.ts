/**
 * The row changes behind the operator's verbs: cancel, delete, failjob,
 * delete-all-jobs and resubmit.
 */
import type mysql from 'mysql2/promise';
import type { JobState } from '../core/states.js';
import type { Queryable } from './pool.js';

export interface JobStateAndRun {
  state: JobState;
  runnerId: string | null;
}

/** The job's state and run, or undefined if there is no row. */
export async function readStateAndRun(db: Queryable, name: string): Promise<JobStateAndRun | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, runner_id FROM jobs WHERE name = ?', [name]);
  if (!rows[0]) return undefined;
  return { state: rows[0].state as JobState, runnerId: (rows[0].runner_id as string | null) ?? null };
}

export interface LockedJob {
  state: string;
  directory: string | null;
  runnerId: string | null;
}

/**
 * The job's row, locked (FOR UPDATE) until `connection`'s transaction ends,
 * so no state change moves the row or its directory while it is deleted.
 */
export async function lockJobForDelete(connection: mysql.PoolConnection, name: string): Promise<LockedJob | undefined> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>(
    'SELECT state, directory, runner_id FROM jobs WHERE name = ? FOR UPDATE',
    [name],
  );
  if (!rows[0]) return undefined;
  return {
    state: String(rows[0].state),
    directory: (rows[0].directory as string | null) ?? null,
    runnerId: (rows[0].runner_id as string | null) ?? null,
  };
}

/**
 * Deletes every `dependencies` row naming the job, as child or as parent
 * (saliweb's deljob does: its children are released, and start once their
 * other parents are done), then its row; in the caller's transaction,
 * holding the row lock. Returns the children released.
 */
export async function deleteJobRows(connection: mysql.PoolConnection, name: string): Promise<string[]> {
  const children = await childrenOf(connection, name);
  await connection.query('DELETE FROM dependencies WHERE child = ? OR parent = ?', [name, name]);
  await connection.query('DELETE FROM jobs WHERE name = ?', [name]);
  return children;
}

/** The jobs that wait for `parent` (their `dependencies` rows name it). */
export async function childrenOf(db: Queryable, parent: string): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT child FROM dependencies WHERE parent = ?', [parent]);
  return rows.map((row) => String(row.child));
}

export interface JobSummaryRow {
  name: string;
  state: JobState;
  runnerId: string | null;
}

/** Every job's name, state and run. */
export async function allJobs(db: Queryable): Promise<JobSummaryRow[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT name, state, runner_id FROM jobs');
  return rows.map((row) => ({
    name: String(row.name),
    state: row.state as JobState,
    runnerId: (row.runner_id as string | null) ?? null,
  }));
}

/**
 * Every job's name and directory, all rows locked (FOR UPDATE) until
 * `connection`'s transaction ends, so no state change moves a directory
 * while every row is deleted.
 */
export async function lockAllJobsForDelete(
  connection: mysql.PoolConnection,
): Promise<{ name: string; directory: string | null }[]> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT name, directory FROM jobs FOR UPDATE');
  return rows.map((row) => ({ name: String(row.name), directory: (row.directory as string | null) ?? null }));
}

/** Deletes every `dependencies` row, then every job row (in the caller's transaction, holding the row locks). */
export async function deleteAllJobRows(connection: mysql.PoolConnection): Promise<void> {
  await connection.query('DELETE FROM dependencies');
  await connection.query('DELETE FROM jobs');
}

/** Whether the job has a row and it is FAILED. */
export async function isJobFailed(db: Queryable, name: string): Promise<boolean> {
  const [rows] = await db.query<mysql.RowDataPacket[]>("SELECT 1 FROM jobs WHERE name = ? AND state = 'FAILED'", [
    name,
  ]);
  return rows.length > 0;
}

/**
 * Takes MySQL's named lock `name` on `connection`, waiting up to
 * `waitSeconds`: true if taken. A named lock belongs to its connection, so
 * the caller releases it (releaseNamedLock) on the same connection.
 */
export async function takeNamedLock(
  connection: mysql.PoolConnection,
  name: string,
  waitSeconds: number,
): Promise<boolean> {
  const [[lock]] = (await connection.query('SELECT GET_LOCK(?, ?) AS got', [name, waitSeconds])) as unknown as [
    [{ got: number | null }],
  ];
  return lock.got === 1;
}

export async function releaseNamedLock(connection: mysql.PoolConnection, name: string): Promise<void> {
  await connection.query('SELECT RELEASE_LOCK(?)', [name]);
}
