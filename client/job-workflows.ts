/**
 * What operators' commands ask of a job's workflow: its status, its
 * `jobStatus` query, and stopping it before they change the row behind it.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { JOB_STATUS_QUERY, jobWorkflowId, type JobStatus } from '../core/job-workflow-contract.js';

/** How long a query waits for a worker to answer: with no worker running it would wait forever. */
export const QUERY_TIMEOUT_MS = 3000;

export async function describeJobWorkflow(
  client: Client,
  config: ServiceConfig,
  job: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job)).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/** What was done to a job's workflow before its row was changed, in words for the operator. */
export type StopOutcome = 'terminated' | 'no workflow' | `already ${string}`;

/**
 * Terminates the job's workflow if it is running, so that nothing changes
 * the row or the directory while the caller does. Termination (not the
 * cancel signal) because it needs no worker and ends the run at once; a
 * cluster or local run it was waiting for is not deleted (the caller says so).
 */
export async function stopJobWorkflow(
  client: Client,
  config: ServiceConfig,
  job: string,
  reason: string,
): Promise<StopOutcome> {
  const handle = client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job));
  const description = await describeJobWorkflow(client, config, job);
  if (!description) return 'no workflow';
  if (description.status.name !== 'RUNNING') return `already ${description.status.name.toLowerCase()}`;
  try {
    await handle.terminate(reason);
  } catch (error) {
    // It ended between describe and terminate: as good.
    if (error instanceof WorkflowNotFoundError) return 'already closed';
    throw error;
  }
  return 'terminated';
}

/** The job workflow's own account (state, cycle, run, why it waits), or why there is none. */
export async function queryJobStatus(
  client: Client,
  config: ServiceConfig,
  job: string,
): Promise<{ status: JobStatus } | { unavailable: string }> {
  const handle = client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job));
  try {
    const status = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
      handle.query<JobStatus>(JOB_STATUS_QUERY),
    );
    return { status };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      return { unavailable: 'no workflow yet (the reconcile schedule starts it)' };
    }
    const message = (error as Error).message;
    if (/deadline/i.test(message) || (error as { code?: number }).code === 4) {
      return {
        unavailable: `no worker answered within ${QUERY_TIMEOUT_MS / 1000} s (is \`saliflow worker\` running?)`,
      };
    }
    return { unavailable: `the query failed: ${message.split('\n')[0]}` };
  }
}

/** Job workflows of the service still running (visibility: may lag a second behind). */
export async function runningJobWorkflows(client: Client, config: ServiceConfig): Promise<string[]> {
  const service = config.general.serviceName.replace(/["\\]/g, '');
  const query = `JobService = "${service}" AND WorkflowType = "jobWorkflow" AND ExecutionStatus = "Running"`;
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
  return ids;
}
