/**
 * `npm run bench -- --scale`: how saliflow holds many jobs at once.
 *   1. In flight: N jobs (default 10,000) whose local run waits to be
 *      released, with `[limits] running` N: time until all are RUNNING, a
 *      15 s hold (worker and Temporal RSS and CPU), then every run released
 *      at once and the time until all are COMPLETED, each exactly once.
 *   2. Waiting: N jobs behind `[limits] running` 5 (the five running ones
 *      sleep): once all are submitted and the workers are quiet, a window (--window, 60 s)
 *      measuring the worker's SQL statements/s, workflow tasks/s (from the
 *      WorkflowTaskCompleted events in that window, in all or a sample of the
 *      histories) and CPU/s — the cost of waiting, which should be near zero.
 * Local runs are ended by pid at the end (processes under the service's folder).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { offer, type OfferedLoad } from './lib/offered-load.js';
import { historyFigures, openWindow } from './lib/measurement.js';
import { killProcessesUnder } from './lib/job-processes.js';
import { startServiceUnderTest, type ServiceUnderTest } from './lib/service-under-test.js';
import { statementDelta } from './lib/sql-counter.js';
import { listWorkflows } from './lib/temporal.js';
import { readStateAudit } from '../test/support/state-audit.js';
import { fixed, table } from './lib/report.js';
import { round, sleep } from './lib/stats.js';
import { waitUntilQuiet, type RoleUsage } from './lib/process-sampler.js';
import { jobName, waitForStates, type RunContext } from './saliflow.js';

const HOLD_SECONDS = 15;
const SETTLE_SECONDS = 10;

export interface ScaleOptions {
  jobs: number;
  /** Skip part 2 (the waiting jobs). */
  inFlightOnly: boolean;
  /** Skip part 1 (the jobs in flight). */
  waitingOnly: boolean;
  workers: number;
  windowSeconds: number;
  sleepSeconds: number;
  load: OfferedLoad;
}

const perSecond = (value: number, seconds: number) => round(value / seconds);

function memory(usage: Record<string, RoleUsage>) {
  return {
    workerPeakRssMiB: round(usage.worker?.peakRssMiB ?? NaN),
    workerEndRssMiB: round(usage.worker?.endRssMiB ?? NaN),
    temporalStartRssMiB: round(usage.temporal?.startRssMiB ?? NaN),
    temporalPeakRssMiB: round(usage.temporal?.peakRssMiB ?? NaN),
  };
}

async function withService<T>(
  options: ScaleOptions,
  limit: number,
  ctx: RunContext,
  body: (service: ServiceUnderTest) => Promise<T>,
  releaseFifo?: string,
): Promise<T> {
  const service = await startServiceUnderTest({
    limit,
    workers: options.workers,
    checkMinutes: ctx.checkMinutes,
    ...(releaseFifo
      ? { runner: 'release' as const, releaseFifo }
      : { runner: 'sleep' as const, sleepSeconds: options.sleepSeconds }),
  });
  try {
    return await body(service);
  } finally {
    await Promise.all(service.workers.map((worker) => worker.stop()));
    const killed = killProcessesUnder(service.root);
    ctx.log(`  ended ${killed} local run processes`);
    await sleep(500);
    await service.close(ctx.client);
  }
}

/** Part 1: N jobs in flight at once. */
async function inFlight(options: ScaleOptions, ctx: RunContext) {
  const fifo = path.join(os.tmpdir(), `saliflow-bench-release-${process.pid}`);
  await fs.rm(fifo, { force: true });
  execFileSync('mkfifo', [fifo]);
  try {
    return await withService(options, options.jobs, ctx, (service) => holdThenRelease(service, fifo), fifo);
  } finally {
    await fs.rm(fifo, { force: true });
  }

  async function holdThenRelease(service: ServiceUnderTest, fifo: string) {
    const window = openWindow(
      service.workers.map((worker) => worker.pid),
      ctx.stack,
    );
    const started = performance.now();
    await offer(options.jobs, options.load, (index) => service.frontend.submit(jobName(index)));
    const submittedSeconds = (performance.now() - started) / 1000;
    await waitForStates(service, (counts) => (counts.RUNNING ?? 0) >= options.jobs, ctx.timeoutMs, ctx.log);
    const allRunningSeconds = (performance.now() - started) / 1000;
    const ramp = await window.close(0);
    ctx.log(`  all ${options.jobs} RUNNING after ${allRunningSeconds.toFixed(1)} s; holding ${HOLD_SECONDS} s…`);
    const hold = openWindow(
      service.workers.map((worker) => worker.pid),
      ctx.stack,
    );
    await sleep(HOLD_SECONDS * 1000);
    const held = await hold.close(0);

    ctx.log(`  releasing every run…`);
    const releasedAt = performance.now();
    const release = new Date();
    // Opening the FIFO for writing wakes every run blocked opening it; closing it gives them end-of-file.
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    const completion = openWindow(
      service.workers.map((worker) => worker.pid),
      ctx.stack,
    );
    await waitForStates(service, (counts) => (counts.COMPLETED ?? 0) >= options.jobs, ctx.timeoutMs, ctx.log);
    const allCompletedSeconds = (performance.now() - releasedAt) / 1000;
    const finished = await completion.close(0);
    const completions = new Map<string, number>();
    for (const change of await readStateAudit(service.adminDb)) {
      if (change.to === 'COMPLETED') completions.set(change.job, (completions.get(change.job) ?? 0) + 1);
    }
    const completedTwice = [...completions.values()].filter((count) => count > 1).length;
    ctx.log(
      `  all ${options.jobs} COMPLETED ${allCompletedSeconds.toFixed(1)} s after the release ` +
        `(${completions.size} jobs completed, ${completedTwice} more than once)`,
    );
    return {
      jobs: options.jobs,
      submittedSeconds: round(submittedSeconds),
      allRunningSeconds: round(allRunningSeconds),
      jobsPerSecondToRunning: round(options.jobs / allRunningSeconds),
      ramp: { cpuSeconds: cpuSeconds(ramp.usage), ...memory(ramp.usage) },
      hold: {
        seconds: round(held.windowSeconds),
        cpuPerSecond: cpuPerSecond(held.usage, held.windowSeconds),
        ...memory(held.usage),
      },
      completion: {
        releasedAt: release.toISOString(),
        allCompletedSeconds: round(allCompletedSeconds),
        jobsPerSecond: round(options.jobs / allCompletedSeconds),
        jobsCompleted: completions.size,
        completedMoreThanOnce: completedTwice,
        cpuSeconds: cpuSeconds(finished.usage),
        ...memory(finished.usage),
      },
      usage: { ramp: ramp.usage, hold: held.usage, completion: finished.usage },
    };
  }
}

const cpuSeconds = (usage: Record<string, RoleUsage>) => ({
  worker: round(usage.worker?.cpuSeconds ?? NaN),
  temporal: round(usage.temporal?.cpuSeconds ?? NaN),
  mariadb: round(usage.mariadb?.cpuSeconds ?? NaN),
});

const cpuPerSecond = (usage: Record<string, RoleUsage>, seconds: number) => ({
  worker: perSecond(usage.worker?.cpuSeconds ?? NaN, seconds),
  temporal: perSecond(usage.temporal?.cpuSeconds ?? NaN, seconds),
  mariadb: perSecond(usage.mariadb?.cpuSeconds ?? NaN, seconds),
});

/** Part 2: N jobs waiting behind `[limits] running` 5. */
async function waiting(options: ScaleOptions, ctx: RunContext, historySample: number) {
  const limit = 5;
  return withService(options, limit, ctx, async (service) => {
    const started = performance.now();
    await offer(options.jobs, options.load, (index) => service.frontend.submit(jobName(index)));
    await waitForStates(
      service,
      (counts) => (counts.RUNNING ?? 0) >= limit && (counts.INCOMING ?? 0) >= options.jobs - limit,
      ctx.timeoutMs,
      ctx.log,
    );
    ctx.log(
      `  ${options.jobs} submitted, ${limit} RUNNING after ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `settling until the workers are quiet (every arrival has had its first task), then measuring ${options.windowSeconds} s…`,
    );
    // The cost of waiting, not of arriving: each arrival's first workflow task must be done first.
    // Quiet means the workers and the Temporal server: the server works through arrivals after the workers idle.
    const temporal = ctx.stack.temporal;
    const settled = await waitUntilQuiet([...service.workers.map((worker) => worker.pid), ...temporal], { cores: 0.3 });
    ctx.log(`  quiet after ${settled.toFixed(0)} s`);
    await sleep(SETTLE_SECONDS * 1000);
    const users = [service.users.backend];
    const sqlBefore = await ctx.sql.snapshot(users);
    const windowStart = Date.now();
    const window = openWindow(
      service.workers.map((worker) => worker.pid),
      ctx.stack,
    );
    await sleep(options.windowSeconds * 1000);
    const closed = await window.close(0);
    const windowEnd = Date.now();
    const sqlAfter = await ctx.sql.snapshot(users);
    const seconds = (windowEnd - windowStart) / 1000;
    const listed = await listWorkflows(ctx.client, service.taskQueue, options.jobs);
    const history = await historyFigures(ctx.client, listed, options.jobs, historySample);
    const tasksInWindow = history.workflowTaskTimes.filter((at) => at >= windowStart && at < windowEnd).length;
    const audited = (await readStateAudit(service.adminDb)).filter(
      (change) => change.from !== null && change.atMs >= windowStart && change.atMs < windowEnd,
    ).length;
    const { backend } = service.users;
    const statements = statementDelta(sqlBefore.byUser[backend], sqlAfter.byUser[backend], audited);
    return {
      jobs: options.jobs,
      limit,
      windowSeconds: round(seconds),
      sqlMethod: ctx.sql.method,
      sqlStatementsPerSecond: perSecond(statements.total, seconds),
      workflowTasksPerSecond: perSecond(tasksInWindow * history.scale, seconds),
      historiesFetched: history.figures.fetched,
      listedByWorkflowType: history.figures.listedByWorkflowType,
      cpuPerSecond: cpuPerSecond(closed.usage, closed.windowSeconds),
      ...memory(closed.usage),
      usage: closed.usage,
    };
  });
}

export async function runScale(options: ScaleOptions, ctx: RunContext) {
  let flight: Awaited<ReturnType<typeof inFlight>> | undefined;
  if (!options.waitingOnly) {
    ctx.log(`scale: ${options.jobs} jobs in flight (local runs sleeping ${options.sleepSeconds} s)…`);
    flight = await inFlight(options, ctx);
  }
  if (options.inFlightOnly) return { options, inFlight: flight, waiting: undefined };
  ctx.log(`scale: ${options.jobs} jobs waiting behind [limits] running 5…`);
  const wait = await waiting(options, ctx, ctx.historySample);
  return { options, inFlight: flight, waiting: wait };
}

export function scaleMarkdown(result: Awaited<ReturnType<typeof runScale>>): string {
  const { inFlight: f, waiting: w } = result;
  const rows: string[][] = [];
  if (f) {
    const c = f.completion;
    rows.push(
      [
        'in flight (limit N)',
        String(f.jobs),
        `all RUNNING in ${fixed(f.allRunningSeconds)} s (${fixed(f.jobsPerSecondToRunning)} jobs/s)`,
        `${fixed(f.ramp.cpuSeconds.worker)} s ramp, ${fixed(f.hold.cpuPerSecond.worker, 2)}/s held`,
        `${fixed(f.ramp.cpuSeconds.temporal)} s ramp, ${fixed(f.hold.cpuPerSecond.temporal, 2)}/s held`,
        '–',
        '–',
        `${fixed(f.hold.workerPeakRssMiB, 0)} (${fixed(f.hold.workerEndRssMiB, 0)}) / ` +
          `${fixed(f.ramp.temporalStartRssMiB, 0)}→${fixed(Math.max(f.ramp.temporalPeakRssMiB, f.hold.temporalPeakRssMiB), 0)}`,
      ],
      [
        'released at once',
        String(f.jobs),
        `all COMPLETED in ${fixed(c.allCompletedSeconds)} s (${fixed(c.jobsPerSecond)} jobs/s); ` +
          `${c.jobsCompleted} completed, ${c.completedMoreThanOnce} more than once`,
        `${fixed(c.cpuSeconds.worker)} s`,
        `${fixed(c.cpuSeconds.temporal)} s`,
        '–',
        '–',
        `${fixed(c.workerPeakRssMiB, 0)} (${fixed(c.workerEndRssMiB, 0)}) / ${fixed(c.temporalStartRssMiB, 0)}→${fixed(c.temporalPeakRssMiB, 0)}`,
      ],
    );
  }
  if (w) {
    rows.push([
      'waiting (limit 5)',
      String(w.jobs),
      `${fixed(w.windowSeconds, 0)} s window`,
      `${fixed(w.cpuPerSecond.worker, 2)}/s`,
      `${fixed(w.cpuPerSecond.temporal, 2)}/s`,
      `${fixed(w.sqlStatementsPerSecond)}/s (${w.sqlMethod})`,
      `${fixed(w.workflowTasksPerSecond)}/s (${w.historiesFetched} histories)`,
      `${fixed(w.workerPeakRssMiB, 0)} (${fixed(w.workerEndRssMiB, 0)}) / ${fixed(w.temporalStartRssMiB, 0)}→${fixed(w.temporalPeakRssMiB, 0)}`,
    ]);
  }
  return [
    table(
      ['part', 'N', 'time', 'worker CPU', 'Temporal CPU', 'SQL', 'WFTs', 'RSS MiB worker (end) / Temporal start→peak'],
      rows,
    ),
    '',
    (f
      ? `In flight: each local run waits to be released (a FIFO opened for writing); held ${HOLD_SECONDS} s after ` +
        `the last job reached RUNNING, then every run released at once. `
      : 'The in-flight part was skipped (--waiting-only). ') +
      (w
        ? `Waiting: the runs sleep ${result.options.sleepSeconds} s; measured once the workers were quiet (every ` +
          `arrival had its first task) plus ${SETTLE_SECONDS} s. `
        : 'The waiting part was skipped (--in-flight-only). ') +
      'CPU/s is cores busy.',
  ].join('\n');
}
