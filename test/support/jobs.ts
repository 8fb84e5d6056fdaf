/** Reading a job back for assertions. */
import type mysql from 'mysql2/promise';
import { WorkflowFailedError, type Client } from '@temporalio/client';

export interface JobRowSnapshot {
  name: string;
  state: string;
  directory: string | null;
  runner_id: string | null;
  failure: string | null;
  submit_time: Date;
  preprocess_time: Date | null;
  run_time: Date | null;
  postprocess_time: Date | null;
  finalize_time: Date | null;
  end_time: Date | null;
  archive_time: Date | null;
  expire_time: Date | null;
  [column: string]: unknown;
}

export async function jobRow(db: Pick<mysql.Pool, 'query'>, name: string): Promise<JobRowSnapshot> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT * FROM jobs WHERE name = ?', [name]);
  if (!rows[0]) throw new Error(`no row for job ${name}`);
  return rows[0] as JobRowSnapshot;
}

/** The workflow's result, or the failure message when it ended as Failed. */
export async function workflowOutcome(
  client: Client,
  workflowId: string,
): Promise<{ result?: unknown; failure?: string }> {
  try {
    return { result: await client.workflow.getHandle(workflowId).result() };
  } catch (error) {
    if (error instanceof WorkflowFailedError) return { failure: error.cause?.message ?? error.message };
    throw error;
  }
}
