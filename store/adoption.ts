/** The rows `saliflow adopt` reads and the one column it sets, when taking over a saliweb service's jobs. */
import type mysql from 'mysql2/promise';
import type { Queryable } from './pool.js';

export interface AdoptionRow {
  name: string;
  user: string | null;
  /** As the row says it: adoption reports a state that is not saliweb's rather than reject the row. */
  state: string;
  runnerId: string | null;
  directory: string | null;
  runTime: Date | null;
}

/** Every job of the service, oldest first. */
export async function jobsToAdopt(db: Queryable): Promise<AdoptionRow[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, user, state, runner_id, directory, run_time FROM jobs ORDER BY submit_time, name',
  );
  return rows.map((row) => ({
    name: row.name as string,
    user: (row.user as string | null) ?? null,
    state: row.state as string,
    runnerId: (row.runner_id as string | null) ?? null,
    directory: (row.directory as string | null) ?? null,
    runTime: (row.run_time as Date | null) ?? null,
  }));
}

/** Records the run the operator named for a job, only while the job is still RUNNING. */
export async function setAdoptedRunnerId(db: Queryable, name: string, runnerId: string): Promise<void> {
  await db.query('UPDATE jobs SET runner_id = ? WHERE name = ? AND state = ?', [runnerId, name, 'RUNNING']);
}

/** The job's directory, or null (no row, or no directory). */
export async function jobDirectory(db: Queryable, name: string): Promise<string | null> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT directory FROM jobs WHERE name = ?', [name]);
  return (rows[0]?.directory as string | null | undefined) ?? null;
}

/** The user of each of the named jobs that has a row. */
export async function usersOfJobs(db: Queryable, names: readonly string[]): Promise<Map<string, string | null>> {
  if (names.length === 0) return new Map();
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT name, user FROM jobs WHERE name IN (?)', [names]);
  return new Map(rows.map((row) => [String(row.name), (row.user as string | null) ?? null]));
}
