/**
 * `npm run demo`: brings up the dev stack, creates ModFoo's database, starts
 * a worker for it, submits a handful of jobs and follows them to COMPLETED.
 */
import { EXPECTED_SDK_LINES } from '../worker/logger.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadServiceConfig } from '../core/config/index.js';
import { provisionServiceDatabase } from '../store/database-admin.js';
import { submitJob, type SubmittedJob } from '../client/submit.js';
import { createServiceWorker } from '../worker/create-worker.js';
import service from '../examples/modfoo/service.js';
import { liveBlock } from '../cli/progress.js';
import { demoProgressLines } from './demo-progress.js';
import { startStack } from './stack.js';
import { REPO_ROOT, stackSettings } from './stack/settings.js';

const CONFIG_FILE = path.join(REPO_ROOT, 'examples/modfoo/conf/modfoo.conf');
const FINAL = new Set(['COMPLETED', 'FAILED']);

function pdb(atoms: number): string {
  const lines = Array.from(
    { length: atoms },
    (_, i) =>
      `ATOM  ${String(i + 1).padStart(5)}  CA  ALA A${String(i + 1).padStart(4)}      11.104  13.207   2.100  1.00 20.00           C`,
  );
  return `HEADER    DEMO\n${lines.join('\n')}\nEND\n`;
}

const DEMO_JOBS: { name: string; files: Record<string, string> }[] = [
  { name: 'one-structure', files: { 'a.pdb': pdb(12) } },
  { name: 'three-structures', files: { 'a.pdb': pdb(5), 'b.pdb': pdb(8), 'c.pdb': pdb(21) } },
  { name: 'big-structure', files: { 'big.pdb': pdb(2000) } },
  { name: 'no-structures', files: { 'readme.txt': 'no PDB here: preprocess skips the run\n' } },
  { name: 'two-structures', files: { 'x.pdb': pdb(3), 'y.pdb': pdb(4) } },
];

async function main(): Promise<void> {
  // The SDK's lines a worker expects (worker/logger.ts) would only alarm someone trying saliflow out.
  const quiet = new DefaultLogger('WARN', (entry) => {
    if (EXPECTED_SDK_LINES.has(entry.message)) return;
    console.error(`[${entry.level}] ${entry.message}${entry.meta ? ` ${JSON.stringify(entry.meta)}` : ''}`);
  });
  Runtime.install({ logger: quiet });
  const settings = stackSettings();
  await startStack(settings);
  const config = loadServiceConfig(CONFIG_FILE);
  const { host, port, adminUser, adminPassword } = settings.mysql;
  await provisionServiceDatabase(
    { host, port, user: adminUser, password: adminPassword },
    {
      db: config.database.db,
      backend: config.database.backend,
      frontend: config.database.frontend,
      columns: service.columns ?? [],
    },
  );
  for (const dir of new Set(Object.values(config.directories))) await fs.mkdir(dir, { recursive: true });

  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createServiceWorker({ config, service, connection: nativeConnection });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const { frontend, db, backend } = config.database;
  const frontendPool = mysql.createPool({
    host,
    port,
    database: db,
    user: frontend.user,
    password: frontend.passwd,
    timezone: 'Z',
  });
  const backendPool = mysql.createPool({
    host,
    port,
    database: db,
    user: backend.user,
    password: backend.passwd,
    timezone: 'Z',
  });

  const follow = async () => {
    const jobs: SubmittedJob[] = [];
    for (const demo of DEMO_JOBS) {
      jobs.push(
        await submitJob({ config, db: frontendPool, client, name: demo.name, user: 'demo', files: demo.files }),
      );
    }
    console.log(`submitted ${jobs.length} jobs: ${jobs.map((job) => job.name).join(', ')}`);
    // In place on a terminal (with the time taken); off one, each change once.
    const progress = liveBlock(process.stdout);
    const started = Date.now();
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      const [rows] = await backendPool.query<mysql.RowDataPacket[]>(
        'SELECT name, state, num_pdbs FROM jobs WHERE name IN (?) ORDER BY submit_time, name',
        [jobs.map((job) => job.name)],
      );
      const elapsed = process.stdout.isTTY ? Date.now() - started : undefined;
      progress.update(
        demoProgressLines(
          config.general.serviceName,
          rows.map((row) => ({ name: String(row.name), state: String(row.state) })),
          elapsed,
        ),
      );
      if (rows.length === jobs.length && rows.every((row) => FINAL.has(row.state))) {
        // The row turns COMPLETED before the `complete` step and the e-mail:
        // keep the worker up until every workflow has closed.
        await Promise.all(
          jobs.map((job) =>
            client.workflow
              .getHandle(job.workflowId)
              .result()
              .catch(() => undefined),
          ),
        );
        return { jobs, rows };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error('demo jobs did not all finish within 2 minutes; see the Temporal Web UI');
  };

  try {
    const { jobs, rows } = await worker.runUntil(follow());
    const ui = `http://${settings.temporal.host}:${settings.temporal.uiPort}`;
    console.log('\nresults:');
    for (const row of rows) {
      const job = jobs.find((candidate) => candidate.name === row.name)!;
      console.log(`  ${row.name}: ${row.state}, ${row.num_pdbs} PDB file(s); workflow ${job.workflowId}`);
    }
    const failed = rows.filter((row) => row.state !== 'COMPLETED');
    console.log(
      `\nWatch them in the Temporal Web UI: ${ui}/namespaces/${config.temporal.namespace}/workflows?query=${encodeURIComponent(`JobService="${config.general.serviceName}"`)}`,
    );
    if (failed.length > 0)
      throw new Error(`${failed.length} demo job(s) did not complete: ${failed.map((row) => row.name).join(', ')}`);
    console.log(`all ${rows.length} demo jobs COMPLETED.`);
  } finally {
    await worker.close();
    await frontendPool.end();
    await backendPool.end();
    await connection.close();
    await nativeConnection.close();
  }
}

main().catch((error: Error) => {
  console.error(`[demo] ${error.message}`);
  process.exit(1);
});
