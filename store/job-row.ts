/** Reading a `jobs` row, validated once where it enters the program. */
import type mysql from 'mysql2/promise';
import { JobStateError } from '../core/errors.js';
import { isJobState, STATE_TIMESTAMP, type JobState } from '../core/states.js';
import { BUILTIN_COLUMNS } from '../core/schema.js';
import type { Metadata } from '../core/service.js';
import type { Queryable } from './pool.js';

export interface JobRow {
  name: string;
  user: string | null;
  contactEmail: string | null;
  directory: string | null;
  url: string;
  state: JobState;
  runnerId: string | null;
  failure: string | null;
  /** When the row was inserted: with the name, tells this job from an earlier one of the same name. */
  submitTime: Date | null;
  /** The service's own columns. */
  metadata: Metadata;
  /** When the job entered its state, from the row's timestamp for it (null for FAILED, or if unset). */
  since: Date | null;
}

/** The column recording when a job entered `state`: saliweb's per-state timestamps, submit_time for INCOMING. */
function sinceColumn(state: JobState): string | undefined {
  return state === 'INCOMING' ? 'submit_time' : state === 'ARCHIVED' ? 'archive_time' : STATE_TIMESTAMP[state];
}

export async function readJob(db: Queryable, name: string, { forUpdate = false } = {}): Promise<JobRow> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT * FROM jobs WHERE name = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  );
  const row = rows[0];
  if (!row) throw new JobStateError(name, 'no such row in the jobs table (was it deleted?)');
  if (!isJobState(row.state)) throw new JobStateError(name, `row has unknown state "${String(row.state)}"`);
  const metadata: Metadata = {};
  for (const [key, value] of Object.entries(row)) {
    if (!(BUILTIN_COLUMNS as readonly string[]).includes(key)) metadata[key] = value as Metadata[string];
  }
  return {
    name: String(row.name),
    user: row.user ?? null,
    contactEmail: row.contact_email ?? null,
    directory: row.directory ?? null,
    url: String(row.url),
    state: row.state,
    runnerId: row.runner_id ?? null,
    failure: row.failure ?? null,
    submitTime: row.submit_time instanceof Date && !Number.isNaN(row.submit_time.getTime()) ? row.submit_time : null,
    metadata,
    since: sinceOf(row, row.state),
  };
}

function sinceOf(row: mysql.RowDataPacket, state: JobState): Date | null {
  const column = sinceColumn(state);
  const value: unknown = column ? row[column] : undefined;
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value : null;
}

/** Where a job's row says its directory is, and its state. */
export interface JobDirectory {
  name: string;
  state: string;
  directory: string;
}

/** Every job that has a directory (the consistency check compares them with the state folders). */
export async function readJobDirectories(db: Queryable): Promise<JobDirectory[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT name, state, directory FROM jobs WHERE directory IS NOT NULL',
  );
  return rows.map((row) => ({ name: String(row.name), state: String(row.state), directory: String(row.directory) }));
}
