/** Operators' actions on jobs. */
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import { CANCEL_SIGNAL, jobWorkflowId } from '../core/job-workflow-contract.js';
import { startJob, type StartOutcome } from '../activities/job-start.js';

/**
 * Puts a FAILED job back to INCOMING and runs it again, as a new run of the
 * same workflow ID (the failed run stays in the history for reference).
 */
export async function resubmitJob(options: {
  config: ServiceConfig;
  db: Pick<mysql.Connection, 'query'>;
  client: Client;
  job: string;
}): Promise<StartOutcome> {
  const { config, db, client, job } = options;
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, user FROM jobs WHERE name = ?', [job]);
  const row = rows[0];
  if (!row) throw new JobStateError(job, 'no such job');
  if (row.state !== 'FAILED') throw new JobStateError(job, `is ${row.state}; only FAILED jobs can be resubmitted`);
  return startJob(client, config, { job, user: row.user ?? null, resubmit: true });
}

/**
 * Cancels a job: its cluster job is deleted (qdel/scancel) and it ends
 * FAILED with the reason, by default "cancelled by administrator".
 */
export async function cancelJob(options: { config: ServiceConfig; client: Client; job: string; reason?: string }) {
  const { config, client, job, reason } = options;
  await client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job)).signal(CANCEL_SIGNAL, reason);
}
