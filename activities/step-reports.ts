/**
 * Reports of the service step a job runs, to the job's own workflow run
 * (the `progress` signal), so that its account (the `jobStatus` query, the
 * Web UI's details) names the step and the row's state while it runs.
 *
 * When to report. A step runs inside `advanceJob`, a local activity. While
 * it runs, the workflow answers queries only at the workflow tasks the
 * worker sends to keep the advance alive: one every 8 s (80 % of the 10 s
 * task timeout) from the advance's start. Those are the only instants the
 * account can be read before the advance returns, and each carries the
 * signals received before it. So a step is reported only if it is still
 * running 2 s before such an instant (or at once, if it starts later than
 * that): a quick step costs nothing, and a report never arrives as the
 * workflow completes: the advance returns how many it sent (`settle`) and
 * the workflow waits for them before it goes on. Once a step was reported, the end of it and every later step of the same advance
 * are reported at once, so the account never keeps a step that has ended.
 *
 * A report goes to the run that called the advance, by run ID: an abandoned
 * call (its job cancelled, then resubmitted) never touches a newer run.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { PROGRESS_SIGNAL, type JobProgress, type RunningStep } from '../core/job-workflow-contract.js';
import type { JobRow } from '../store/job-row.js';
import type { StepStartReport } from '../engine/service-steps.js';

/** The worker's keep-alive workflow task while a local activity runs (the SDK: 80 % of the 10 s task timeout). */
export const KEEPALIVE_TASK_MS = 8000;
/** How long before a keep-alive task a step still running is reported (a signal takes milliseconds). */
const REPORT_MARGIN_MS = 2000;

/** Milliseconds from now until a step running since `advanceStart` must be reported (0: now). */
export function reportDelay(advanceStart: number, now: number): number {
  const into = (now - advanceStart) % KEEPALIVE_TASK_MS;
  const due = KEEPALIVE_TASK_MS - REPORT_MARGIN_MS;
  return into >= due ? 0 : due - into;
}

export interface StepReports {
  report: StepStartReport;
  /**
   * Waits for the reports the current advance sent and says how many reached the workflow. The advance
   * returns the count, and the workflow waits for that many signals before it ends: a signal it has not
   * seen when it completes would fail that workflow task, and the replay would run the advance (its
   * steps) again.
   */
  settle(): Promise<number>;
}

export function createStepReports(client: () => Client | undefined, log: Logger): StepReports {
  /** Per advance call: the reports sent (each resolves true once accepted by Temporal). */
  const sentBy = new WeakMap<object, Promise<boolean>[]>();

  const report = (row: JobRow, step: RunningStep) => {
    let context: Context;
    try {
      context = Context.current();
    } catch {
      return () => undefined; // Not in an activity (a step called directly): no workflow to tell.
    }
    const { workflowExecution, attempt, currentAttemptScheduledTimestampMs } = context.info;
    const temporal = client();
    if (!workflowExecution || !temporal) return () => undefined;
    const send = (progress: JobProgress) => {
      // A cancelled advance ends its workflow (stop, cancel) without waiting for reports: one landing as it
      // completes would fail that task, and the replay would run the step again. So none after a cancel.
      if (context.cancellationSignal.aborted) return;
      const sent = sentBy.get(context) ?? [];
      sentBy.set(context, sent);
      const accepted = temporal.connection
        .withDeadline(Date.now() + 5000, () =>
          temporal.workflow
            .getHandle(workflowExecution.workflowId, workflowExecution.runId)
            .signal(PROGRESS_SIGNAL, progress),
        )
        .then(
          () => true,
          (error: Error) => {
            if (!(error instanceof WorkflowNotFoundError)) {
              log.warn(`could not show ${step.name} of job ${row.name} as running: ${error.message}`);
            }
            return false;
          },
        );
      sent.push(accepted);
    };
    // A retried advance may have been rescheduled by a timer: its keep-alive tasks are not aligned, report now.
    const delay = sentBy.has(context) || attempt > 1 ? 0 : reportDelay(currentAttemptScheduledTimestampMs, Date.now());
    let sent = false;
    const timer = setTimeout(() => {
      sent = true;
      send({ state: row.state, step });
    }, delay);
    return () => {
      clearTimeout(timer);
      if (sent) send({ state: row.state });
    };
  };

  async function settle(): Promise<number> {
    let context: Context;
    try {
      context = Context.current();
    } catch {
      return 0;
    }
    const sent = sentBy.get(context);
    if (!sent) return 0;
    return (await Promise.all(sent)).filter(Boolean).length;
  }

  return { report, settle };
}
