/**
 * The one way a job's workflow is started, used by every entry point: the
 * submit API, the frontend socket, reconcile and resubmit.
 *
 * - A second start of a live job is a no-op (conflict policy USE_EXISTING).
 * - A job whose workflow completed is never started again from INCOMING
 *   (reuse policy ALLOW_DUPLICATE_FAILED_ONLY): a racing start (reconcile
 *   read the row just before the job completed) is refused by Temporal. And
 *   should the closed run be gone (past the namespace's retention), the new
 *   run reads the row first and leaves a finished job alone.
 * - A job is its row, not its name's history: a run closes Completed only
 *   once its row is finished, so a refused start whose row is unfinished
 *   *now* met the completed run of an earlier job of the same name (deleted,
 *   then the name used again). That job's row is started as a new run.
 * - Resubmit starts a new run after a failed one, waiting for a failed run
 *   that is still closing (e-mailing the admin) instead of returning it.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import { IN_FLIGHT_STATES } from '../core/states.js';
import { readJobState } from '../store/job-listing.js';
import { JobStateError } from '../core/errors.js';
import {
  JOB_WORKFLOW_TYPE,
  jobSearchAttributes,
  jobSummary,
  jobWorkflowId,
  type JobWorkflowInput,
} from '../core/job-workflow-contract.js';

export interface JobStart {
  job: string;
  user: string | null;
  /** FAILED → INCOMING, then run again. */
  resubmit?: boolean;
  /** Ask the server to hand the first workflow task to this process's worker (the frontend socket lives in the worker). */
  eager?: boolean;
  /** Where the row is read when a completed run of the same ID refuses the start (see above). */
  db?: Pick<mysql.Pool, 'query'> | Pick<mysql.PoolConnection, 'query'>;
}

/** Whether the job's row (read now) is one that has not finished. */
async function rowUnfinished(db: NonNullable<JobStart['db']>, job: string): Promise<boolean> {
  const state = await readJobState(db, job);
  return state === 'INCOMING' || (IN_FLIGHT_STATES as readonly string[]).includes(state ?? '');
}

export type StartOutcome =
  { started: true; workflowId: string; runId: string } | { started: false; workflowId: string; reason: string };

/** How long resubmit waits for a failed run that is still closing. */
const CLOSING_RUN_WAIT_MS = 60_000;

function startOptions(config: ServiceConfig, start: JobStart) {
  const input: JobWorkflowInput = start.resubmit ? { job: start.job, resubmit: true } : { job: start.job };
  const serviceName = config.general.serviceName;
  return {
    taskQueue: config.temporal.taskQueue,
    workflowId: jobWorkflowId(serviceName, start.job),
    args: [input] as [JobWorkflowInput],
    typedSearchAttributes: jobSearchAttributes(serviceName, start.resubmit ? 'FAILED' : 'INCOMING', start.user),
    staticSummary: jobSummary(serviceName, start.job, start.user),
    ...(start.eager ? { requestEagerStart: true } : {}),
  };
}

export async function startJob(client: Client, config: ServiceConfig, start: JobStart): Promise<StartOutcome> {
  const options = startOptions(config, start);
  const { workflowId } = options;
  if (!start.resubmit) {
    const policies = {
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    };
    try {
      const handle = await client.workflow
        .start(JOB_WORKFLOW_TYPE, { ...options, ...policies })
        .catch((error: Error) => {
          // Eager start needs a client that shares its connection with a worker; without one, start plainly.
          if (!options.requestEagerStart || error instanceof WorkflowExecutionAlreadyStartedError) throw error;
          return client.workflow.start(JOB_WORKFLOW_TYPE, {
            ...startOptions(config, { ...start, eager: false }),
            ...policies,
          });
        });
      return { started: true, workflowId, runId: handle.firstExecutionRunId };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      if (start.db && (await rowUnfinished(start.db, start.job))) {
        // An earlier job's completed run holds the ID: this row is a new job.
        const handle = await client.workflow.start(JOB_WORKFLOW_TYPE, {
          ...startOptions(config, { ...start, eager: false }),
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        });
        return { started: true, workflowId, runId: handle.firstExecutionRunId };
      }
      return {
        started: false,
        workflowId,
        reason: 'its workflow already completed; a finished job is not started again',
      };
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await client.workflow.start(JOB_WORKFLOW_TYPE, {
        ...options,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      return { started: true, workflowId, runId: handle.firstExecutionRunId };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError) || attempt > 0) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          throw new JobStateError(
            start.job,
            `its previous run (${workflowId}) is still open after ${CLOSING_RUN_WAIT_MS / 1000} s; ` +
              'wait for it to end (or terminate it in the Web UI), then resubmit',
          );
        }
        throw error;
      }
      // The failed run is still closing (e-mailing the admin): wait for it, then start anew.
      const closing = client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => undefined);
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, CLOSING_RUN_WAIT_MS).unref())]);
    }
  }
}
