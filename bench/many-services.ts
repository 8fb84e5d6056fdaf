/**
 * Many services per worker (issue 23): idle RSS of one `saliflow worker`
 * process hosting 1, 5 and 20 do-nothing services against 1 and 20
 * separate workers, with the workflow code on the main thread (the default
 * for several services) and on a thread per service (SALIFLOW_WORKFLOW_THREADS);
 * jobs/s of the 20-service worker against a one-service worker, beside the
 * floor (bench/floor/) measured in the same run.
 *   SALIFLOW_STATE_DIR=… npx tsx bench/many-services.ts [--jobs N] [--rounds R] [--label L]
 * Results: bench/results/many-services/*.json and bench/results/many-services.md.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { submitJob } from '../client/submit.js';
import { REPO_ROOT } from '../scripts/stack/settings.js';
import { adminConnection, createServiceFixture, type ServiceFixture } from '../test/support/service-fixture.js';
import { measureFloor } from './floor/measure.js';
import { gitFacts, loadAverage, machineFacts } from './lib/machine.js';
import { offer } from './lib/offered-load.js';
import { spawnNodeProcess, waitUntilReady, type NodeProcess } from './lib/processes.js';
import { appendMarkdown, resultsDir, saveJson, type RunHeader } from './lib/report.js';
import { openSqlCounter } from './lib/sql-counter.js';
import { stackPids } from './lib/stack-processes.js';
import { round, sleep } from './lib/stats.js';
import { connectClient, deleteSchedulesMentioning, terminateOpen } from './lib/temporal.js';
import type { RunContext } from './saliflow.js';
import type { Measurement } from './lib/measurement.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    label: { type: 'string' },
  },
});
const JOBS = Number(values.jobs);
/** Every variant runs once per round, in turn, so a change in the machine's load falls on all of them; medians reported. */
const ROUNDS = Number(values.rounds);
const SERVICES = 20;
const CONCURRENCY = 10;
/** Idle: the pollers are up and nothing arrives; RSS settles within seconds of the last start. */
const SETTLE_MS = 15_000;
const CLI = path.join(REPO_ROOT, 'cli/main.ts');
const SERVICE_MODULE = path.join(REPO_ROOT, 'bench/services/bench-service.ts');

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const rssMiB = (pid: number) => {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
};

/** The process's CPU time (user + system) in ms: per job it is a cost that holds on a loaded machine, unlike jobs/s. */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
};
const CLOCK_TICKS = 100;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return round(sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2);
};

let logCount = 0;
/** One worker process for `services`; resolves once each has logged that it polls. */
async function startWorker(services: ServiceFixture[], threads?: 'main' | 'per-service'): Promise<NodeProcess> {
  const args = services.flatMap((fixture) => ['--config', fixture.configFile, '--service', SERVICE_MODULE]);
  const logFile = path.join(os.tmpdir(), `saliflow-many-services-${process.pid}-${logCount++}.log`);
  const worker = spawnNodeProcess(`worker of ${services.length}`, [CLI, 'worker', ...args], {
    logFile,
    env: { SALIFLOW_TASK_QUEUE: '', SALIFLOW_BENCH_RUNNER: 'nothing', SALIFLOW_WORKFLOW_THREADS: threads ?? '' },
  });
  await waitUntilReady(
    worker,
    () => (readFileSync(logFile, 'utf8').match(/"msg":"saliflow worker for /g) ?? []).length === services.length,
  );
  return worker;
}

/** The idle RSS (MiB) of the processes, summed: the median of 5 samples a second apart, after settling. */
async function idleRss(workers: NodeProcess[]): Promise<number> {
  await sleep(SETTLE_MS);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(workers.reduce((sum, worker) => sum + rssMiB(worker.pid), 0));
    await sleep(1000);
  }
  return round(samples.sort((a, b) => a - b)[2]!);
}

async function completed(fixture: ServiceFixture, prefix: string): Promise<number> {
  const [[row]] = (await fixture.db.query("SELECT COUNT(*) AS n FROM jobs WHERE state = 'COMPLETED' AND name LIKE ?", [
    `${prefix}%`,
  ])) as unknown as [[{ n: number }]];
  return Number(row.n);
}

const { client, close: closeClient } = await connectClient();
/** N jobs over `services` (round robin), a burst of CONCURRENCY submitters; jobs/s from first submission to last COMPLETED. */
async function throughput(services: ServiceFixture[], prefix: string): Promise<number> {
  const started = Date.now();
  await offer(JOBS, { kind: 'burst', concurrency: CONCURRENCY }, async (index) => {
    const fixture = services[index % services.length]!;
    await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `${prefix}${index}`, files: {} });
  });
  for (const deadline = Date.now() + 900_000; ;) {
    let done = 0;
    for (const fixture of services) done += await completed(fixture, prefix);
    if (done === JOBS) break;
    if (Date.now() > deadline) throw new Error(`${prefix}: ${done}/${JOBS} completed after 900 s`);
    await sleep(250);
  }
  return round(JOBS / ((Date.now() - started) / 1000));
}

const stack = stackPids();
const admin = await mysql.createConnection(adminConnection());
const header: RunHeader = {
  kind: 'many-services',
  label: values.label,
  date: new Date().toISOString(),
  git: gitFacts(),
  machine: await machineFacts(client, admin, stack.temporal[0]),
  loadAverage: { before: loadAverage() },
};
await admin.end();
log(`commit ${header.git.commit}, load ${header.loadAverage.before.join(' ')}`);

const fixtures: ServiceFixture[] = [];
const rss: Record<string, number> = {};
const jobsPerSecond: Record<string, number> = {};
try {
  for (let i = 0; i < SERVICES; i++) {
    fixtures.push(await createServiceFixture({ sections: { limits: { running: '1000' } } }));
  }
  // Where the workflow code runs (worker/main.ts): the default for the count, and the other way for 1 and 20.
  const variants: { count: number; threads?: 'main' | 'per-service'; speed?: boolean }[] = [
    { count: 1, speed: true },
    { count: 1, threads: 'main', speed: true },
    { count: 5 },
    { count: SERVICES, speed: true },
    { count: SERVICES, threads: 'per-service', speed: true },
  ];
  const ctx: RunContext = {
    client,
    sql: await openSqlCounter(adminConnection(), log),
    stack,
    historySample: 20,
    timeoutMs: 900_000,
    checkMinutes: 1,
    log,
  };
  const floors: Measurement[] = [];
  const rssRounds: Record<string, number[]> = {};
  const speedRounds: Record<string, number[]> = {};
  const cpuRounds: Record<string, number[]> = {};
  for (let pass = 0; pass < ROUNDS; pass++) {
    for (const { count, threads, speed } of variants) {
      const name = `one process, ${count} service${count > 1 ? 's' : ''}${threads ? `, workflow threads ${threads}` : ''}`;
      log(`${name} (round ${pass + 1} of ${ROUNDS})…`);
      const worker = await startWorker(fixtures.slice(0, count), threads);
      try {
        (rssRounds[name] ??= []).push(await idleRss([worker]));
        if (speed) {
          const cpuBefore = cpuMs(worker.pid);
          (speedRounds[name] ??= []).push(
            await throughput(
              fixtures.slice(0, count),
              `r${pass}v${count}${threads ?? ''}x`.replace(/[^A-Za-z0-9]/g, ''),
            ),
          );
          (cpuRounds[name] ??= []).push(round((cpuMs(worker.pid) - cpuBefore) / JOBS));
        }
      } finally {
        await worker.stop();
      }
      log(
        `  RSS ${JSON.stringify(rssRounds[name])} MiB, jobs/s ${JSON.stringify(speedRounds[name] ?? [])}, ` +
          `worker CPU ms/job ${JSON.stringify(cpuRounds[name] ?? [])}`,
      );
    }
    log(`the floor (round ${pass + 1} of ${ROUNDS})…`);
    floors.push(
      await measureFloor(
        { jobs: JOBS, load: { kind: 'burst', concurrency: CONCURRENCY }, limit: 1000, workers: 1, runner: 'nothing' },
        ctx,
      ),
    );
  }
  const floor = { jobsPerSecond: median(floors.map((one) => one.jobsPerSecond)) };
  jobsPerSecond.floor = floor.jobsPerSecond;
  for (const [name, values] of Object.entries(rssRounds)) rss[name] = median(values);
  for (const [name, values] of Object.entries(speedRounds)) jobsPerSecond[name] = median(values);
  log(`${SERVICES} separate workers…`);
  const separate: NodeProcess[] = [];
  try {
    for (const fixture of fixtures) separate.push(await startWorker([fixture]));
    rss[`${SERVICES} separate workers (sum)`] = await idleRss(separate);
  } finally {
    await Promise.all(separate.map((worker) => worker.stop()));
  }
  header.loadAverage.after = loadAverage();

  const one = rss['one process, 1 service']!;
  const rssRows = Object.entries(rss).map(([what, mib]) => `| ${what} | ${Math.round(mib)} | ${round(mib / one)} |`);
  const speedRows = Object.entries(jobsPerSecond)
    .filter(([what]) => what !== 'floor')
    .map(
      ([what, perSecond]) =>
        // Each round's jobs/s over that round's floor: the load changes between rounds.
        `| ${what} | ${JOBS} | ${perSecond} | ${jobsPerSecond.floor} | ${median(
          speedRounds[what]!.map((value, index) => value / floors[index]!.jobsPerSecond),
        )} | ${median(cpuRounds[what]!)} |`,
    );
  const { machine } = header;
  const jsonFile = await saveJson(resultsDir(false), header, {
    jobs: JOBS,
    rounds: ROUNDS,
    rssMiB: rss,
    jobsPerSecond,
    rssMiBPerRound: rssRounds,
    jobsPerSecondPerRound: speedRounds,
    workerCpuMsPerJobPerRound: cpuRounds,
    floors,
  });
  await appendMarkdown(
    resultsDir(false),
    'many-services',
    [
      `## ${header.date.slice(0, 16).replace('T', ' ')} UTC, commit ${header.git.commit}${values.label ? ` — ${values.label}` : ''}`,
      '',
      `${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}, ` +
        `Temporal server ${machine.temporalServer} (SDK ${machine.temporalSdk}), ${machine.mysqlServer}; load average ` +
        `${header.loadAverage.before.join(' ')} before, ${header.loadAverage.after.join(' ')} after. JSON: \`${path.relative(resultsDir(false), jsonFile)}\`.`,
      '',
      `Medians of ${ROUNDS} round(s); jobs/s from the first submission to the last COMPLETED row, ${JOBS} do-nothing jobs ` +
        `over the services (round robin), ${CONCURRENCY} submitters; the floor: ${JOBS} one-local-activity workflows.`,
      '',
      '| idle worker process(es) | RSS MiB | × one service |',
      '| --- | --- | --- |',
      ...rssRows,
      '',
      "| worker | N | jobs/s | floor wf/s | ratio (median of the rounds' ratios) | worker CPU ms/job |",
      '| --- | --- | --- | --- | --- | --- |',
      ...speedRows,
      '',
    ].join('\n'),
  );
  log(`recorded in ${jsonFile}`);
} finally {
  for (const fixture of fixtures) {
    await terminateOpen(client, fixture.taskQueue, 'benchmark over').catch(() => undefined);
    await deleteSchedulesMentioning(client, fixture.config.general.serviceName).catch(() => undefined);
    await fixture.cleanup();
  }
  await closeClient();
}
