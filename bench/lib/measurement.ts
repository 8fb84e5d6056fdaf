/**
 * What one measured run (saliflow's or the floor's) reports, and the
 * pieces both compute the same way: the sampling window, CPU and memory
 * per job, and history figures per job.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { loadAverage } from './machine.js';
import type { OfferedLoad } from './offered-load.js';
import { sampleProcesses, type RoleUsage, type Sampling } from './process-sampler.js';
import { samplingRoles, type StackPids } from './stack-processes.js';
import { perJob, tallyHistories } from './temporal.js';
import { round, sleep, type Percentiles } from './stats.js';

export interface ModeSpec {
  jobs: number;
  load: OfferedLoad;
  /** `[limits] running` (saliflow only). */
  limit: number;
  workers: number;
  runner: 'nothing' | 'true' | 'rerun' | 'steps';
}

export interface HistoryFigures {
  listedByWorkflowType: Record<string, number>;
  fetched: number;
  eventsPerJob: number;
  workflowTasksPerJob: number;
  activityTasksPerJob: number;
  markersPerJob: number;
  timersPerJob: number;
  byEventTypePerJob: Record<string, number>;
}

export interface Measurement {
  jobs: number;
  completed: number;
  /** First submission → last completion. */
  seconds: number;
  jobsPerSecond: number;
  /** slotHandoff: a freed slot to the next admission while jobs waited (limit binding only). */
  latencyMs: { toRunning?: Percentiles; toCompleted: Percentiles; slotHandoff?: Percentiles };
  history: HistoryFigures;
  /** CPU milliseconds per job over the window (worker processes summed). */
  cpuMsPerJob: { worker: number; temporal: number; mariadb: number; workerChildren: number };
  usage: Record<string, RoleUsage>;
  windowSeconds: number;
  loadAverage: { before: number[]; after: number[] };
  sql?: SqlFigures;
  notes: string[];
}

export interface SqlFigures {
  method: string;
  /** The worker processes' statements (the backend user), per job. */
  backendPerJob: number;
  backendBreakdownPerJob: { select: number; update: number; other: number };
  /** The frontend's (the benchmark's INSERTs), per job. */
  frontendPerJob: number;
  /** Server-wide `Questions` delta minus the benchmark's own statements, per job (includes other clients). */
  globalQuestionsPerJob: number;
}

/** A sampling window over the workers and the shared servers, with the load average at both ends. */
export function openWindow(workerPids: readonly number[], stack: StackPids) {
  const before = loadAverage();
  const startedAt = performance.now();
  const sampling: Sampling = sampleProcesses(samplingRoles(workerPids, stack));
  return {
    sampling,
    /**
     * Lets trailing work finish (the last workflow tasks after the last job's
     * state), until the workers use under 5% of a core over half a second
     * (at most `maxMs`), then closes the window.
     */
    async close(maxMs = 15_000) {
      const deadline = Date.now() + maxMs;
      let previous = sampling.cpuSoFar('worker');
      while (Date.now() < deadline) {
        await sleep(500);
        const now = sampling.cpuSoFar('worker');
        const quiet = now - previous < 0.025 * Math.max(1, workerPids.length);
        previous = now;
        if (quiet) break;
      }
      const usage = sampling.stop();
      return {
        usage,
        windowSeconds: (performance.now() - startedAt) / 1000,
        loadAverage: { before, after: loadAverage() },
      };
    },
  };
}

export function cpuMsPerJob(usage: Record<string, RoleUsage>, jobs: number) {
  const per = (role: string, key: 'cpuSeconds' | 'childCpuSeconds' = 'cpuSeconds') =>
    round(((usage[role]?.[key] ?? 0) * 1000) / jobs, 4);
  return {
    worker: per('worker'),
    temporal: per('temporal'),
    mariadb: per('mariadb'),
    workerChildren: per('worker', 'childCpuSeconds'),
  };
}

/** Tallies (a sample of) the histories of the listed workflow runs, per job. */
export async function historyFigures(
  client: Client,
  listed: readonly WorkflowExecutionInfo[],
  jobs: number,
  sample: number,
): Promise<{ figures: HistoryFigures; workflowTaskTimes: number[]; scale: number }> {
  const tally = await tallyHistories(client, listed, sample);
  const figures = perJob(tally, jobs);
  const byEventTypePerJob = Object.fromEntries(
    Object.entries(figures.byEventType)
      .sort(([, a], [, b]) => b - a)
      .map(([name, count]) => [name, round(count, 4)]),
  );
  return {
    figures: {
      listedByWorkflowType: tally.listed,
      fetched: tally.fetched,
      eventsPerJob: round(figures.events, 4),
      workflowTasksPerJob: round(figures.workflowTasks, 4),
      activityTasksPerJob: round(figures.activityTasks, 4),
      markersPerJob: round(figures.markers, 4),
      timersPerJob: round(figures.timers, 4),
      byEventTypePerJob,
    },
    workflowTaskTimes: tally.workflowTaskTimes,
    scale: tally.fetched === 0 ? 0 : listed.length / tally.fetched,
  };
}
