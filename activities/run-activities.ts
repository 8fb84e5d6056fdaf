/**
 * Waiting for a submitted run, and cancelling it. The wait is a heartbeating activity:
 * if its worker dies, Temporal retries it on another worker, which picks up
 * the same run by its id.
 */
import { Context } from '@temporalio/activity';
import type { SubmittedRun } from '../engine/run-cycle-record.js';
import { RunDiedError, RunFailedError } from '../core/errors.js';
import type { RunResults, RunnerKind } from '../core/runner-spec.js';
import { runnerFor, type RunnerRegistry } from '../engine/runners/index.js';
import { readJobStateFile } from '../engine/runners/job-state-file.js';
import { createStatusPoller, type OutageEvent, type StatusPoller } from '../engine/runners/status-poller.js';
import type { FinalRunStatus } from '../engine/runners/runner.js';
import { describeCauseAndUsage, runCause } from '../engine/runners/run-cause.js';
import type { RunCauseReport } from '../core/run-causes.js';
import type { JobMetrics } from '../engine/job-metrics.js';
import { updateLogContext } from '../engine/log-context.js';
import { sleep } from '../core/sleep.js';

export type { SubmittedRun };

export interface RunActivityOptions {
  /** Status queries are counted and timed here. */
  metrics?: Pick<JobMetrics, 'statusQueried'>;
  /** A scheduler's status query failed many intervals in a row (`down`), or answers again (`up`). */
  onStatusOutage?: (runner: RunnerKind, event: OutageEvent) => void;
  /** How long to wait for `job-state` to say DONE after the scheduler lets go of a job (NFS caches). */
  jobStateGraceMs?: number;
  heartbeatEveryMs?: number;
}

export function createRunActivities(runners: RunnerRegistry, options: RunActivityOptions = {}) {
  const { jobStateGraceMs = 30000, heartbeatEveryMs = 5000, metrics } = options;
  const pollers = new Map<RunnerKind, StatusPoller>();
  const pollerFor = (kind: RunnerKind): StatusPoller => {
    let poller = pollers.get(kind);
    if (!poller) {
      poller = createStatusPoller(
        runnerFor(runners, kind),
        (seconds, ok) => metrics?.statusQueried(kind, seconds, ok),
        (event) => options.onStatusOutage?.(kind, event),
      );
      pollers.set(kind, poller);
    }
    return poller;
  };

  /** The typed cause of a run that ended without DONE, from job-state and the scheduler's accounting. */
  function causeOf(status: Extract<FinalRunStatus, { state: 'finished' }>, jobState: string | undefined) {
    const { cause, usage } = runCause({
      jobState,
      endings: status.endings ?? [],
      accounting: 'searched',
    });
    const report: RunCauseReport = {
      kind: cause.kind,
      text: describeCauseAndUsage(cause, usage),
      ...(usage.peakMemoryBytes !== undefined ? { peakMemoryBytes: usage.peakMemoryBytes } : {}),
      ...(usage.wallclockSeconds !== undefined ? { wallclockSeconds: usage.wallclockSeconds } : {}),
      requested: {
        ...(usage.requestedMemoryBytes !== undefined ? { memoryBytes: usage.requestedMemoryBytes } : {}),
        ...(usage.requestedWallclockSeconds !== undefined ? { wallclockSeconds: usage.requestedWallclockSeconds } : {}),
      },
      ...(cause.kind === 'exit_code' ? { exitCode: cause.code } : {}),
    };
    return report;
  }

  async function waitForDone(
    run: SubmittedRun,
    job: string,
    status: Extract<FinalRunStatus, { state: 'finished' }>,
  ): Promise<void> {
    const detail = status.detail;
    const deadline = Date.now() + jobStateGraceMs;
    for (;;) {
      if ((await readJobStateFile(run.directory)) === 'DONE') return;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(500, jobStateGraceMs));
    }
    const jobState = await readJobStateFile(run.directory);
    const state = jobState ?? 'missing';
    const cause = causeOf(status, jobState);
    throw new RunDiedError(
      `job ${job}: run cause ${cause.text}: ` +
        `its ${runnerFor(runners, run.kind).name} run ${run.id} ended but job-state says "${state}", not DONE, ` +
        `after ${jobStateGraceMs / 1000} s: the run died (node lost, killed for time or memory, or the script exited early)` +
        (detail ? `. ${detail}` : ''),
      cause,
    );
  }

  /** What a run that left the scheduler amounts to: its results, or the error that fails the job. */
  async function outcome(job: string, run: SubmittedRun, status: FinalRunStatus): Promise<{ results?: RunResults }> {
    if (status.state === 'failed') throw new RunFailedError(`job ${job}: ${status.reason}`);
    await waitForDone(run, job, status);
    return status.results ? { results: status.results } : {};
  }

  const handleOf = (job: string, run: SubmittedRun) => ({
    name: job,
    directory: run.directory,
    cycle: run.cycle,
    id: run.id,
  });

  /** Resolves with the run's outcome once its scheduler lets go of it; rejects as the job must fail. */
  async function awaitRun(
    job: string,
    run: SubmittedRun,
    options: { signal?: AbortSignal; onUnknown?: (reason: string) => void } = {},
  ): Promise<{ results?: RunResults }> {
    return outcome(job, run, await pollerFor(run.kind).wait(handleOf(job, run), options));
  }

  const activities = {
    /** Workflows started before the run watcher existed still wait this way (see job-workflow.ts). */
    async waitForRun(input: { job: string; run: SubmittedRun }): Promise<{ results?: RunResults }> {
      const { job, run } = input;
      updateLogContext({ state: 'RUNNING' });
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
      try {
        return await awaitRun(job, run, {
          signal: context.cancellationSignal,
          onUnknown: (reason) => context.log.warn(`status of ${job} unknown, still waiting: ${reason}`),
        });
      } finally {
        clearInterval(beat);
      }
    },

    async cancelRun(input: { job: string; run: SubmittedRun }): Promise<void> {
      const { job, run } = input;
      await runnerFor(runners, run.kind).cancel({ name: job, directory: run.directory, cycle: run.cycle, id: run.id });
    },
  };

  return {
    activities,
    awaitRun,
    /**
     * The outcome of a run that ends within `withinMs` by its runner's own
     * knowledge (a short local command), or undefined: then the job waits
     * for it with `waitForRun`. Throws as `waitForRun` does for a failed run.
     */
    async outcomeIfEndedWithin(
      job: string,
      run: SubmittedRun,
      withinMs: number,
    ): Promise<{ results?: RunResults } | undefined> {
      const backend = runnerFor(runners, run.kind);
      const handle = handleOf(job, run);
      if (!backend.endedWithin || !(await backend.endedWithin(handle, withinMs))) return undefined;
      const status = (await backend.status([handle])).get(run.id);
      if (!status || status.state === 'running' || status.state === 'unknown') return undefined;
      return outcome(job, run, status);
    },
    /** Status queries made so far, per runner kind; for tests and metrics. */
    statusQueries(): Record<string, number> {
      return Object.fromEntries([...pollers].map(([kind, poller]) => [kind, poller.queries]));
    },
    close(): void {
      for (const poller of pollers.values()) poller.close();
    },
  };
}
