/**
 * Starts the workflow of every INCOMING job that has none: rows inserted by
 * a legacy saliweb frontend, or whose start was lost (Temporal unreachable
 * at submit time). Run by a Schedule every `[backend] check_minutes`, the
 * polling fallback saliweb's daemon had. Also deletes abandoned INCOMING
 * folders.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { SaliflowActivities } from '../activities/index.js';
import { jobWorkflow } from './job-workflow.js';
import { JOB_SERVICE, JOB_STATE, JOB_USER } from './search-attributes.js';

const store = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export async function reconcileWorkflow(input: {
  serviceName: string;
}): Promise<{ started: string[]; deleted: string[] }> {
  const started: string[] = [];
  for (const { job, user } of await store.findIncomingJobs()) {
    try {
      await startChild(jobWorkflow, {
        args: [{ job }],
        workflowId: `${input.serviceName}/${job}`,
        taskQueue: workflowInfo().taskQueue,
        // The job outlives this run of the reconciler.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: JOB_SERVICE, value: input.serviceName },
          { key: JOB_STATE, value: 'INCOMING' },
          ...(user ? [{ key: JOB_USER, value: user }] : []),
        ],
      });
      started.push(job);
    } catch (error) {
      // Already running (the usual case): nothing to do.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
  const deleted = await store.deleteAbandonedIncoming();
  return { started, deleted };
}
