/**
 * saliweb's operator verbs that change jobs behind the backend's back
 * (delete, failjob, delete-all-jobs). saliweb needed its daemon stopped for
 * them; here the job's workflow is stopped first, the way `saliflow cancel`
 * stops it (its worker deletes the run: qdel, scancel, or the local process
 * on its own host), so nothing moves the row or the directory meanwhile and
 * nothing keeps running on the cluster; then the row and the directory are
 * changed under the row lock, as a state change does. Last, the slots the
 * command freed are handed out at once (an admission round, and a signal to
 * the jobs it admitted) rather than at the workers' next sweep.
 *
 * A workflow that does not end within 30 s (no worker polls, the scheduler
 * does not answer) is terminated instead: its run may be left, and the
 * outcome names it so the operator can delete it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { DIRECTORY_STATES, type ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import { IN_FLIGHT_STATES, type JobState } from '../core/states.js';
import { admittedSignal, waitingSignal, jobWorkflowId } from '../core/job-workflow-contract.js';
import { childrenReasons } from '../store/waiting-line.js';
import { pausedBecause, readServiceControl } from '../store/service-control.js';
import { runAdmissionRound } from '../engine/admission.js';
import { inTransaction, type Pool } from '../store/pool.js';
import {
  allJobs,
  deleteAllJobRows,
  deleteJobRows,
  lockAllJobsForDelete,
  lockJobForDelete,
  readStateAndRun,
} from '../store/job-operations.js';
import { checkJobDirectory } from '../engine/job-directory.js';
import { createJobTransitions } from '../engine/job-transitions.js';
import { jobFailedMessage, type Mailer } from '../engine/mail.js';
import { NoSuchJobError } from '../core/errors.js';
import { runningJobWorkflows, stopJobWorkflows, terminateJobWorkflow, type StopOutcome } from './job-workflows.js';

/** What a long operation tells whoever watches it (a ProgressBar, in the CLI). */
export interface ProgressReport {
  /** A new phase: another label and total, counting from 0. */
  phase(label: string, total: number): void;
  /** One more item done. */
  tick(): void;
}

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
  /** Jobs that waited for this one: released (their rows naming it are gone), they start when their other parents are done. */
  children: string[];
  /** INCOMING jobs admitted to the slot this freed. */
  admitted: string[];
}

/**
 * Tells the INCOMING children of a job that FAILED or was deleted why they
 * wait now ("parent X FAILED: resubmit or delete it"), as the worker does
 * when a job fails by itself: they may be far back in line, where the
 * admitter's refresh does not look.
 */
async function tellChildren(config: ServiceConfig, pool: Pool, client: Client, parent: string): Promise<void> {
  const control = await readServiceControl(pool, config);
  for (const child of await childrenReasons(pool, control.limits, parent, pausedBecause(control))) {
    await client.workflow
      .getHandle(jobWorkflowId(config.general.serviceName, child.name))
      .signal(waitingSignal, child.reason)
      .catch(() => undefined);
  }
}

/**
 * Hands out free slots now: one admission round (as a worker's admitter
 * runs it, under the same lock), then the admitted jobs' workflows are
 * signalled, as the admitter signals them. A job whose workflow is missing
 * is left to the reconcile schedule; one that misses the signal is found by
 * the workers' check for admitted jobs that have not moved on.
 */
export async function admitNow(config: ServiceConfig, pool: Pool, client: Client): Promise<string[]> {
  const admitted = (await runAdmissionRound(config, pool)).map((job) => job.name);
  await Promise.all(
    admitted.map((job) =>
      client.workflow
        .getHandle(jobWorkflowId(config.general.serviceName, job))
        .signal(admittedSignal)
        .catch(() => undefined),
    ),
  );
  return admitted;
}

async function rowState(db: Pick<mysql.Pool, 'query'>, config: ServiceConfig, job: string) {
  const found = await readStateAndRun(db, job);
  if (!found) throw new NoSuchJobError(job, config.general.serviceName);
  return found;
}

/**
 * A run may be left behind when its job was waiting for it and the workflow
 * was cut off, or when a run was submitted while the workflow was being
 * stopped (the row names another run than before).
 */
function runLeftBehind(
  state: JobState,
  before: string | null,
  after: string | null,
  workflow: StopOutcome,
): string | undefined {
  if (!(IN_FLIGHT_STATES as readonly string[]).includes(state) || !after) return undefined;
  return workflow === 'terminated' || after !== before ? after : undefined;
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

/** Why each of `jobs` cannot be deleted as being in `state` (none: all can), before anyone is asked to confirm. */
export async function deletionProblems(
  pool: Pool,
  config: ServiceConfig,
  jobs: readonly string[],
  state: JobState,
): Promise<string[]> {
  const problems: string[] = [];
  for (const job of jobs) {
    try {
      const found = await rowState(pool, config, job);
      if (found.state !== state) problems.push(notInState(job, found.state, state).message);
    } catch (error) {
      if (!(error instanceof NoSuchJobError)) throw error;
      problems.push(error.message);
    }
  }
  return problems;
}

function notInState(job: string, found: JobState, state: JobState): JobStateError {
  return new JobStateError(job, `is ${found}, not ${state}; to delete it, pass --state ${found}`);
}

/**
 * Deletes a job that is in `state`: its workflow is terminated first (if it
 * runs), then the row and every `dependencies` row naming it (as child or
 * parent, as saliweb's deljob: its children are released) go in one
 * transaction, then its directory (only a proper job directory inside a
 * state folder).
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
  if (before.state !== state) throw notInState(job, before.state, state);
  const reason = `deleted by an operator (saliflow delete --state ${state})`;
  const workflow = (await stopJobWorkflows(client, config, [job], reason)).get(job)!;
  const { target, runnerId, children } = await inTransaction(pool, async (db) => {
    const row = await lockJobForDelete(db, job);
    if (!row) throw new NoSuchJobError(job, config.general.serviceName);
    if (row.state !== state) {
      throw new JobStateError(job, `moved from ${state} to ${row.state} meanwhile; look again, then delete it`);
    }
    const found = await deletableDirectory(config, job, row.directory);
    const released = await deleteJobRows(db, job);
    return { target: found, runnerId: row.runnerId, children: released };
  });
  // The row is gone: a run the reconcile schedule started in the meantime would only fail on it.
  await terminateJobWorkflow(client, config, job, reason);
  const directory = await removeDirectory(target);
  const runLeft = runLeftBehind(state, before.runnerId, runnerId, workflow);
  // A freed slot, or released children that may start now: admitted at once.
  const admitted =
    (IN_FLIGHT_STATES as readonly string[]).includes(state) || children.length > 0
      ? await admitNow(config, pool, client)
      : [];
  return {
    job,
    state,
    workflow,
    directory,
    ...(runLeft ? { runLeft } : {}),
    children,
    admitted,
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
  /** INCOMING jobs admitted to the slot this freed. */
  admitted: string[];
}

/**
 * Forces a job in any state to FAILED (saliweb's failjob; its documented use
 * is a job that went to COMPLETED by mistake, so COMPLETED, ARCHIVED and
 * EXPIRED jobs are failed too): its workflow is stopped first, then the row
 * changes through the same transition every failure takes (directory to
 * FAILED's folder, as saliweb moves it; an EXPIRED job has none, only its row
 * changes; `failure` set), then the admin is e-mailed unless `mailer` is
 * omitted.
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
  if (before.state === 'FAILED') throw new JobStateError(job, 'is already FAILED; nothing to do');
  const stopReason = `failed by an operator (saliflow failjob): ${reason}`;
  const workflow = (await stopJobWorkflows(client, config, [job], stopReason)).get(job)!;
  const failure = `failed by an operator (saliflow failjob): ${reason}`;
  const result = await createJobTransitions(config, pool).transitionJob({ job, to: 'FAILED', failure });
  await terminateJobWorkflow(client, config, job, stopReason);
  const after = await rowState(pool, config, job);
  const admitted = (IN_FLIGHT_STATES as readonly string[]).includes(before.state)
    ? await admitNow(config, pool, client)
    : [];
  await tellChildren(config, pool, client, job);
  if (mailer)
    await mailer.send({
      to: config.general.adminEmail,
      ...jobFailedMessage(config.general.serviceName, job, failure, config.configFile),
    });
  const runLeft = runLeftBehind(before.state, before.runnerId, after.runnerId, workflow);
  return {
    job,
    from: before.state,
    workflow,
    directory: result.directory,
    ...(runLeft ? { runLeft } : {}),
    emailed: mailer !== undefined,
    admitted,
  };
}

export interface DeleteAllOutcome {
  jobs: number;
  /** Workflows that deleted their runs and ended. */
  stopped: number;
  /** Workflows terminated (they did not end in time, or started while the rows went). */
  terminated: number;
  directoriesDeleted: number;
  directoriesKept: { job: string; directory: string; reason: string }[];
  /** Entries of the state folders that belonged to no job (strays), deleted too, as saliweb does. */
  straysDeleted: number;
  runsLeft: { job: string; run: string }[];
}

/**
 * What is left in the state folders once every row is gone: saliweb's
 * delete_all_jobs empties every state folder, strays too. Never the state
 * folders themselves (nested in one another), nor anything holding one, nor
 * the backend's own files (config, socket, state file).
 */
async function emptyStateFolders(config: ServiceConfig): Promise<number> {
  const folders = new Set(DIRECTORY_STATES.map((state) => path.resolve(config.directories[state])));
  const kept = [...folders, config.configFile, config.general.socket, config.backend.stateFile].map((file) =>
    path.resolve(file),
  );
  const holdsKept = (entry: string) => kept.some((file) => file === entry || file.startsWith(`${entry}${path.sep}`));
  let deleted = 0;
  for (const folder of folders) {
    for (const name of await fs.readdir(folder).catch(() => [] as string[])) {
      const entry = path.join(folder, name);
      if (holdsKept(entry)) continue;
      await fs.rm(entry, { recursive: true, force: true });
      deleted++;
    }
  }
  return deleted;
}

/**
 * Deletes every job of the service: all running job workflows are stopped
 * (their runs deleted), then every row (and every `dependencies` row) goes
 * in one transaction, then every proper job directory, then whatever else
 * the state folders hold (saliweb's delete_all_jobs empties them all).
 * Workflows started meanwhile (reconcile) are terminated after the rows are
 * gone.
 */
export async function deleteAllJobs(options: {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  progress?: ProgressReport;
}) {
  const { config, pool, client, progress } = options;
  const reason = 'deleted by an operator (saliflow delete-all-jobs)';
  const rows = await allJobs(pool);
  const prefix = `${config.general.serviceName}/`;
  const open = new Set((await runningJobWorkflows(client, config)).map((id) => id.slice(prefix.length)));
  // Visibility may lag a second behind: a row's workflow may be running without being listed yet.
  for (const row of rows) open.add(row.name);
  const outcome: DeleteAllOutcome = {
    jobs: 0,
    stopped: 0,
    terminated: 0,
    directoriesDeleted: 0,
    directoriesKept: [],
    straysDeleted: 0,
    runsLeft: [],
  };
  progress?.phase('stopping workflows', open.size);
  const stopped = await stopJobWorkflows(client, config, [...open], reason, { onEach: () => progress?.tick() });
  for (const [job, result] of stopped) {
    if (result === 'stopped') outcome.stopped++;
    if (result !== 'terminated') continue;
    outcome.terminated++;
    const row = rows.find((candidate) => candidate.name === job);
    const runnerId = row?.runnerId ?? null;
    const run = row && runLeftBehind(row.state, runnerId, runnerId, result);
    if (run) outcome.runsLeft.push({ job, run });
  }
  const targets = await inTransaction(pool, async (db) => {
    const found: { job: string; target: DirectoryTarget }[] = [];
    for (const row of await lockAllJobsForDelete(db)) {
      found.push({ job: row.name, target: await deletableDirectory(config, row.name, row.directory) });
    }
    await deleteAllJobRows(db);
    return found;
  });
  outcome.jobs = targets.length;
  for (const id of await runningJobWorkflows(client, config)) {
    if ((await terminateJobWorkflow(client, config, id.slice(prefix.length), reason)) === 'terminated')
      outcome.terminated++;
  }
  progress?.phase('deleting directories', targets.length);
  for (const { job, target } of targets) {
    const removed = await removeDirectory(target);
    progress?.tick();
    if (removed && 'deleted' in removed) outcome.directoriesDeleted++;
    if (removed && 'kept' in removed)
      outcome.directoriesKept.push({ job, directory: removed.kept, reason: removed.reason });
  }
  outcome.straysDeleted = await emptyStateFolders(config);
  return outcome;
}
