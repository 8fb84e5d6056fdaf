/**
 * saliweb's operator verbs that change jobs behind the backend's back
 * (delete, failjob, delete-all-jobs). saliweb needed its daemon stopped for
 * them; here the job's workflow is terminated first, so nothing moves the
 * row or the directory meanwhile, and then the row and the directory are
 * changed under the row lock, as a state change does.
 *
 * A run the workflow was waiting for (a cluster job, a local process) is
 * not deleted by termination: the outcome names it so the operator can.
 * `saliflow cancel` is the way to stop a run and fail its job cleanly.
 */
import fs from 'node:fs/promises';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { InvalidTransitionError, JobStateError } from '../core/errors.js';
import { FINAL_STATES, IN_FLIGHT_STATES, type JobState } from '../core/states.js';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import { inTransaction, type Pool } from '../activities/database.js';
import { checkJobDirectory } from '../activities/job-directory.js';
import { createTransitionActivities } from '../activities/job-transitions.js';
import { jobFailedMessage, type Mailer } from '../activities/mail.js';
import { NoSuchJobError } from './cli-support.js';
import type { ProgressReport } from './progress.js';
import { runningJobWorkflows, stopJobWorkflow, type StopOutcome } from './job-workflows.js';

/** saliweb let these be deleted while its daemon ran: nothing works on them. */
export const QUIET_STATES: readonly JobState[] = ['FAILED', 'EXPIRED'];

export interface DeleteOutcome {
  job: string;
  state: JobState;
  workflow: StopOutcome;
  /** The directory deleted, or why it was left. */
  directory: { deleted: string } | { kept: string; reason: string } | null;
  /** A run that may still be going (the workflow was terminated while it waited). */
  runLeft?: string;
  /** Jobs waiting for this one: they wait forever now, unless deleted too. */
  children: string[];
}

async function rowState(db: Pick<mysql.Pool, 'query'>, config: ServiceConfig, job: string) {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, runner_id FROM jobs WHERE name = ?', [job]);
  if (!rows[0]) throw new NoSuchJobError(job, config.general.serviceName);
  return { state: rows[0].state as JobState, runnerId: (rows[0].runner_id as string | null) ?? null };
}

/** A run is left behind when its job was waiting for it and the workflow was cut off. */
function runLeftBehind(state: JobState, runnerId: string | null, workflow: StopOutcome): string | undefined {
  return workflow === 'terminated' && runnerId && (IN_FLIGHT_STATES as readonly string[]).includes(state)
    ? runnerId
    : undefined;
}

/** The row's directory if it is a proper job directory (checkJobDirectory), else why it must be left alone. */
type DirectoryTarget = { path: string } | { kept: string; reason: string } | null;
type DirectoryOutcome = DeleteOutcome['directory'];

async function deletableDirectory(
  config: ServiceConfig,
  job: string,
  directory: string | null,
): Promise<DirectoryTarget> {
  if (directory === null) return null;
  try {
    return { path: await checkJobDirectory(config, job, directory, { missingOk: true }) };
  } catch (error) {
    return { kept: directory, reason: (error as Error).message };
  }
}

async function removeDirectory(target: DirectoryTarget): Promise<DirectoryOutcome> {
  if (target === null) return null;
  if ('kept' in target) return target;
  await fs.rm(target.path, { recursive: true, force: true });
  return { deleted: target.path };
}

/**
 * Deletes a job that is in `state`: its workflow is terminated first (if it
 * runs), then the row and its own `dependencies` rows go in one transaction,
 * then its directory (only a proper job directory inside a state folder).
 */
export async function deleteJob(options: {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  job: string;
  state: JobState;
}): Promise<DeleteOutcome> {
  const { config, pool, client, job, state } = options;
  const before = await rowState(pool, config, job);
  if (before.state !== state) {
    throw new JobStateError(job, `is ${before.state}, not ${state}; to delete it, pass --state ${before.state}`);
  }
  const reason = `deleted by an operator (saliflow delete --state ${state})`;
  const workflow = await stopJobWorkflow(client, config, job, reason);
  const target = await inTransaction(pool, async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      'SELECT state, directory FROM jobs WHERE name = ? FOR UPDATE',
      [job],
    );
    if (!rows[0]) throw new NoSuchJobError(job, config.general.serviceName);
    if (rows[0].state !== state) {
      throw new JobStateError(job, `moved from ${state} to ${rows[0].state} meanwhile; look again, then delete it`);
    }
    const found = await deletableDirectory(config, job, rows[0].directory ?? null);
    await db.query('DELETE FROM dependencies WHERE child = ?', [job]);
    await db.query('DELETE FROM jobs WHERE name = ?', [job]);
    return found;
  });
  // The row is gone: a run the reconcile schedule started in the meantime would only fail on it.
  await stopJobWorkflow(client, config, job, reason);
  const directory = await removeDirectory(target);
  const [children] = await pool.query<mysql.RowDataPacket[]>('SELECT child FROM dependencies WHERE parent = ?', [job]);
  const runLeft = runLeftBehind(state, before.runnerId, workflow);
  return {
    job,
    state,
    workflow,
    directory,
    ...(runLeft ? { runLeft } : {}),
    children: children.map((row) => String(row.child)),
  };
}

export interface FailOutcome {
  job: string;
  /** The state it was in. */
  from: JobState;
  workflow: StopOutcome;
  directory: string | null;
  runLeft?: string;
  emailed: boolean;
}

/**
 * Forces an unfinished job to FAILED: its workflow is terminated first, then
 * the row changes through the same transition every failure takes
 * (directory to FAILED's folder, `failure` set), then the admin is
 * e-mailed unless `mailer` is omitted. A finished job is refused: a finished
 * job never moves to FAILED.
 */
export async function failJob(options: {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  job: string;
  reason: string;
  mailer?: Mailer;
}): Promise<FailOutcome> {
  const { config, pool, client, job, reason, mailer } = options;
  const before = await rowState(pool, config, job);
  if (FINAL_STATES.includes(before.state)) {
    throw new JobStateError(
      job,
      `is ${before.state}: a finished job never moves to FAILED; delete it with \`saliflow delete --state ${before.state}\` if it must go`,
    );
  }
  if (before.state === 'FAILED') throw new JobStateError(job, 'is already FAILED; nothing to do');
  const stopReason = `failed by an operator (saliflow failjob): ${reason}`;
  const workflow = await stopJobWorkflow(client, config, job, stopReason);
  const failure = `failed by an operator (saliflow failjob): ${reason}`;
  let result;
  try {
    result = await createTransitionActivities(config, pool).transitionJob({ job, to: 'FAILED', failure });
  } catch (error) {
    if (error instanceof InvalidTransitionError) {
      throw new JobStateError(job, `${error.message} (it finished meanwhile); a finished job never moves to FAILED`);
    }
    throw error;
  }
  await stopJobWorkflow(client, config, job, stopReason);
  if (mailer)
    await mailer.send({ to: config.general.adminEmail, ...jobFailedMessage(config.general.serviceName, job, failure) });
  const runLeft = runLeftBehind(before.state, before.runnerId, workflow);
  return {
    job,
    from: before.state,
    workflow,
    directory: result.directory,
    ...(runLeft ? { runLeft } : {}),
    emailed: mailer !== undefined,
  };
}

export interface DeleteAllOutcome {
  jobs: number;
  terminated: number;
  directoriesDeleted: number;
  directoriesKept: { job: string; directory: string; reason: string }[];
  runsLeft: { job: string; run: string }[];
}

/**
 * Deletes every job of the service: all running job workflows are
 * terminated, then every row (and every `dependencies` row) goes in one
 * transaction, then every proper job directory. Workflows started meanwhile
 * (reconcile) are terminated once more after the rows are gone.
 */
export async function deleteAllJobs(options: {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  progress?: ProgressReport;
}) {
  const { config, pool, client, progress } = options;
  const reason = 'deleted by an operator (saliflow delete-all-jobs)';
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT name, state, runner_id FROM jobs');
  const open = new Set(await runningJobWorkflows(client, config));
  for (const row of rows) open.add(jobWorkflowId(config.general.serviceName, String(row.name)));
  const prefix = `${config.general.serviceName}/`;
  const rowOf = new Map(rows.map((row) => [String(row.name), row]));
  const outcome: DeleteAllOutcome = {
    jobs: 0,
    terminated: 0,
    directoriesDeleted: 0,
    directoriesKept: [],
    runsLeft: [],
  };
  const stopAll = async (ids: ReadonlySet<string>) => {
    progress?.phase('stopping workflows', ids.size);
    for (const id of ids) {
      const job = id.slice(prefix.length);
      const stopped = await stopJobWorkflow(client, config, job, reason);
      progress?.tick();
      if (stopped !== 'terminated') continue;
      outcome.terminated++;
      const row = rowOf.get(job);
      const run = row && runLeftBehind(row.state as JobState, row.runner_id ?? null, stopped);
      if (run) outcome.runsLeft.push({ job, run });
    }
  };
  await stopAll(open);
  const targets = await inTransaction(pool, async (db) => {
    const [locked] = await db.query<mysql.RowDataPacket[]>('SELECT name, directory FROM jobs FOR UPDATE');
    const found: { job: string; target: DirectoryTarget }[] = [];
    for (const row of locked) {
      found.push({ job: String(row.name), target: await deletableDirectory(config, String(row.name), row.directory) });
    }
    await db.query('DELETE FROM dependencies');
    await db.query('DELETE FROM jobs');
    return found;
  });
  outcome.jobs = targets.length;
  await stopAll(new Set([...(await runningJobWorkflows(client, config)), ...open]));
  progress?.phase('deleting directories', targets.length);
  for (const { job, target } of targets) {
    const removed = await removeDirectory(target);
    progress?.tick();
    if (removed && 'deleted' in removed) outcome.directoriesDeleted++;
    if (removed && 'kept' in removed)
      outcome.directoriesKept.push({ job, directory: removed.kept, reason: removed.reason });
  }
  return outcome;
}
