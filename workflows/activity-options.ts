/**
 * How each kind of activity is timed and retried, shared by every workflow.
 * Infrastructure faults (MySQL gone, a deadlock, a scheduler timing out)
 * retry with backoff; the error types in NON_RETRYABLE_ERRORS describe the
 * job or the service and fail the job at once.
 */
import { proxyActivities, proxyLocalActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { SaliflowActivities } from '../activities/index.js';
import type { SubmittedRun } from '../engine/run-cycle-record.js';
import { NON_RETRYABLE_ERRORS } from '../core/errors.js';
import { hostQueue, waitQueue } from '../core/job-workflow-contract.js';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERRORS];

function retrying(
  initialInterval: string,
  maximumInterval: string,
  maximumAttempts?: number,
): ActivityOptions['retry'] {
  return {
    initialInterval,
    backoffCoefficient: 2,
    maximumInterval,
    ...(maximumAttempts !== undefined ? { maximumAttempts } : {}),
    nonRetryableErrorTypes,
  };
}

/**
 * A job's steps and state changes (`advanceJob`, `failJob`) run as local
 * activities: no round trip through the server per step, one workflow task
 * per phase. If the worker dies, its workflow task times out and another
 * worker replays the job and runs the call again; `advanceJob` resumes from
 * the row, so that is safe. MySQL may be briefly gone (50 tries ≈ 45 min);
 * a step itself may run long (its worker keeps the workflow task alive).
 */
export const local = proxyLocalActivities<SaliflowActivities>({
  startToCloseTimeout: '2 hours',
  retry: retrying('1s', '1 minute', 50),
});

/** Maintenance work (reconcile, old jobs, archive, expire): regular activities, visible one by one. */
export const store = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: retrying('1s', '1 minute', 50),
});

/** E-mail to the admin: a mail outage must not hold a job up for long. */
export const mail = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: retrying('5s', '5 minutes', 10),
});

/**
 * Where a run is waited for and cancelled: a local process on the host that
 * started it (its own task queue), a cluster or web-service run on the
 * service's shared wait queue (see worker/create-worker.ts). Long,
 * heartbeating (every 5 s), resumed on another worker within 20 s of a crash.
 */
export function runActivities(run: SubmittedRun) {
  const { taskQueue } = workflowInfo();
  return proxyActivities<SaliflowActivities>({
    taskQueue: run.kind === 'local' && run.host ? hostQueue(taskQueue, run.host) : waitQueue(taskQueue),
    startToCloseTimeout: '60 days',
    heartbeatTimeout: '20 seconds',
    retry: retrying('5s', '5 minutes'),
  });
}
