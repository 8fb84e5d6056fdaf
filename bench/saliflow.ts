/**
 * One benchmark mode on saliflow: N jobs submitted as a saliweb frontend
 * does to `saliflow worker` processes, until every row is COMPLETED.
 * Latencies come from the trigger-fed audit table (microsecond times; the
 * INSERT is the submit time), statements from the MySQL users' counters,
 * events and workflow tasks from the histories of every workflow on the
 * service's task queue (job workflows and anything else the engine runs
 * there), divided by N.
 */
import type { Client } from '@temporalio/client';
import { firstEntered, readStateAudit, slotHandoffsMs, type StateChange } from '../test/support/state-audit.js';
import {
  cpuMsPerJob,
  historyFigures,
  openWindow,
  type Measurement,
  type ModeSpec,
  type SqlFigures,
} from './lib/measurement.js';
import { offer } from './lib/offered-load.js';
import { listWorkflows } from './lib/temporal.js';
import { failures, startServiceUnderTest, stateCounts, type ServiceUnderTest } from './lib/service-under-test.js';
import { statementDelta, type SqlCounter, type SqlSnapshot } from './lib/sql-counter.js';
import type { StackPids } from './lib/stack-processes.js';
import { percentiles, round, sleep } from './lib/stats.js';

export interface RunContext {
  client: Client;
  sql: SqlCounter;
  stack: StackPids;
  /** Histories to fetch per run (0: all). */
  historySample: number;
  timeoutMs: number;
  checkMinutes: number;
  log(message: string): void;
}

export const jobName = (index: number) => `j${String(index).padStart(5, '0')}`;

/** Polls the rows until `done(counts)`; fails on a FAILED job or after `timeoutMs`. Returns the polls made. */
export async function waitForStates(
  service: ServiceUnderTest,
  done: (counts: Record<string, number>) => boolean,
  timeoutMs: number,
  log: (message: string) => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  let lastLog = Date.now();
  for (;;) {
    const counts = await stateCounts(service.adminDb);
    polls += 1;
    if ((counts.FAILED ?? 0) > 0) throw new Error(`jobs FAILED: ${(await failures(service.adminDb)).join('; ')}`);
    if (done(counts)) return polls;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${JSON.stringify(counts)}`);
    if (Date.now() - lastLog > 15_000) {
      log(`  … ${JSON.stringify(counts)}`);
      lastLog = Date.now();
    }
    await sleep(250);
  }
}

function sqlFigures(
  sql: SqlCounter,
  service: ServiceUnderTest,
  before: SqlSnapshot,
  after: SqlSnapshot,
  jobs: number,
  ownStatements: number,
  changes: readonly StateChange[],
): SqlFigures {
  // The audit trigger's INSERTs: on the row's INSERT (frontend), on each state change (backend).
  const inserts = changes.filter((change) => change.from === null).length;
  const { backend: backendUser, frontend: frontendUser } = service.users;
  const backend = statementDelta(before.byUser[backendUser], after.byUser[backendUser], changes.length - inserts);
  const frontend = statementDelta(before.byUser[frontendUser], after.byUser[frontendUser], inserts);
  return {
    method: sql.method,
    backendPerJob: round(backend.total / jobs),
    backendBreakdownPerJob: {
      select: round(backend.select / jobs),
      update: round(backend.update / jobs),
      other: round(backend.other / jobs),
    },
    frontendPerJob: round(frontend.total / jobs),
    globalQuestionsPerJob: round((after.questions - before.questions - ownStatements) / jobs),
  };
}

export async function measureSaliflow(mode: ModeSpec, ctx: RunContext): Promise<Measurement> {
  const service = await startServiceUnderTest({
    limit: mode.limit,
    workers: mode.workers,
    runner: mode.runner,
    checkMinutes: ctx.checkMinutes,
  });
  try {
    const users = [service.users.backend, service.users.frontend];
    const sqlBefore = await ctx.sql.snapshot(users);
    const window = openWindow(
      service.workers.map((worker) => worker.pid),
      ctx.stack,
    );
    await offer(mode.jobs, mode.load, (index) => service.frontend.submit(jobName(index)));
    const polls = await waitForStates(
      service,
      (counts) => (counts.COMPLETED ?? 0) >= mode.jobs,
      ctx.timeoutMs,
      ctx.log,
    );
    const closed = await window.close();
    const sqlAfter = await ctx.sql.snapshot(users);

    const changes = await readStateAudit(service.adminDb);
    const submitted = firstEntered(changes, 'INCOMING');
    const running = firstEntered(changes, 'RUNNING');
    const completed = firstEntered(changes, 'COMPLETED');
    const since = (times: Map<string, number>) =>
      [...times].flatMap(([job, at]) => (submitted.has(job) ? [at - submitted.get(job)!] : []));
    const seconds = (Math.max(...completed.values()) - Math.min(...submitted.values())) / 1000;
    const listed = await listWorkflows(ctx.client, service.taskQueue, mode.jobs);
    const history = await historyFigures(ctx.client, listed, mode.jobs, ctx.historySample);
    const notes: string[] = [];
    if (service.frontend.stats.pingFailures > 0)
      notes.push(
        `${service.frontend.stats.pingFailures} socket pings failed (${service.frontend.stats.lastPingError})`,
      );
    return {
      jobs: mode.jobs,
      completed: completed.size,
      seconds: round(seconds),
      jobsPerSecond: round(completed.size / seconds),
      latencyMs: {
        toRunning: percentiles(since(running)),
        toCompleted: percentiles(since(completed)),
        // Without a binding limit, an admission does not wait for a freed slot: nothing to measure.
        slotHandoff: mode.limit < mode.jobs ? percentiles(slotHandoffsMs(changes)) : undefined,
      },
      history: history.figures,
      cpuMsPerJob: cpuMsPerJob(closed.usage, mode.jobs),
      usage: closed.usage,
      windowSeconds: round(closed.windowSeconds),
      loadAverage: closed.loadAverage,
      // The benchmark's own statements in Questions: the INSERTs, the state polls, the two snapshot statements.
      sql: sqlFigures(ctx.sql, service, sqlBefore, sqlAfter, mode.jobs, mode.jobs + polls + 2, changes),
      notes,
    };
  } finally {
    await service.close(ctx.client);
  }
}
