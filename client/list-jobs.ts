/** `saliflow list`: jobs in given states, as saliweb's admin tool lists them, with why INCOMING jobs wait. */
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import type { JobState } from '../core/states.js';
import { waitingReasons } from '../store/waiting-line.js';
import { jobsInStates, type ListedRow } from '../store/job-listing.js';
import { readJob } from '../store/job-row.js';
import { needsOperator } from '../engine/operator-attention.js';
import { pausedBecause, readServiceControl } from '../store/service-control.js';
import { formatTable, formatTime, parseState } from './format.js';

/** saliweb's default: the states an operator needs to look at. */
export const DEFAULT_LIST_STATES: JobState[] = [
  'FAILED',
  'INCOMING',
  'PREPROCESSING',
  'POSTPROCESSING',
  'FINALIZING',
  'RUNNING',
];

export interface ListedJob extends ListedRow {
  /** For INCOMING jobs: why it is not running yet, computed now from MySQL. */
  waiting?: string;
  /** For a RUNNING job saliweb left without a run record: what the operator may do (engine/operator-attention.ts). */
  needsOperator?: string;
}

/** Validates `states` (any case); a bad name is a UsageError naming it. */
export async function listJobs(
  db: Pick<mysql.Pool, 'query'>,
  states: readonly string[] = DEFAULT_LIST_STATES,
): Promise<ListedJob[]> {
  const wanted = states.map(parseState);
  return (await jobsInStates(db, wanted)).map((row) => ({
    ...row,
    failure: row.failure ? String(row.failure).split('\n')[0]! : null,
  }));
}

/**
 * Why each INCOMING job waits, computed now from MySQL as the admitter
 * sees the line ("5 of 5 running slots taken, 3rd in line", "user alice: 2
 * of 2 running", "waiting for parent job X (RUNNING)", …): two statements
 * for the whole list, no worker needed. A job whose row left INCOMING
 * meanwhile says so. And which RUNNING jobs need an operator, with what to do.
 */
export async function addWaitingReasons(
  db: Pick<mysql.Pool, 'query'>,
  config: ServiceConfig,
  jobs: ListedJob[],
): Promise<void> {
  const incoming = jobs.filter((job) => job.state === 'INCOMING');
  const control = await readServiceControl(db, config);
  const names = incoming.map((job) => job.name);
  const reasons = new Map(
    (await waitingReasons(db, control.limits, { names }, pausedBecause(control))).map((job) => [job.name, job.reason]),
  );
  for (const job of incoming) job.waiting = reasons.get(job.name) ?? 'no longer INCOMING';
  // RUNNING jobs are few (at most [limits] running of saliflow's own): one row read and a file check each.
  for (const job of jobs.filter((listed) => listed.state === 'RUNNING')) {
    const row = await readJob(db, job.name).catch(() => undefined);
    const note = row && (await needsOperator(config, row));
    if (note) job.needsOperator = note;
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
        job.needsOperator ?? '',
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
      job.failure ?? job.waiting ?? job.needsOperator ?? '',
    ]),
  );
}
