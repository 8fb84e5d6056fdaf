/** `saliflow list`: jobs in given states, as saliweb's admin tool lists them. */
import type mysql from 'mysql2/promise';
import { isJobState, type JobState } from '../core/states.js';

/** saliweb's default: the states an operator needs to look at. */
export const DEFAULT_LIST_STATES: JobState[] = [
  'FAILED',
  'INCOMING',
  'PREPROCESSING',
  'POSTPROCESSING',
  'FINALIZING',
  'RUNNING',
];

export interface ListedJob {
  name: string;
  state: JobState;
  user: string | null;
  submitTime: Date;
  runnerId: string | null;
  /** First line of `failure`, for FAILED jobs. */
  failure: string | null;
}

export async function listJobs(
  db: Pick<mysql.Pool, 'query'>,
  states: readonly string[] = DEFAULT_LIST_STATES,
): Promise<ListedJob[]> {
  const wanted = states.map((state) => state.toUpperCase());
  const unknown = wanted.filter((state) => !isJobState(state));
  if (unknown.length > 0) {
    throw new Error(
      `unknown state(s) ${unknown.join(', ')}; use any of INCOMING, PREPROCESSING, RUNNING, POSTPROCESSING, FINALIZING, COMPLETED, ARCHIVED, EXPIRED, FAILED`,
    );
  }
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, state, user, submit_time, runner_id, failure FROM jobs WHERE state IN (?) ORDER BY submit_time, name',
    [wanted],
  );
  return rows.map((row) => ({
    name: String(row.name),
    state: row.state as JobState,
    user: row.user ?? null,
    submitTime: row.submit_time as Date,
    runnerId: row.runner_id ?? null,
    failure: row.failure ? String(row.failure).split('\n')[0]! : null,
  }));
}

export function formatJobs(jobs: readonly ListedJob[]): string {
  if (jobs.length === 0) return 'no jobs in those states';
  return jobs
    .map((job) =>
      [
        job.submitTime.toISOString().replace('T', ' ').slice(0, 19),
        job.state.padEnd(14),
        job.name,
        job.user ?? '-',
        job.runnerId ?? '',
        job.failure ?? '',
      ]
        .filter((part) => part !== '')
        .join('  '),
    )
    .join('\n');
}
