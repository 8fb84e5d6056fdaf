/**
 * What operators' commands ask of a job's workflow: its status, its
 * `jobStatus` query, and stopping it before they change the row behind it.
 */
import { queuePollers } from './service-status.js';
import {
  ApplicationFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import {
  cancelJobSignal,
  jobStatusQuery,
  STOPPED_FAILURE_TYPE,
  jobWorkflowId,
  type CancelOptions,
  type JobStatus,
} from '../core/job-workflow-contract.js';

/**
 * How long a query waits for a worker to answer: with no worker running it would wait forever. A job whose
 * step is running (inside its advance, a local activity) answers only at the advance's next workflow task,
 * which the worker sends every 8 s (80 % of the 10 s task timeout) while the step runs: so a little more.
 */
export const QUERY_TIMEOUT_MS = 10_000;

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

/**
 * What was done to a job's workflow before its row was changed, in words for
 * the operator: `stopped` (it deleted its run, if it had one, and ended),
 * `terminated` (it did not end in time: a run it waited for may be left),
 * `ended by itself` (it finished before it saw the request).
 */
export type StopOutcome = 'stopped' | 'terminated' | 'ended by itself' | 'no workflow' | `already ${string}`;

/** How long a job's workflow gets to delete its run and end before it is terminated. @defaultValue 30 s */
export const STOP_WAIT_MS = 30_000;

/**
 * Stops the workflows of `jobs` so that nothing changes their rows or
 * directories while the caller does, and deletes the runs they wait for:
 * each gets the cancel signal `saliflow cancel` sends, with `stopOnly`
 * (its worker deletes the run: qdel, scancel, or the local process on its
 * own host, then the workflow ends without touching the row). Workflows that
 * have not ended after `waitMs` (no worker polls, the scheduler does not
 * answer) are terminated, which needs no worker but leaves their run.
 */
export async function stopJobWorkflows(
  client: Client,
  config: ServiceConfig,
  jobs: readonly string[],
  reason: string,
  options: { waitMs?: number; onEach?: (job: string) => void } = {},
): Promise<Map<string, StopOutcome>> {
  const { waitMs = STOP_WAIT_MS, onEach } = options;
  const outcomes = new Map<string, StopOutcome>();
  const deadline = Date.now() + waitMs;
  await forEachConcurrently(jobs, STOP_CONCURRENCY, async (job) => {
    await stopOne(job);
    onEach?.(job);
  });
  return outcomes;

  async function stopOne(job: string) {
    const handle = client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job));
    const description = await describeJobWorkflow(client, config, job);
    if (!description) return outcomes.set(job, 'no workflow');
    if (description.status.name !== 'RUNNING')
      return outcomes.set(job, `already ${description.status.name.toLowerCase()}`);
    const stopOnly: CancelOptions = { stopOnly: true };
    try {
      await handle.signal(cancelJobSignal, reason, stopOnly);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return outcomes.set(job, 'ended by itself');
      throw error;
    }
    // Late in a long list, still a few seconds each: a worker deletes a run in well under that.
    const ended = await endOf(client, handle.workflowId, description.runId, Math.max(deadline, Date.now() + 5000));
    if (ended !== 'running') return outcomes.set(job, ended);
    return outcomes.set(job, await terminate(client, handle.workflowId, description.runId, reason));
  }
}

/** Workflows asked to stop at once (delete-all-jobs may name thousands). */
const STOP_CONCURRENCY = 32;

async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** How the run ended, or `running` if it had not by `deadline`. */
async function endOf(
  client: Client,
  workflowId: string,
  runId: string,
  deadline: number,
): Promise<'stopped' | 'ended by itself' | 'running'> {
  const handle = client.workflow.getHandle(workflowId, runId, { followRuns: false });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'running'>((resolve) => {
    timer = setTimeout(() => resolve('running'), Math.max(0, deadline - Date.now()));
  });
  const result = handle.result().then(
    () => 'ended by itself' as const,
    (error: unknown) => {
      const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
      return cause instanceof ApplicationFailure && cause.type === STOPPED_FAILURE_TYPE
        ? ('stopped' as const)
        : ('ended by itself' as const);
    },
  );
  try {
    return await Promise.race([result, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function terminate(client: Client, workflowId: string, runId: string, reason: string): Promise<StopOutcome> {
  try {
    await client.workflow.getHandle(workflowId, runId).terminate(reason);
    return 'terminated';
  } catch (error) {
    // It ended between the deadline and terminate: as good.
    if (error instanceof WorkflowNotFoundError) return 'ended by itself';
    throw error;
  }
}

/**
 * Terminates the job's workflow if it is running: for workflows whose job
 * has no row (nothing to stop cleanly), and for a run the reconcile schedule
 * started while an operator's command changed the row.
 */
export async function terminateJobWorkflow(
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
      handle.query(jobStatusQuery),
    );
    return { status };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      return { unavailable: 'no workflow yet (the reconcile schedule starts it)' };
    }
    // The SDK says "Failed to query Workflow"; why is in its cause (gRPC's DEADLINE_EXCEEDED, code 4).
    const cause = (error as { cause?: { message?: string; code?: number; details?: string } }).cause;
    const message = (error as Error).message;
    const why = cause?.details ?? cause?.message ?? message;
    if (
      /deadline|timed out/i.test(`${message} ${why}`) ||
      (error as { code?: number }).code === 4 ||
      cause?.code === 4
    ) {
      const queue = config.temporal.taskQueue;
      const polling = await queuePollers(client, config, queue).then(
        (pollers) => pollers.some(({ kind }) => kind === 'workflow'),
        () => undefined,
      );
      if (polling === false) {
        return {
          unavailable:
            `no worker polls the task queue ${queue}, so none can answer: start one ` +
            `(\`saliflow worker --config ${config.configFile} --service <the service module>\`)`,
        };
      }
      return {
        unavailable:
          `no worker answered within ${QUERY_TIMEOUT_MS / 1000} s` +
          (polling ? ` although workers poll ${queue} (busy? see their logs)` : ' (is `saliflow worker` running?)'),
      };
    }
    return { unavailable: `the query failed: ${why.split('\n')[0]}` };
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
