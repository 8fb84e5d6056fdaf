/**
 * One workflow per job (ID `<service>/<job name>`). The job's progress lives
 * in its row: `advanceJob` (a local activity) takes the job as far as it can
 * go and says where it must wait; this workflow only waits (for the
 * admitter's signal, for a run), runs the service's steps the advance hands
 * it (the `runStep` activity, one per step the service defines) and asks
 * again. So a do-nothing job is one workflow task, a job with a run two, and
 * a run that resumes after any crash simply asks the row where it was.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { AdvanceInput, AdvanceResult } from '../engine/job-advance.js';
import type { StepRequest } from '../engine/service-steps.js';
import { firstLine } from '../core/text.js';
import { WORKFLOW_FAILURE } from '../core/errors.js';
import type { SubmittedRun } from '../engine/run-cycle-record.js';
import {
  admittedSignal,
  cancelJobSignal,
  CANCELLED_BY_ADMIN,
  describeStep,
  JOB_STATE,
  jobStatusQuery,
  progressSignal,
  runEndedSignal,
  runUnknownSignal,
  STOPPED_FAILURE_TYPE,
  waitingSignal,
  type JobStatus,
  type RunningStep,
  type RunEnded,
  type JobWorkflowInput,
} from '../core/job-workflow-contract.js';
import type { JobState } from '../core/states.js';
import { local, mail, runActivities, stepActivity } from './activity-options.js';
import { endAsFailed } from './fail-job.js';

export type { JobStatus, JobWorkflowInput };
export { CANCELLED_BY_ADMIN };

export {
  admittedSignal,
  cancelJobSignal,
  jobStatusQuery,
  progressSignal,
  runEndedSignal,
  runUnknownSignal,
  waitingSignal,
};

/** Histories from before the run watcher waited in a `waitForRun` activity; they replay that way. */
const RUN_WATCHER_PATCH = 'run-watcher';
/** Before it, a cancel that came before the workflow knew of a run deleted none (an adopted run cancelled early). */
const CANCEL_RECORDED_RUN_PATCH = 'cancel-recorded-run';
/** Before it, a Temporal cancellation (the Web UI's "Request Cancellation") failed the job but left its run. */
const TEMPORAL_CANCEL_PATCH = 'temporal-cancel-ends-run';
/** Before it, a failing `complete` step or completion e-mail left the job COMPLETED and only mailed the admin. */
const COMPLETE_FAILURE_FAILS_JOB_PATCH = 'complete-failure-fails-job';
/** The failure text of a job whose workflow was cancelled through Temporal rather than `saliflow cancel`. */
const CANCELLED_THROUGH_TEMPORAL =
  'workflow cancellation requested through Temporal (Web UI or `temporal workflow cancel`)';

function detailsLine(status: JobStatus): string {
  if (status.waiting) return `${status.state}: ${status.waiting}`;
  if (status.step) return `${status.state}: ${describeStep(status.step)}`;
  const run = status.run ? `, ${status.state === 'RUNNING' ? 'on' : 'last run'} ${status.run}` : '';
  const unknown = status.unknown ? `: status unknown: ${status.unknown}` : '';
  const retry = status.retry ? `; ${status.retry}` : '';
  return `${status.state}${status.cycle > 0 ? ` (cycle ${status.cycle}${run}${retry})` : ''}${unknown}`;
}

export async function jobWorkflow(input: JobWorkflowInput): Promise<JobState> {
  const { job } = input;
  let cancelReason: string | undefined;
  let stopOnly = false;
  let admitted = false;
  let waitingForSlot = false;
  /** Histories of earlier versions only: step reports received, and sent as their advances said. */
  let progressSeen = 0;
  let progressSent = 0;
  let activeRun: SubmittedRun | undefined;
  // By run, not just the current one: an end may be signalled in the same activation as the advance that submitted it.
  const runsEnded = new Map<string, RunEnded>();
  const runKey = (run: { cycle: number; id: string }) => `${run.cycle}/${run.id}`;
  const lifecycle = new CancellationScope();
  // Per-execution state lives in this closure, never at module level.
  let status: JobStatus = { state: input.resubmit ? 'FAILED' : 'INCOMING', cycle: 0 };
  let published: JobState = status.state;
  const show = (update: Partial<JobStatus>) => {
    status = { ...status, ...update };
    if (!status.waiting) delete status.waiting;
    if (!status.unknown) delete status.unknown;
    if (!status.retry) delete status.retry;
    if (!status.step) delete status.step;
    setCurrentDetails(detailsLine(status));
  };
  /** JobState is set once per state the job rests in, not per state passed through in one task. */
  const publish = () => {
    if (status.state === published) return;
    upsertSearchAttributes([{ key: JOB_STATE, value: status.state }]);
    published = status.state;
  };
  setHandler(jobStatusQuery, () => status);
  setHandler(admittedSignal, () => {
    admitted = true;
  });
  setHandler(waitingSignal, (reason) => {
    // A reason that arrives after the job moved on is stale: ignored.
    if (waitingForSlot && !admitted && typeof reason === 'string') show({ waiting: reason });
  });
  // Old runs only (see progressSignal): counted, and nothing else.
  setHandler(progressSignal, () => {
    progressSeen++;
  });
  setHandler(runEndedSignal, (ended) => {
    if (!runsEnded.has(runKey(ended))) runsEnded.set(runKey(ended), ended);
  });
  setHandler(runUnknownSignal, (unknown) => {
    // Only about the run the job waits for now: a late word on an earlier run is stale.
    if (activeRun && activeRun.cycle === unknown.cycle && activeRun.id === unknown.id)
      show({ unknown: unknown.reason });
  });
  setHandler(cancelJobSignal, (reason, options) => {
    if (cancelReason === undefined) stopOnly = options?.stopOnly === true;
    // The SDK's sink sends this to the worker's log once, not again on replay.
    log.info(`cancel requested: ${reason ?? CANCELLED_BY_ADMIN}`, { state: status.state });
    cancelReason ??= reason ?? CANCELLED_BY_ADMIN;
    lifecycle.cancel();
  });
  show({});

  /** How the run ended, as `advanceJob` takes it (which fails the job only if its row still waits for this run). */
  async function waitForRun(run: SubmittedRun): Promise<NonNullable<AdvanceInput['finished']>> {
    if (!patched(RUN_WATCHER_PATCH)) {
      const { results } = await runActivities(run).waitForRun({ job, run });
      return { cycle: run.cycle, ...(results ? { results } : {}) };
    }
    await condition(() => runsEnded.has(runKey(run)));
    const ended = runsEnded.get(runKey(run))!;
    if ('failure' in ended) return { cycle: run.cycle, failure: ended.failure };
    return { cycle: run.cycle, ...(ended.results ? { results: ended.results } : {}) };
  }

  /** A step the advance handed over, as `jobStatus`, `show` and the Web UI name it from its start. */
  const runningStep = (step: StepRequest): RunningStep => ({
    name: step.name,
    startedAt: new Date().toISOString(),
    timeoutMs: step.timeoutMs,
    limitKey: step.limitKey,
  });

  let outcome: Extract<AdvanceResult, { next: 'done' }>;
  try {
    outcome = await lifecycle.run(async () => {
      // No patch is needed (nor its marker's two events per job): replay takes each advance's result from its
      // marker, so a run recorded while steps ran inside the advance replays as it was, and its next advance,
      // past the recorded history, hands its steps over.
      const base: AdvanceInput = { job, stepsApart: true };
      let request: AdvanceInput = input.resubmit ? { ...base, resubmit: true } : base;
      for (;;) {
        const result = await local.advanceJob(request);
        // Old runs only: a report not yet seen when the workflow completed failed that task.
        progressSent += result.reports ?? 0;
        if (progressSeen < progressSent) await condition(() => progressSeen >= progressSent);
        const step = result.next === 'step' ? runningStep(result.step) : undefined;
        show({
          state: result.state,
          waiting: result.next === 'admission' || result.next === 'disk' ? result.reason : undefined,
          unknown: undefined,
          step,
          ...(result.lastRun ? { cycle: result.lastRun.cycle, run: result.lastRun.label, retry: result.retry } : {}),
        });
        if (result.next === 'done') return result;
        publish();
        if (result.next === 'step') {
          const { name, state, cycle } = result.step;
          const stepOutcome = await stepActivity(result.step, describeStep(step!)).runStep(result.step);
          request = { ...base, stepDone: { name, state, cycle, outcome: stepOutcome } };
          continue;
        }
        if (result.next === 'admission') {
          waitingForSlot = true;
          await condition(() => admitted);
          waitingForSlot = false;
          admitted = false;
          request = base;
          continue;
        }
        if (result.next === 'disk') {
          // A timer, not an activity retry: a cancel or a worker's shutdown is never held up by the wait.
          await sleep(result.retryInMs);
          request = { ...request, diskWait: result.diskWait };
          continue;
        }
        const run = result.run;
        activeRun = run;
        const finished = await waitForRun(run);
        activeRun = undefined;
        request = { ...base, finished };
      }
    });
  } catch (error) {
    return CancellationScope.nonCancellable(async () => {
      // Cancelled through Temporal, not by our signal: the run goes as with `saliflow cancel`.
      if (cancelReason === undefined && isCancellation(error) && patched(TEMPORAL_CANCEL_PATCH)) {
        log.info(`cancel requested: ${CANCELLED_THROUGH_TEMPORAL}`, { state: status.state });
        cancelReason = CANCELLED_THROUGH_TEMPORAL;
      }
      if (cancelReason === undefined) return endAsFailed(job, error);
      const run = activeRun ?? (patched(CANCEL_RECORDED_RUN_PATCH) ? await local.recordedRun(job) : undefined);
      if (run) await runActivities(run).cancelRun({ job, run });
      if (stopOnly) {
        // The operator's command changes the row and the directory now (delete, failjob).
        setCurrentDetails(`stopped: ${cancelReason}`);
        throw ApplicationFailure.nonRetryable(`stopped: ${cancelReason}`, STOPPED_FAILURE_TYPE);
      }
      return endAsFailed(job, `JobCancelledError: ${cancelReason}`);
    });
  }
  publish();
  if (outcome.state === 'FAILED') {
    // The row was already FAILED (a start raced a failure): nothing to record or e-mail again.
    throw ApplicationFailure.nonRetryable(
      `job ${job} is FAILED: ${firstLine(outcome.failure ?? '')}`,
      WORKFLOW_FAILURE.jobFailed,
    );
  }
  if (outcome.needsOperator) {
    // Left for an operator, the row untouched (a RUNNING job saliweb left without a run record).
    setCurrentDetails(`${outcome.state}: ${firstLine(outcome.needsOperator)}`);
    throw ApplicationFailure.nonRetryable(outcome.needsOperator, WORKFLOW_FAILURE.needsOperator);
  }
  if (outcome.completeFailure) {
    if (!patched(COMPLETE_FAILURE_FAILS_JOB_PATCH)) {
      const failure = `the job COMPLETED, but its complete step or e-mail failed (the job stays COMPLETED): ${outcome.completeFailure}`;
      setCurrentDetails(`COMPLETED, but: ${firstLine(failure)}`);
      await mail.notifyAdminOfFailure({ job, failure });
      throw ApplicationFailure.nonRetryable(firstLine(failure), WORKFLOW_FAILURE.completeStepFailed);
    }
    // saliweb: a failing `complete` or completion e-mail fails the job (FAILED, admin mailed), COMPLETED or not.
    return endAsFailed(job, `after the job COMPLETED: ${outcome.completeFailure}`, { finished: true });
  }
  return outcome.state;
}
