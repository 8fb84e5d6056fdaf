/** How many jobs each state holds (the jobs-by-state gauge, engine/job-count-gauge.ts). */
import type mysql from 'mysql2/promise';
import { isJobState, type JobState } from '../core/states.js';

/** One `GROUP BY state`: an index scan, whatever the number of jobs. */
export async function countJobsByState(db: Pick<mysql.Pool, 'query'>): Promise<Partial<Record<JobState, number>>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  const counts: Partial<Record<JobState, number>> = {};
  for (const row of rows) if (isJobState(row.state)) counts[row.state] = Number(row.n);
  return counts;
}
