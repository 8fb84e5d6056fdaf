/**
 * The row side of a job's change of state (engine/job-transitions.ts moves
 * the directory and holds the transaction): the columns each state sets,
 * the conditional update of the fast path, the update under the row lock,
 * and the release of the children waiting on a completed job.
 */
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import { STATE_TIMESTAMP, type JobState } from '../core/states.js';
import type { Queryable } from './pool.js';

/** The columns a change to `to` sets besides state and directory (SALIWEB.md "States and transitions"). */
function rowChanges(config: ServiceConfig, to: JobState, failure: string): { sets: string[]; values: unknown[] } {
  const sets: string[] = [];
  const values: unknown[] = [];
  const timestamp = STATE_TIMESTAMP[to];
  // saliweb sets run_time when the job first runs; a reschedule (POSTPROCESSING → RUNNING) keeps it (a resubmit clears it).
  if (timestamp === 'run_time') sets.push('run_time = COALESCE(run_time, UTC_TIMESTAMP())');
  else if (timestamp) sets.push(`${timestamp} = UTC_TIMESTAMP()`);
  if (to === 'COMPLETED') {
    const delays: [string, number | null][] = [
      ['archive_time', config.oldjobs.archiveMs],
      ['expire_time', config.oldjobs.expireMs],
    ];
    for (const [column, ms] of delays) {
      if (ms === null) {
        sets.push(`${column} = NULL`);
      } else {
        sets.push(`${column} = DATE_ADD(UTC_TIMESTAMP(), INTERVAL ? SECOND)`);
        values.push(Math.round(ms / 1000));
      }
    }
  }
  if (to === 'FAILED') {
    sets.push('failure = ?');
    values.push(failure);
  }
  if (to === 'INCOMING') {
    sets.push(
      'failure = NULL',
      'runner_id = NULL',
      'preprocess_time = NULL',
      'run_time = NULL',
      'postprocess_time = NULL',
      'finalize_time = NULL',
      'end_time = NULL',
      'archive_time = NULL',
      'expire_time = NULL',
    );
  }
  return { sets, values };
}

/**
 * Changes job `job` from `from` to `to` if its row is still in `from`, leaving
 * its directory as it is (no row lock taken first: the WHERE is the check).
 * True if this statement made the change. Not for FAILED or INCOMING.
 */
export async function changeStateIfStill(
  db: Queryable,
  config: ServiceConfig,
  job: string,
  from: JobState,
  to: JobState,
): Promise<boolean> {
  const { sets, values } = rowChanges(config, to, '');
  const update = `UPDATE jobs SET state = ?${sets.map((set) => `, ${set}`).join('')} WHERE name = ? AND state = ?`;
  const [result] = await db.query<mysql.ResultSetHeader>(update, [to, ...values, job, from]);
  return result.affectedRows === 1;
}

/**
 * Changes job `job` to `to` with its directory now at `directory`: the caller
 * holds the row lock (read `FOR UPDATE` on this connection) and has checked
 * the transition. `failure` is stored for FAILED.
 */
export async function changeJobState(
  connection: mysql.PoolConnection,
  config: ServiceConfig,
  job: string,
  to: JobState,
  directory: string | null,
  failure: string,
): Promise<void> {
  const { sets, values } = rowChanges(config, to, failure);
  await connection.query(`UPDATE jobs SET ${['state = ?', 'directory = ?', ...sets].join(', ')} WHERE name = ?`, [
    to,
    directory,
    ...values,
    job,
  ]);
}

/** Records where job `job`'s directory is now, its state unchanged (the caller holds the row lock). */
export async function setJobDirectory(
  connection: mysql.PoolConnection,
  job: string,
  directory: string | null,
): Promise<void> {
  await connection.query('UPDATE jobs SET directory = ? WHERE name = ?', [directory, job]);
}

/** A completed job's children no longer wait on it: in the transaction that completes it. */
export async function releaseChildren(connection: mysql.PoolConnection, parent: string): Promise<void> {
  await connection.query('DELETE FROM dependencies WHERE parent = ?', [parent]);
}
