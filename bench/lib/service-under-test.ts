/**
 * A saliflow service set up for one benchmark mode, from the outside: a
 * fresh database with its two MySQL users (test/support/service-fixture.ts),
 * the state-audit triggers, a saliweb config file per worker process (the
 * same but for `[general] socket`: each backend host has its own socket and
 * the frontend pings the first), and the worker processes themselves —
 * `saliflow worker` (cli/main.ts) running bench/services/bench-service.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { loadServiceConfig } from '../../core/config/index.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { adminConnection, createServiceFixture, type ServiceFixture } from '../../test/support/service-fixture.js';
import { installStateAudit } from '../../test/support/state-audit.js';
import { createFrontend } from './frontend.js';
import { fileExists, spawnNodeProcess, waitUntilReady, type NodeProcess } from './processes.js';
import { deleteSchedulesMentioning, terminateOpen } from './temporal.js';
import { sleep } from './stats.js';
import { targetFixture } from './target.js';

export type RunnerChoice = 'nothing' | 'true' | 'rerun' | 'steps' | 'sleep' | 'release';

export interface ServiceOptions {
  /** `[limits] running`. */
  limit: number;
  workers: number;
  runner: RunnerChoice;
  /** For the `sleep` runner. */
  sleepSeconds?: number;
  /** For the `release` runner: the FIFO whose opening for writing ends every run. */
  releaseFifo?: string;
  /** `[backend] check_minutes` (the reconcile schedule's interval). */
  checkMinutes: number;
}

export interface ServiceUnderTest {
  serviceName: string;
  taskQueue: string;
  root: string;
  /** The admin account on the service's database (the benchmark's own reads). */
  adminDb: mysql.Pool;
  frontend: ReturnType<typeof createFrontend>;
  users: { backend: string; frontend: string };
  workers: NodeProcess[];
  close(client: Client): Promise<void>;
}

const SERVICE_MODULE = path.join(REPO_ROOT, 'bench/services/bench-service.ts');
const CLI = path.join(REPO_ROOT, 'cli/main.ts');

/** Worker i's config: the fixture's, with a socket of its own after the first. */
async function workerConfigFile(fixture: ServiceFixture, index: number): Promise<string> {
  if (index === 0) return fixture.configFile;
  const text = await fs.readFile(fixture.configFile, 'utf8');
  const file = path.join(fixture.root, `service-worker${index + 1}.conf`);
  await fs.writeFile(file, text.replace(/^socket\s*[:=].*$/m, `socket: backend-${index + 1}.socket`));
  return file;
}

export async function startServiceUnderTest(options: ServiceOptions): Promise<ServiceUnderTest> {
  const target = targetFixture();
  const fixture = await createServiceFixture({
    ...(target.stack ? { stack: target.stack } : {}),
    sections: {
      temporal: target.temporalSection,
      limits: { running: String(options.limit) },
      backend: { check_minutes: String(options.checkMinutes) },
    },
  });
  const { config } = fixture;
  const admin = adminConnection();
  await installStateAudit(admin, config.database.db);
  const adminDb = mysql.createPool({ ...admin, database: config.database.db, timezone: 'Z', connectionLimit: 2 });
  const workers: NodeProcess[] = [];
  const close = async (client: Client) => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await terminateOpen(client, fixture.taskQueue, 'benchmark over');
    await deleteSchedulesMentioning(client, config.general.serviceName);
    await adminDb.end();
    await fixture.cleanup();
  };
  try {
    const env = {
      // The config file says which task queue; an inherited override would point the worker elsewhere.
      SALIFLOW_TASK_QUEUE: '',
      SALIFLOW_BENCH_RUNNER: options.runner,
      ...(options.sleepSeconds ? { SALIFLOW_BENCH_SLEEP_SECONDS: String(options.sleepSeconds) } : {}),
      ...(options.releaseFifo ? { SALIFLOW_BENCH_RELEASE: options.releaseFifo } : {}),
    };
    for (let index = 0; index < options.workers; index++) {
      const configFile = await workerConfigFile(fixture, index);
      const worker = spawnNodeProcess(
        `saliflow worker ${index + 1}`,
        [CLI, 'worker', '--config', configFile, '--service', SERVICE_MODULE],
        { logFile: path.join(fixture.root, `worker${index + 1}.log`), env },
      );
      workers.push(worker);
      // It listens on its socket once it is about to poll.
      await waitUntilReady(worker, fileExists(loadServiceConfig(configFile, {}).general.socket));
    }
    await sleep(2000); // pollers up
    return {
      serviceName: config.general.serviceName,
      taskQueue: fixture.taskQueue,
      root: fixture.root,
      adminDb,
      frontend: createFrontend({
        incomingDir: config.directories.INCOMING,
        db: fixture.frontendDb,
        socket: config.general.socket,
        urltop: config.general.urltop,
      }),
      users: { backend: config.database.backend.user, frontend: config.database.frontend.user },
      workers,
      close,
    };
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.stop(5000)));
    await adminDb.end();
    await fixture.cleanup();
    throw error;
  }
}

/** Jobs per state, read with the admin account. */
export async function stateCounts(db: Pick<mysql.Pool, 'query'>): Promise<Record<string, number>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  return Object.fromEntries(rows.map((row) => [String(row.state), Number(row.n)]));
}

export async function failures(db: Pick<mysql.Pool, 'query'>, limit = 3): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT name, failure FROM jobs WHERE state = 'FAILED' ORDER BY name LIMIT ?",
    [limit],
  );
  return rows.map((row) => `${String(row.name)}: ${String(row.failure).split('\n')[0]}`);
}
