/**
 * How each kind of activity is timed and retried, shared by every workflow.
 * Infrastructure faults (MySQL gone, a deadlock, a scheduler timing out)
 * retry with backoff; the error types in NON_RETRYABLE_ERRORS describe the
 * job or the service and fail the job at once.
 */
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { SaliflowActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERRORS } from '../core/errors.js';

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

/** Row and directory updates, queries, admission: short; MySQL may be briefly gone (50 tries ≈ 45 min). */
export const store = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: retrying('1s', '1 minute', 50),
});

/** Service steps: a step's exception is a ServiceStepError (non-retryable); faults around it retry a few times. */
export const steps = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '2 hours',
  retry: retrying('2s', '1 minute', 5),
});

/**
 * Submitting to a scheduler: heartbeats, so a worker killed mid-submission is
 * noticed in seconds; the retry finds the job by its submission record.
 */
export const submitting = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: retrying('1s', '1 minute', 50),
});

/** E-mail to the admin: a mail outage must not hold a job up for long. */
export const mail = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '1 minute',
  retry: retrying('5s', '5 minutes', 10),
});

/**
 * Waiting for a cluster run: long, heartbeating (every 5 s), resumed on
 * another worker within 20 s of a crash, on the service's wait queue (see
 * worker/create-worker.ts). Built per workflow: the queue depends on its own.
 */
export function waitingActivities() {
  return proxyActivities<SaliflowActivities>({
    taskQueue: `${workflowInfo().taskQueue}-waits`,
    startToCloseTimeout: '60 days',
    heartbeatTimeout: '20 seconds',
    retry: retrying('5s', '5 minutes'),
  });
}
