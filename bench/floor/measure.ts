/**
 * The floor, measured like a saliflow mode on the same Temporal server: the
 * same N of floorWorkflow (one local activity that does nothing), offered
 * the same way, on a fresh task queue polled by the same number of worker
 * processes of its own (bench/floor/worker.ts). Start → close latency runs
 * from the client's start call to the workflow's close time.
 */
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { cpuMsPerJob, historyFigures, openWindow, type Measurement, type ModeSpec } from '../lib/measurement.js';
import { offer } from '../lib/offered-load.js';
import { logSays, spawnNodeProcess, waitUntilReady, type NodeProcess } from '../lib/processes.js';
import { countWorkflows, listWorkflows, terminateOpen } from '../lib/temporal.js';
import { nowMs, percentiles, round, sleep } from '../lib/stats.js';
import type { RunContext } from '../saliflow.js';

const WORKER = path.join(REPO_ROOT, 'bench/floor/worker.ts');

async function startFloorWorkers(count: number, taskQueue: string, logDir: string): Promise<NodeProcess[]> {
  const workers: NodeProcess[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const worker = spawnNodeProcess(`floor worker ${index + 1}`, [WORKER, taskQueue], {
        logFile: path.join(logDir, `floor-worker${index + 1}.log`),
      });
      workers.push(worker);
      await waitUntilReady(worker, logSays(worker, 'ready'));
    }
    await sleep(2000); // pollers up
    return workers;
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.stop(5000)));
    throw error;
  }
}

async function waitForClosed(ctx: RunContext, taskQueue: string, jobs: number): Promise<void> {
  const deadline = Date.now() + ctx.timeoutMs;
  while ((await countWorkflows(ctx.client, taskQueue, 'ExecutionStatus != "Running"')) < jobs) {
    if (Date.now() > deadline) throw new Error(`floor: timed out after ${ctx.timeoutMs / 1000} s`);
    await sleep(250);
  }
}

export async function measureFloor(mode: ModeSpec, ctx: RunContext): Promise<Measurement> {
  const token = randomBytes(4).toString('hex');
  const taskQueue = `bench-floor-${token}`;
  const logDir = await fs.mkdtemp(path.join(os.tmpdir(), `saliflow-floor-${token}-`));
  const workers = await startFloorWorkers(mode.workers, taskQueue, logDir);
  try {
    const window = openWindow(
      workers.map((worker) => worker.pid),
      ctx.stack,
    );
    const startedAt = new Map<string, number>();
    await offer(mode.jobs, mode.load, async (index) => {
      const workflowId = `${taskQueue}/${index}`;
      startedAt.set(workflowId, nowMs());
      await ctx.client.workflow.start('floorWorkflow', { taskQueue, workflowId, args: [] });
    });
    await waitForClosed(ctx, taskQueue, mode.jobs);
    const closed = await window.close();

    const listed = await listWorkflows(ctx.client, taskQueue, mode.jobs);
    const notCompleted = listed.filter((info) => info.status.name !== 'COMPLETED');
    if (notCompleted.length > 0) throw new Error(`floor: ${notCompleted.length} workflows did not complete`);
    const latencies = listed.map((info) => info.closeTime!.getTime() - startedAt.get(info.workflowId)!);
    const first = Math.min(...startedAt.values());
    const last = Math.max(...listed.map((info) => info.closeTime!.getTime()));
    const seconds = (last - first) / 1000;
    const history = await historyFigures(ctx.client, listed, mode.jobs, ctx.historySample);
    return {
      jobs: mode.jobs,
      completed: listed.length,
      seconds: round(seconds),
      jobsPerSecond: round(listed.length / seconds),
      latencyMs: { toCompleted: percentiles(latencies) },
      history: history.figures,
      cpuMsPerJob: cpuMsPerJob(closed.usage, mode.jobs),
      usage: closed.usage,
      windowSeconds: round(closed.windowSeconds),
      loadAverage: closed.loadAverage,
      notes: [],
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await terminateOpen(ctx.client, taskQueue, 'benchmark over');
    await fs.rm(logDir, { recursive: true, force: true });
  }
}
