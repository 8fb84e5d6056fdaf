/**
 * The runs of RUNNING jobs as their rows name them: `runner_id`, written when
 * a run is submitted (engine/job-advance.ts), and the scan of the rows that
 * have one (engine/run-watcher.ts).
 */
import type mysql from 'mysql2/promise';
import type { Queryable } from './pool.js';

/** Records the run a job's row names: `<runner>:<id>`, as saliweb writes it. */
export async function recordRunnerId(db: Queryable, job: string, runnerId: string): Promise<void> {
  await db.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [runnerId, job]);
}

export interface RunningJob {
  name: string;
  directory: string | null;
  runnerId: string;
}

/** Every RUNNING job whose row names its run. */
export async function readRunningJobs(db: Queryable): Promise<RunningJob[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name, directory, runner_id FROM jobs WHERE state = 'RUNNING' AND runner_id IS NOT NULL",
  );
  return rows.map((row) => ({
    name: String(row.name),
    directory: (row.directory as string | null) ?? null,
    runnerId: String(row.runner_id),
  }));
}
