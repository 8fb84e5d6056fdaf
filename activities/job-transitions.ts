/**
 * The one way a job changes state: move its directory, then update its row,
 * inside a transaction holding the row lock. Idempotent: a retry after a
 * crash at any point (before the move, between move and commit, after the
 * commit) ends in the same row and directory, and changes nothing more.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import { assertTransition, STATE_TIMESTAMP, type JobState } from '../core/states.js';
import { inTransaction, type Pool } from './database.js';
import { readJob } from './job-row.js';

export interface TransitionRequest {
  job: string;
  to: JobState;
  /** For FAILED: the error text (message and stack) stored in `failure`. */
  failure?: string;
}

export interface TransitionResult {
  state: JobState;
  directory: string | null;
  /** False when the job was already in `to` (a retried or repeated call). */
  changed: boolean;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function targetDirectory(config: ServiceConfig, to: JobState): string | null {
  if (to === 'EXPIRED') return null;
  // A resubmitted job is about to run again, so it skips INCOMING's folder.
  return config.directories[to === 'INCOMING' ? 'PREPROCESSING' : to];
}

/**
 * Moves `from` to `to`, tolerating a move that already happened before a
 * crash. Returns the job's new path.
 */
async function moveDirectory(job: string, from: string, toParent: string): Promise<string> {
  const to = path.join(toParent, path.basename(from));
  if (from === to) return to;
  if (await exists(from)) {
    if (await exists(to)) {
      throw new JobStateError(job, `cannot move ${from} to ${to}: the target already exists; remove one of them`);
    }
    await fs.mkdir(toParent, { recursive: true });
    await fs.rename(from, to);
    return to;
  }
  if (await exists(to)) return to;
  throw new JobStateError(job, `its directory ${from} is missing (and is not at ${to} either)`);
}

export function createTransitionActivities(config: ServiceConfig, pool: Pool) {
  async function transitionJob(request: TransitionRequest): Promise<TransitionResult> {
    const { job, to } = request;
    return inTransaction(pool, async (db) => {
      const row = await readJob(db, job, { forUpdate: true });
      if (row.state === to) return { state: to, directory: row.directory, changed: false };
      assertTransition(job, row.state, to);

      let directory: string | null = row.directory;
      let failure = request.failure ?? 'failed (no reason given)';
      const target = targetDirectory(config, to);
      if (row.directory === null) {
        // A job can always be failed; only moving a directory needs one.
        if (to !== 'EXPIRED' && to !== 'FAILED') {
          throw new JobStateError(job, `has no directory in its row; cannot move it to ${to}`);
        }
      } else if (target === null) {
        await fs.rm(row.directory, { recursive: true, force: true });
        directory = null;
      } else {
        try {
          directory = await moveDirectory(job, row.directory, target);
        } catch (error) {
          // Failing must never be refused: a job whose directory cannot be
          // moved is still recorded FAILED, with the reason it stayed put.
          if (to !== 'FAILED' || !(error instanceof JobStateError)) throw error;
          failure += `\n(the job directory was not moved: ${error.message})`;
        }
      }

      const sets = ['state = ?', 'directory = ?'];
      const values: unknown[] = [to, directory];
      const timestamp = STATE_TIMESTAMP[to];
      if (timestamp) sets.push(`${timestamp} = UTC_TIMESTAMP()`);
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
      if (to === 'PREPROCESSING' && config.general.trackHostname) {
        sets.push('hostname = ?');
        values.push(os.hostname());
      }
      await db.query(`UPDATE jobs SET ${sets.join(', ')} WHERE name = ?`, [...values, job]);
      // Children waiting on this job may start once it has completed.
      if (to === 'COMPLETED') await db.query('DELETE FROM dependencies WHERE parent = ?', [job]);
      return { state: to, directory, changed: true };
    });
  }

  return { transitionJob };
}
