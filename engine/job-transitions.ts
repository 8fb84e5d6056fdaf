/**
 * The one way a job changes state: move its directory, then update its row,
 * inside a transaction holding the row lock. Idempotent: a retry after a
 * crash at any point (before the move, between move and commit, after the
 * commit) ends in the same row and directory, and changes nothing more.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../core/config/index.js';
import { JobDirectoryError, JobStateError } from '../core/errors.js';
import { assertTransition, type JobState } from '../core/states.js';
import { inTransaction, type Pool } from '../store/pool.js';
import { readJob } from '../store/job-row.js';
import { changeJobState, changeStateIfStill, releaseChildren, setJobDirectory } from '../store/job-transitions.js';
import { checkJobDirectory, isOldJob } from './job-directory.js';
import { failpoint } from './failpoint.js';
import { removeJobStateFile } from './runners/job-state-file.js';

export interface TransitionRequest {
  job: string;
  to: JobState;
  /** For FAILED: the error text (message and stack) stored in `failure`. */
  failure?: string;
  /**
   * What the caller knows of the row; lets a change that moves nothing skip
   * the locked read. `since`: when the job entered `state` (for metrics).
   */
  known?: { state: JobState; directory: string | null; since?: Date | null };
}

/** A change this call made (never reported for a retry that found it done). */
export interface MadeChange {
  job: string;
  from: JobState;
  to: JobState;
  since?: Date | null;
  failure?: string;
}

export interface TransitionResult {
  state: JobState;
  directory: string | null;
  /** False when the job was already in `to` (a retried or repeated call). */
  changed: boolean;
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
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
 * rename(2), or a copy when the folders are on different filesystems
 * (EXDEV): copied beside the target first and renamed into place, so the
 * target is never half there.
 */
async function renameOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    const partial = `${to}.saliflow-partial`;
    await fs.rm(partial, { recursive: true, force: true });
    try {
      await fs.cp(from, partial, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    } catch (copyError) {
      // A copy that did not fit (or was refused) leaves nothing behind; the original is untouched.
      await fs.rm(partial, { recursive: true, force: true }).catch(() => undefined);
      throw copyError;
    }
    await fs.rename(partial, to);
    await fs.rm(from, { recursive: true, force: true });
  }
}

/** Move errors that waiting will not cure: the job fails at once (space errors are retried). */
const UNRECOVERABLE_MOVE_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Moves `from` into `toParent`, tolerating a move that already happened
 * before a crash. Returns the job's new path.
 */
async function moveDirectory(job: string, from: string, toParent: string): Promise<string> {
  const to = path.join(toParent, path.basename(from));
  if (from === to) return to;
  if (await exists(from)) {
    if (await exists(to)) {
      throw new JobStateError(job, `cannot move ${from} to ${to}: the target already exists; remove one of them`);
    }
    try {
      await fs.mkdir(toParent, { recursive: true });
      await renameOrCopy(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code && UNRECOVERABLE_MOVE_ERRORS.has(code)) {
        throw new JobDirectoryError(job, code, `cannot move its directory ${from} to ${to}`, (error as Error).message);
      }
      throw error;
    }
    return to;
  }
  if (await exists(to)) return to;
  throw new JobStateError(job, `its directory ${from} is missing (and is not at ${to} either)`);
}

/**
 * A transition moves the directory, then commits the row; MySQL dying
 * between the two leaves the directory in the new folder and the row naming
 * the old place. The row is the truth: the directory goes back where the row
 * says, and the job makes the change again from there. Called under the row
 * lock, which a transition holds from before its move until its commit, so a
 * move still in progress elsewhere is never undone.
 */
async function restoreMisplaced(config: ServiceConfig, job: string, directory: string, state: JobState): Promise<void> {
  let where: string;
  try {
    where = await checkJobDirectory(config, job, directory, { missingOk: true, oldLocationOk: isOldJob(state) });
  } catch {
    return; // A bad path: the caller's own check reports it; nothing here is touched.
  }
  if (await exists(where)) return;
  const folders = new Set(Object.values(config.directories).map((folder) => path.resolve(folder)));
  const found: string[] = [];
  for (const folder of folders) {
    const candidate = path.join(folder, path.basename(where));
    if (candidate !== where && (await exists(candidate))) found.push(candidate);
  }
  if (found.length === 1) await renameOrCopy(found[0]!, where);
}

/** saliflow's own bookkeeping files of earlier runs; a resubmitted job starts its cycles afresh. */
async function removeRunRecords(directory: string): Promise<void> {
  const entries = await fs.readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith('.saliflow-'))
      .map((entry) => fs.rm(path.join(directory, entry), { force: true })),
  );
}

export function createJobTransitions(
  config: ServiceConfig,
  pool: Pool,
  /** Told of every change made (metrics, the worker's log); not of retries that found the job moved. */
  onChange: (change: MadeChange) => void = () => undefined,
) {
  /**
   * The common case in one round trip: the caller knows the row's state and
   * directory, and the directory is already in the target state's folder
   * (later states default to the same folder), so nothing moves. A
   * conditional UPDATE is the whole transaction; if the row was not as
   * known, the locked path below decides.
   */
  async function changeInPlace(request: TransitionRequest): Promise<TransitionResult | undefined> {
    const { job, to, known } = request;
    const target = targetDirectory(config, to);
    if (!known || known.state === to || target === null || known.directory === null) return undefined;
    if (to === 'FAILED' || to === 'INCOMING' || path.dirname(known.directory) !== path.resolve(target))
      return undefined;
    assertTransition(job, known.state, to);
    // Children waiting on this job may start once it has completed: both in one transaction.
    const changed =
      to === 'COMPLETED'
        ? await inTransaction(pool, async (db) => {
            const completed = await changeStateIfStill(db, config, job, known.state, to);
            if (completed) await releaseChildren(db, job);
            failpoint('in-completed-commit');
            return completed;
          })
        : await changeStateIfStill(pool, config, job, known.state, to);
    if (!changed) return undefined;
    onChange({ job, from: known.state, to, since: known.since ?? null });
    return { state: to, directory: known.directory, changed: true };
  }

  async function transitionJob(request: TransitionRequest): Promise<TransitionResult> {
    const result = await changeState(request);
    // saliweb: job-state goes when a job enters PREPROCESSING (a resubmitted job starts clean) and once a run's
    // results are taken, before postprocess (a rerun starts clean). After the commit: a crash before it leaves
    // the row waiting for the run, which job-state still answers for; a crash after it leaves a stale file that
    // the next submission removes (removeJobStateFile). PREPROCESSING's folder move runs again before every
    // preprocess, so that removal is repeated too.
    if ((request.to === 'PREPROCESSING' || request.to === 'POSTPROCESSING') && result.directory !== null) {
      await removeJobStateFile(result.directory);
    }
    return result;
  }

  async function changeState(request: TransitionRequest): Promise<TransitionResult> {
    const fast = await changeInPlace(request);
    if (fast) return fast;
    const { job, to } = request;
    let made: MadeChange | undefined;
    const result = await inTransaction(pool, async (db) => {
      const row = await readJob(db, job, { forUpdate: true });
      if (row.directory !== null) await restoreMisplaced(config, job, row.directory, row.state);
      const target = targetDirectory(config, to);
      if (row.state === to) {
        // The admitter changes only the row (INCOMING → PREPROCESSING); the
        // directory follows here, when the job's own workflow goes on.
        if (target === null || row.directory === null || path.dirname(row.directory) === path.resolve(target)) {
          return { state: to, directory: row.directory, changed: false };
        }
      } else {
        assertTransition(job, row.state, to);
      }

      let directory: string | null = row.directory;
      let failure = request.failure ?? 'failed (no reason given)';
      if (row.directory === null && (to === 'EXPIRED' || to === 'FAILED')) {
        // A job can always be failed (and expired); only moving a directory needs one.
      } else {
        try {
          const source = await checkJobDirectory(config, job, row.directory, {
            missingOk: true,
            oldLocationOk: isOldJob(row.state),
          });
          if (target === null) {
            await fs.rm(source, { recursive: true, force: true });
            directory = null;
          } else {
            directory = await moveDirectory(job, source, target);
            if (to === 'INCOMING') await removeRunRecords(directory);
          }
        } catch (error) {
          // Failing must never be refused: a job whose directory cannot be
          // moved (bad path, target taken, another filesystem refusing) is
          // still recorded FAILED, with the reason it stayed where it is.
          if (to !== 'FAILED') throw error;
          failure += `\n(the job directory was not moved: ${(error as Error).message})`;
        }
      }

      if (row.state === to) {
        await setJobDirectory(db, job, directory);
        return { state: to, directory, changed: false };
      }
      await changeJobState(db, config, job, to, directory, failure);
      if (to === 'COMPLETED') {
        await releaseChildren(db, job);
        failpoint('in-completed-commit');
      }
      made = { job, from: row.state, to, since: row.since, ...(to === 'FAILED' ? { failure } : {}) };
      return { state: to, directory, changed: true };
    });
    // After the commit: a rolled-back change was not made.
    if (made) onChange(made);
    return result;
  }

  /**
   * Puts a directory an interrupted transition moved back where the row says
   * (see `restoreMisplaced`); costs one lstat when it is where the row says.
   */
  async function restoreJobDirectory(job: string, directory: string | null): Promise<void> {
    if (directory === null || (await exists(directory))) return;
    await inTransaction(pool, async (db) => {
      const row = await readJob(db, job, { forUpdate: true });
      if (row.directory !== null) await restoreMisplaced(config, job, row.directory, row.state);
    });
  }

  return { transitionJob, restoreJobDirectory };
}
