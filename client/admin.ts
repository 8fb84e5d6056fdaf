/** Operators' actions on jobs. */
import type mysql from 'mysql2/promise';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import { cancelJobSignal, jobWorkflowId } from '../core/job-workflow-contract.js';
import { FINAL_STATES, type JobState } from '../core/states.js';
import { readJobState } from '../store/job-listing.js';
import { NoSuchJobError } from '../core/errors.js';

/**
 * Puts a FAILED job back to INCOMING and runs it again, as a new run of the
 * same workflow ID (the failed run stays in the history for reference). Of
 * concurrent resubmits, one starts a run; the others say so and start
 * nothing (client/resubmit-job.ts).
 */
export { resubmitFailedJob as resubmitJob } from './resubmit-job.js';

/**
 * Cancels a job: its cluster job is deleted (qdel/scancel) and it ends
 * FAILED with the reason, by default "cancelled by administrator". The
 * row is read first, so an unknown job or one whose workflow has ended
 * gets a message about the job, not about a workflow.
 */
export async function cancelJob(options: {
  config: ServiceConfig;
  db: Pick<mysql.Connection, 'query'>;
  client: Client;
  job: string;
  reason?: string;
}) {
  const { config, db, client, job, reason } = options;
  const state = await readJobState(db, job);
  if (state === undefined) throw new NoSuchJobError(job, config.general.serviceName);
  try {
    await client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job)).signal(cancelJobSignal, reason);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    const hint =
      state === 'INCOMING'
        ? 'its workflow has not started yet (the reconcile schedule starts it); use `saliflow failjob` to fail it now'
        : `its workflow is not running, so there is nothing to cancel${FINAL_STATES.includes(state as JobState) || state === 'FAILED' ? '' : '; use `saliflow failjob` to fail it'}`;
    throw new JobStateError(job, `is ${state}: ${hint}`);
  }
}
