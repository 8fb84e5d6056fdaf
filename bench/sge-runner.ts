/**
 * Benchmark of the SGE runner on the real single-node cell of
 * scripts/cluster/sge.sh:
 *   - submission rate: saliflow jobs reaching the cluster per second (and raw qsub for comparison);
 *   - latency: from a cluster job's last line to its saliflow job leaving RUNNING (median, p95),
 *     at poll intervals of 1 s and 5 s (the default);
 *   - qstat calls per minute with 10 and with 200 jobs waiting on the cluster.
 * Run: npm run bench:sge   (results go to bench/results/sge-runner.{json,md})
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type mysql from 'mysql2/promise';

import { defineService, sgeScript } from '../core/index.js';
import { submitJob, type SubmittedJob } from '../client/submit.js';
import { cancelJob } from '../client/admin.js';
import { createServiceFixture, type ServiceFixture } from '../test/support/service-fixture.js';
import { withWorker } from '../test/support/temporal.js';
import { workflowOutcome } from '../test/support/jobs.js';
import { clusterUnderTest } from '../test/support/clusters.js';
import { countingCommand } from '../test/support/counting-command.js';
import { startStack } from '../scripts/stack.js';
import { REPO_ROOT } from '../scripts/stack/settings.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function countRows(db: mysql.Pool, where: string): Promise<number> {
  const [[row]] = (await db.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM jobs WHERE ${where}`,
  )) as unknown as [[{ n: number }]];
  return row.n;
}

async function waitForCount(db: mysql.Pool, where: string, n: number, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; (await countRows(db, where)) < n;) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} jobs with ${where}`);
    await sleep(100);
  }
}

async function withCluster<T>(
  sections: Record<string, Record<string, string>>,
  body: (fixture: ServiceFixture) => Promise<T>,
) {
  const fixture = await createServiceFixture({ sections });
  try {
    return await body(fixture);
  } finally {
    await fixture.cleanup();
  }
}

const cluster = await (async () => {
  await startStack();
  await execa('bash', [path.join(REPO_ROOT, 'scripts/cluster/sge.sh'), 'start'], { stdio: 'inherit' });
  return clusterUnderTest('sge');
})();

/** Raw qsub of trivial scripts, one after another: the ceiling for submission. */
async function rawQsubRate(n: number): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-bench-qsub-'));
  await fs.writeFile(path.join(dir, 'job.sh'), '#!/bin/sh\n#$ -S /bin/sh\n#$ -cwd\ntrue\n');
  const start = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push((await execa(cluster.section.qsub!, ['-terse', 'job.sh'], { cwd: dir, env: cluster.env })).stdout.trim());
  }
  const rate = n / ((performance.now() - start) / 1000);
  // Remove them before the next measurement; the folder must outlive them (it is their cwd).
  await execa(cluster.section.qdel!, ids, { env: cluster.env, reject: false });
  while ((await execa(cluster.section.qstat!, [], { env: cluster.env })).stdout.trim() !== '') await sleep(500);
  await fs.rm(dir, { recursive: true, force: true });
  return rate;
}

/** Submits n jobs of `sleep 600` and measures how fast they all reach the cluster. */
async function submissionRate(n: number): Promise<number> {
  return withCluster(
    { limits: { running: String(n + 10) }, sge: { ...cluster.section, poll_seconds: '5' } },
    async (fixture) =>
      withWorker(
        fixture,
        defineService({ run: () => sgeScript('sleep 600') }),
        async ({ client }) => {
          const start = performance.now();
          const jobs: SubmittedJob[] = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `rate${i}` }),
            ),
          );
          await waitForCount(fixture.db, "state = 'RUNNING' AND runner_id IS NOT NULL", n, 300_000);
          const rate = n / ((performance.now() - start) / 1000);
          await Promise.all(
            jobs.map((job) => cancelJob({ config: fixture.config, db: fixture.db, client, job: job.name })),
          );
          await Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
          return rate;
        },
        {},
      ),
  );
}

/** Cluster job end (its last line) → saliflow job leaving RUNNING (postprocess starts), per job. */
async function completionLatency(n: number, pollSeconds: number): Promise<number[]> {
  const service = defineService({
    run: () => sgeScript('sleep 1\ndate +%s%3N > ended-at'),
    async postprocess(job) {
      await fs.writeFile(job.path('left-running-at'), String(Date.now()));
    },
  });
  return withCluster(
    { limits: { running: String(n + 10) }, sge: { ...cluster.section, poll_seconds: String(pollSeconds) } },
    async (fixture) =>
      withWorker(
        fixture,
        service,
        async ({ client }) => {
          const jobs = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `lat${i}` }),
            ),
          );
          const outcomes = await Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
          const failed = outcomes.filter((outcome) => outcome.result !== 'COMPLETED');
          if (failed.length > 0)
            throw new Error(`latency jobs failed: ${failed.map((outcome) => outcome.failure).join('; ')}`);
          return Promise.all(
            jobs.map(async (job) => {
              const dir = path.join(fixture.root, 'completed', job.name);
              const ended = Number(await fs.readFile(path.join(dir, 'ended-at'), 'utf8'));
              const left = Number(await fs.readFile(path.join(dir, 'left-running-at'), 'utf8'));
              return left - ended;
            }),
          );
        },
        { run: { jobStateGraceMs: 30_000, heartbeatEveryMs: 5000 } },
      ),
  );
}

/** qstat calls per minute while n jobs wait on the cluster (default 5 s poll). */
async function statusCallsPerMinute(n: number, windowMs = 60_000): Promise<number> {
  const counter = await countingCommand(
    await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-bench-count-')),
    cluster.section.qstat!,
  );
  return withCluster(
    { limits: { running: String(n + 10) }, sge: { ...cluster.section, qstat: counter.path, poll_seconds: '5' } },
    async (fixture) =>
      withWorker(
        fixture,
        defineService({ run: () => sgeScript('sleep 600') }),
        async ({ client }) => {
          const jobs = await Promise.all(
            Array.from({ length: n }, (_, i) =>
              submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `calls${i}` }),
            ),
          );
          await waitForCount(fixture.db, "state = 'RUNNING' AND runner_id IS NOT NULL", n, 600_000);
          const start = Date.now();
          await sleep(windowMs);
          const calls = (await counter.calls()).filter((at) => at >= start && at < start + windowMs).length;
          await Promise.all(
            jobs.map((job) => cancelJob({ config: fixture.config, db: fixture.db, client, job: job.name })),
          );
          await Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
          return (calls * 60_000) / windowMs;
        },
        {},
      ),
  );
}

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  sge: (await execa('dpkg-query', ['-W', '-f', '${Version}', 'gridengine-master'], { reject: false })).stdout,
};

console.log('raw qsub rate…');
const rawRate = await rawQsubRate(50);
console.log('submission rate (50 jobs)…');
const rate = await submissionRate(50);
console.log('completion latency at 1 s poll (20 jobs)…');
const latency1 = await completionLatency(20, 1);
console.log('completion latency at 5 s poll (20 jobs)…');
const latency5 = await completionLatency(20, 5);
console.log('qstat calls per minute, 10 jobs…');
const calls10 = await statusCallsPerMinute(10);
console.log('qstat calls per minute, 200 jobs…');
const calls200 = await statusCallsPerMinute(200);

const summary = (values: number[]) => ({
  medianMs: percentile(values, 50),
  p95Ms: percentile(values, 95),
  n: values.length,
});
const results = {
  date: new Date().toISOString(),
  machine,
  rawQsubJobsPerSecond: Number(rawRate.toFixed(1)),
  saliflowJobsPerSecond: Number(rate.toFixed(1)),
  latencyPoll1s: summary(latency1),
  latencyPoll5s: summary(latency5),
  qstatCallsPerMinute: { jobs10: calls10, jobs200: calls200 },
};
console.log(JSON.stringify(results, null, 2));
await fs.writeFile(path.join(REPO_ROOT, 'bench/results/sge-runner.json'), `${JSON.stringify(results, null, 2)}\n`);
process.exit(0);
