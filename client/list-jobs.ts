/** `saliflow list`: jobs in given states, as saliweb's admin tool lists them, with why INCOMING jobs wait. */
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import type { JobState } from '../core/states.js';
import { formatTable, formatTime, parseState } from './cli-support.js';
import { queryJobStatus } from './job-workflows.js';
import type { ProgressReport } from './progress.js';

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
  /** For INCOMING jobs: why it is not running yet, as its workflow says (or why it cannot say). */
  waiting?: string;
}

/** Validates `states` (any case); a bad name is a UsageError naming it. */
export async function listJobs(
  db: Pick<mysql.Pool, 'query'>,
  states: readonly string[] = DEFAULT_LIST_STATES,
): Promise<ListedJob[]> {
  const wanted = states.map(parseState);
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

/** How many `jobStatus` queries are in flight at once (each waits at most a few seconds). */
const QUERY_CONCURRENCY = 16;

/**
 * Asks the workflow of each INCOMING job why it waits (the `jobStatus`
 * query's `waiting`): "5 of 5 running slots taken, 3rd in line", "waiting
 * for parent job X (RUNNING)", … The answer is the job's own, from when it
 * last asked for a slot.
 */
export async function addWaitingReasons(
  client: Client,
  config: ServiceConfig,
  jobs: ListedJob[],
  progress?: ProgressReport,
): Promise<void> {
  const incoming = jobs.filter((job) => job.state === 'INCOMING');
  progress?.phase('asking waiting jobs why', incoming.length);
  for (let start = 0; start < incoming.length; start += QUERY_CONCURRENCY) {
    await Promise.all(
      incoming.slice(start, start + QUERY_CONCURRENCY).map(async (job) => {
        const answer = await queryJobStatus(client, config, job.name);
        if ('unavailable' in answer) job.waiting = answer.unavailable;
        else if (answer.status.waiting) job.waiting = answer.status.waiting;
        else if (answer.status.state !== 'INCOMING') job.waiting = `now ${answer.status.state}`;
        else job.waiting = 'asking for a slot';
        progress?.tick();
      }),
    );
  }
}

/** One line per job, fields separated by two spaces (stable for `grep`/`awk`; --json for programs). */
export function formatJobs(jobs: readonly ListedJob[]): string {
  if (jobs.length === 0) return 'no jobs in those states';
  return jobs
    .map((job) =>
      [
        formatTime(job.submitTime),
        job.state.padEnd(14),
        job.name,
        job.user ?? '-',
        job.runnerId ?? '',
        job.failure ?? '',
        job.waiting ?? '',
      ]
        .filter((part) => part !== '')
        .join('  '),
    )
    .join('\n');
}

/** Aligned columns with a header, for a terminal. */
export function formatJobsTable(jobs: readonly ListedJob[]): string {
  if (jobs.length === 0) return 'no jobs in those states';
  return formatTable(
    ['SUBMITTED (UTC)', 'STATE', 'NAME', 'USER', 'RUN', 'WHY'],
    jobs.map((job) => [
      formatTime(job.submitTime),
      job.state,
      job.name,
      job.user ?? '-',
      job.runnerId ?? '-',
      job.failure ?? job.waiting ?? '',
    ]),
  );
}
