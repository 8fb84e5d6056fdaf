/**
 * `npm run bench`: saliflow's per-job overhead against Temporal's floor, on
 * the dev stack (`npm run bench` starts it first; run directly, MariaDB and
 * Temporal must be up: `npm run stack -- start`).
 * Drives saliflow only from the outside — `saliflow worker` processes, the
 * jobs table, the frontend socket, the Temporal client. `--help` for flags.
 */
import mysql from 'mysql2/promise';
import { adminConnection } from '../test/support/service-fixture.js';
import { parseBenchArgs } from './lib/args.js';
import { gitFacts, loadAverage, machineFacts } from './lib/machine.js';
import { appendMarkdown, resultsDir, runHeading, saveJson, type RunHeader } from './lib/report.js';
import { openSqlCounter } from './lib/sql-counter.js';
import { stackPids } from './lib/stack-processes.js';
import { connectClient } from './lib/temporal.js';
import { TARGET_VARIABLE } from './lib/target.js';
import { DEFAULT_MATRIX, lifecycleMarkdown, runMode, warmUpServer, type ModeResult } from './lifecycle.js';
import { runScale, scaleMarkdown } from './scale.js';
import type { RunContext } from './saliflow.js';

const args = parseBenchArgs(process.argv.slice(2));
// Read by every part that connects, the floor's worker process included.
process.env[TARGET_VARIABLE] = args.temporal;
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const stack = stackPids();
if (stack.temporal.length === 0)
  log('no local Temporal server pid found (SALIFLOW_STATE_DIR?): its CPU and memory are not measured');
if (!stack.mariadb) log('no local MariaDB pid found: its CPU is not measured');

const { client, close: closeClient } = await connectClient();
const sql = await openSqlCounter(adminConnection(), log);
const admin = await mysql.createConnection(adminConnection());
const header: RunHeader = {
  kind: args.scale ? 'scale' : 'lifecycle',
  label: args.label,
  date: new Date().toISOString(),
  git: gitFacts(),
  temporal: args.temporal,
  machine: await machineFacts(client, admin, stack.temporal[0]),
  loadAverage: { before: loadAverage() },
};
await admin.end();
log(`commit ${header.git.commit}${header.git.dirty ? ' (dirty)' : ''}, load ${header.loadAverage.before.join(' ')}`);

const ctx: RunContext = {
  client,
  sql,
  stack,
  historySample: args.historySample ?? (args.scale ? 1000 : 0),
  timeoutMs: args.timeoutMs ?? (args.scale ? 7200_000 : 600_000),
  checkMinutes: args.checkMinutes,
  log,
};
const settings = {
  checkMinutes: args.checkMinutes,
  historySample: ctx.historySample,
  sqlCountMethod: sql.method,
  timeoutSeconds: ctx.timeoutMs / 1000,
};

try {
  let run: object;
  let markdown: string;
  if (args.scale) {
    const load = args.single?.load ?? { kind: 'burst' as const, concurrency: args.concurrency };
    const sleepSeconds = args.sleepSeconds ?? Math.round(ctx.timeoutMs / 1000 + args.windowSeconds + 120);
    const options = {
      jobs: args.jobs ?? 10_000,
      inFlightOnly: args.inFlightOnly,
      waitingOnly: args.waitingOnly,
      workers: args.single?.workers ?? 1,
      windowSeconds: args.windowSeconds,
      sleepSeconds,
      load,
    };
    const result = await runScale(options, ctx);
    run = { settings, ...result };
    markdown = scaleMarkdown(result);
  } else {
    const modes = args.single
      ? [{ ...args.single, jobs: args.jobs ?? 1000 }]
      : DEFAULT_MATRIX.map((mode) => ({
          ...mode,
          jobs: args.jobs ?? mode.jobs,
          load: mode.load.kind === 'burst' ? { kind: 'burst' as const, concurrency: args.concurrency } : mode.load,
        }));
    const results: ModeResult[] = [];
    await warmUpServer(ctx);
    for (const mode of modes) results.push(await runMode(mode, ctx));
    run = { settings, modes: results };
    markdown = lifecycleMarkdown(results, sql.method);
  }
  header.loadAverage.after = loadAverage();
  const dir = resultsDir(args.scratch);
  const jsonFile = await saveJson(dir, header, run);
  const section = `${runHeading(header, jsonFile)}\n\n${markdown}\n`;
  await appendMarkdown(dir, header.kind, section);
  console.log(`\n${section}`);
  log(`results: ${jsonFile}`);
} finally {
  await sql.close();
  await closeClient();
}
