/**
 * Submitting a run and waiting for it. The wait is a heartbeating activity:
 * if its worker dies, Temporal retries it on another worker, which picks up
 * the same run by its id.
 */
import { Context } from '@temporalio/activity';
import { RunDiedError, RunFailedError } from '../core/errors.js';
import type { RunResults, RunnerKind, RunnerSpec } from '../core/runner-spec.js';
import type { Pool } from './database.js';
import { readJob } from './job-row.js';
import { runnerFor, type RunnerRegistry } from './runners/index.js';
import { readJobStateFile } from './runners/job-state-file.js';
import { createStatusPoller, type StatusPoller } from './runners/status-poller.js';

export interface SubmittedRun {
  kind: RunnerKind;
  /** The scheduler's id; `runner_id` in the row is `<runner name>:<id>`. */
  id: string;
  directory: string;
  cycle: number;
}

export interface RunActivityOptions {
  /** How long to wait for `job-state` to say DONE after the scheduler lets go of a job (NFS caches). */
  jobStateGraceMs?: number;
  heartbeatEveryMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createRunActivities(pool: Pool, runners: RunnerRegistry, options: RunActivityOptions = {}) {
  const { jobStateGraceMs = 30000, heartbeatEveryMs = 5000 } = options;
  const pollers = new Map<RunnerKind, StatusPoller>();
  const pollerFor = (kind: RunnerKind): StatusPoller => {
    let poller = pollers.get(kind);
    if (!poller) {
      poller = createStatusPoller(runnerFor(runners, kind));
      pollers.set(kind, poller);
    }
    return poller;
  };

  async function waitForDone(run: SubmittedRun, job: string, detail: string | undefined): Promise<void> {
    const deadline = Date.now() + jobStateGraceMs;
    for (;;) {
      if ((await readJobStateFile(run.directory)) === 'DONE') return;
      if (Date.now() >= deadline) break;
      await sleep(Math.min(500, jobStateGraceMs));
    }
    const state = (await readJobStateFile(run.directory)) ?? 'missing';
    throw new RunDiedError(
      `job ${job}: its ${runnerFor(runners, run.kind).name} run ${run.id} ended but job-state says "${state}", not DONE, ` +
        `after ${jobStateGraceMs / 1000} s: the run died (node lost, killed for time or memory, or the script exited early)` +
        (detail ? `. ${detail}` : ''),
    );
  }

  const activities = {
    async submitRun(input: { job: string; cycle: number; spec: RunnerSpec }): Promise<SubmittedRun> {
      const { job, cycle, spec } = input;
      const row = await readJob(pool, job);
      if (row.directory === null) throw new RunFailedError(`job ${job} has no directory to run in`);
      const backend = runnerFor(runners, spec);
      // Heartbeats let Temporal notice a dead worker within seconds and retry
      // elsewhere; the retry then finds the run by its submission record.
      const context = Context.current();
      context.heartbeat();
      const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
      let id: string;
      try {
        id = await backend.submit({ name: job, directory: row.directory, cycle }, spec);
      } finally {
        clearInterval(beat);
      }
      await pool.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`${backend.name}:${id}`, job]);
      return { kind: spec.kind, id, directory: row.directory, cycle };
    },

    async waitForRun(input: { job: string; run: SubmittedRun }): Promise<{ results?: RunResults }> {
      const { job, run } = input;
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
      try {
        const status = await pollerFor(run.kind).wait(
          { name: job, directory: run.directory, cycle: run.cycle, id: run.id },
          {
            signal: context.cancellationSignal,
            onUnknown: (reason) => context.log.warn(`status of ${job} unknown, still waiting: ${reason}`),
          },
        );
        if (status.state === 'failed') throw new RunFailedError(`job ${job}: ${status.reason}`);
        await waitForDone(run, job, status.detail);
        return status.results ? { results: status.results } : {};
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
    /** Status queries made so far, per runner kind; for tests and metrics. */
    statusQueries(): Record<string, number> {
      return Object.fromEntries([...pollers].map(([kind, poller]) => [kind, poller.queries]));
    },
    close(): void {
      for (const poller of pollers.values()) poller.close();
    },
  };
}
