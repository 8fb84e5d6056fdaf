/**
 * Resubmit acts on what it saw: the FAILED row and the job's latest run.
 *
 * Two commands resubmitting the same job at once must make one new run, not
 * two. Temporal cannot start "only if the latest run is still X", so the
 * commands for one job take turns under a MySQL named lock, and each checks,
 * holding it, that the latest run is still the one it saw before starting
 * anything: a run started meanwhile by another command means this one lost,
 * says so, and starts nothing.
 *
 * One more case needs telling apart: the latest run is still open while the
 * row says FAILED. That is either the failed run still closing (e-mailing
 * the admin; resubmit waits for it, as before) or a new run another command
 * just started, which has not yet taken the row back to INCOMING (say no
 * worker is running). A new run has not completed a workflow task; a failed
 * one has (it failed the row from one), so the run's history decides.
 */
import crypto from 'node:crypto';
import type mysql from 'mysql2/promise';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { AttentionError, JobStateError } from '../core/errors.js';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import { startJob, type StartOutcome } from '../activities/job-start.js';
import { releaseNamedLock, takeNamedLock } from '../store/job-operations.js';
import { readStateAndUser } from '../store/job-listing.js';
import { NoSuchJobError } from '../core/errors.js';

/** How long a resubmit waits for another command resubmitting the same job. */
const LOCK_WAIT_SECONDS = 120;

interface SeenRun {
  runId: string;
  open: boolean;
}

async function latestRun(client: Client, workflowId: string): Promise<SeenRun | undefined> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return { runId: description.runId, open: description.status.name === 'RUNNING' };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/** Whether the run has completed a workflow task (a run just started by a resubmit has not). */
async function hasWorked(client: Client, workflowId: string, runId: string): Promise<boolean> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? []).some((event) => event.workflowTaskCompletedEventAttributes);
}

/** MySQL caps a lock name at 64 characters: the service's database and the job, hashed. */
function lockName(config: ServiceConfig, job: string): string {
  const digest = crypto.createHash('sha1').update(`${config.database.db}/${job}`).digest('hex');
  return `saliflow-resubmit-${digest}`;
}

async function underLock<T>(db: Pick<mysql.Pool, 'getConnection'>, name: string, work: () => Promise<T>): Promise<T> {
  const connection = await db.getConnection();
  try {
    if (!(await takeNamedLock(connection, name, LOCK_WAIT_SECONDS))) {
      throw new AttentionError(
        `another command has been resubmitting this job for ${LOCK_WAIT_SECONDS} s; try again later`,
      );
    }
    try {
      return await work();
    } finally {
      await releaseNamedLock(connection, name);
    }
  } finally {
    connection.release();
  }
}

export async function resubmitFailedJob(options: {
  config: ServiceConfig;
  db: Pick<mysql.Pool, 'query' | 'getConnection'>;
  client: Client;
  job: string;
}): Promise<StartOutcome> {
  const { config, db, client, job } = options;
  const workflowId = jobWorkflowId(config.general.serviceName, job);
  const lost = (why: string): StartOutcome => ({ started: false, workflowId, reason: why });
  // The run first, then the row: a run started after this look is caught below.
  const seen = await latestRun(client, workflowId);
  const row = await readStateAndUser(db, job);
  if (!row) throw new NoSuchJobError(job, config.general.serviceName);
  if (row.state !== 'FAILED') throw new JobStateError(job, `is ${row.state}; only FAILED jobs can be resubmitted`);
  if (seen?.open && !(await hasWorked(client, workflowId, seen.runId))) {
    return lost(`another command resubmitted it a moment ago (run ${seen.runId}, not yet begun); nothing started`);
  }
  return underLock(db, lockName(config, job), async () => {
    const latest = await latestRun(client, workflowId);
    if (latest && latest.runId !== seen?.runId) {
      return lost(`another command resubmitted it meanwhile (run ${latest.runId}); nothing started`);
    }
    const now = await readStateAndUser(db, job);
    if (now?.state !== 'FAILED') {
      return lost(`it is ${now?.state ?? 'gone'} now (another command acted on it); nothing started`);
    }
    // Only the failed run it saw can still be open here: startJob waits for it to close.
    return startJob(client, config, { job, user: now.user ?? null, resubmit: true });
  });
}
