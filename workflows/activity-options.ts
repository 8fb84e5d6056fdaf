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
 * saliflow's own bookkeeping (`advanceJob`, `failJob`) runs as local
 * activities: no round trip through the server per state change, one
 * workflow task per phase. If the worker dies, its workflow task times out
 * and another worker replays the job and runs the call again; `advanceJob`
 * resumes from the row, so that is safe. MySQL may be briefly gone (50 tries
 * ≈ 45 min). Its 2 hours hold `run`/`rerun`, which stay inside the advance
 * when their limit allows (at most 110 minutes: engine/service-steps.ts).
 */
export const local = proxyLocalActivities<SaliflowActivities>({
  startToCloseTimeout: '2 hours',
  retry: retrying('1s', '1 minute', 50),
});

/** How much longer than its limit a step's activity may take: the step's own timer fails it first. */
const STEP_TIMEOUT_MARGIN_MS = 60_000;

/**
 * A service step (`runStep`): a regular activity named by the step (its ID
 * and summary in the Web UI's pending activities), bounded by the step's
 * limit (StepTimeoutError at the limit, from the step's own timer), and
 * heartbeating, so a worker that dies mid-step is noticed within 10 s and
 * the step runs again elsewhere (or, with `interruptedSteps: 'fail'`, fails
 * the job). A step that throws fails the job (ServiceStepError is
 * non-retryable). A cancel reaches the step at its next heartbeat.
 */
export function stepActivity(step: { name: string; cycle: number; timeoutMs: number }, summary: string) {
  return proxyActivities<SaliflowActivities>({
    activityId: step.cycle > 1 ? `${step.name} (cycle ${step.cycle})` : step.name,
    summary,
    startToCloseTimeout: step.timeoutMs + STEP_TIMEOUT_MARGIN_MS,
    heartbeatTimeout: '10 seconds',
    retry: retrying('1s', '1 minute', 50),
  });
}

/** Maintenance work (reconcile, old jobs, archive, expire): regular activities, visible one by one. */
export const store = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: retrying('1s', '1 minute', 50),
});

/**
 * Archiving and expiring a job (its `archive`/`expire` step inside): bounded by the step's own limit, which may
 * be days (`stepTimeouts`); a dead worker is noticed by the heartbeat.
 */
export const oldJobSteps = proxyActivities<SaliflowActivities>({
  startToCloseTimeout: '25 days',
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
