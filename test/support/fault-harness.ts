/**
 * Moving parts of the fault suite, each driving saliflow from the outside:
 * a worker process that can be SIGKILLed and restarted, a sampler of the
 * jobs in flight, a legacy saliweb frontend, and a seeded random source so a
 * failing run can be replayed (SALIFLOW_FAULT_SEED).
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { randomToken } from '../../client/job-names.js';
import type { ServiceFixture } from './service-fixture.js';
import { spawnWorkerProcess, WORKER_READY } from './processes.js';
import { until } from './until.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mulberry32: small, seedable, good enough to pick fault moments. */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    /** A number of milliseconds in [min, max). */
    between: (min: number, max: number) => Math.floor(min + next() * (max - min)),
  };
}

type WorkerChild = ReturnType<typeof spawnWorkerProcess>;

/**
 * One `saliflow worker` process for a service, restarted when it dies on its
 * own (as systemd would) and counted, so a worker that cannot survive an
 * outage shows in the report instead of silently stalling the run.
 */
export class WorkerSupervisor {
  private child: WorkerChild | undefined;
  private stopping = false;
  /** Exits the test did not cause, with the end of their stderr. */
  readonly unexpectedExits: string[] = [];
  kills = 0;

  constructor(
    private readonly configFile: string,
    private readonly service: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Starts the worker and resolves once it polls its task queue (or rejects after `timeoutMs`). */
  async start(timeoutMs = 120_000): Promise<void> {
    const child = spawnWorkerProcess(this.configFile, this.service, this.env, { asSaliflowWorker: true });
    this.child = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void child.then((result) => {
      if (this.child !== child || this.stopping) return;
      this.child = undefined;
      const why = result.signal ?? `exit code ${result.exitCode}`;
      this.unexpectedExits.push(`${why}: ${String(result.stderr).trim().split('\n').slice(-3).join(' | ')}`);
      // Like a service manager: try again shortly (it may need a server that is down).
      void sleep(2000).then(() => (this.stopping || this.child ? undefined : this.start().catch(() => undefined)));
    });
    await until(
      'the worker to be ready',
      async () => {
        if (WORKER_READY.test(output)) return true;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the worker exited before it was ready: ${String((await child).stderr).slice(-2000)}`);
        }
        return undefined;
      },
      { timeoutMs, lastSeen: () => `its output:\n${output}` },
    );
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.kill('SIGKILL');
    await child;
    this.kills++;
  }

  /** SIGTERM (SIGKILL after `graceMs`); no restarts after this. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await child;
    clearTimeout(timer);
  }
}

export interface InFlightSamples {
  samples: number;
  failed: number;
  peak: number;
  /** Samples that saw more jobs in flight than the limit, as `count@ms since start`. */
  overLimit: string[];
  /** Longest time between two sample starts (ms). */
  maxGapMs: number;
}

export const IN_FLIGHT_STATES = ['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING'];

/**
 * Counts the jobs in flight every `everyMs` until stopped, on a connection of
 * its own with a short connect timeout: while MariaDB is down a sample fails
 * (counted) instead of hanging.
 */
export function sampleInFlight(fixture: ServiceFixture, limit: number, everyMs = 50) {
  const pool = mysql.createPool({
    host: fixture.admin.host,
    port: fixture.admin.port,
    user: fixture.admin.user,
    password: fixture.admin.password,
    database: fixture.config.database.db,
    connectionLimit: 1,
    connectTimeout: 1000,
  });
  const result: InFlightSamples = { samples: 0, failed: 0, peak: 0, overLimit: [], maxGapMs: 0 };
  const started = Date.now();
  let running = true;
  let ended: Promise<void> | undefined;
  const loop = (async () => {
    for (let last = Date.now(); running;) {
      const at = Date.now();
      result.maxGapMs = Math.max(result.maxGapMs, at - last);
      last = at;
      try {
        const [[row]] = (await pool.query('SELECT COUNT(*) AS n FROM jobs WHERE state IN (?)', [
          IN_FLIGHT_STATES,
        ])) as unknown as [[{ n: number }]];
        result.samples++;
        result.peak = Math.max(result.peak, row.n);
        if (row.n > limit) result.overLimit.push(`${row.n}@${at - started}ms`);
      } catch {
        result.failed++;
      }
      await sleep(Math.max(0, everyMs - (Date.now() - at)));
    }
  })();
  return {
    /** Stops sampling (idempotent) and returns what was seen. */
    async stop(): Promise<InFlightSamples> {
      running = false;
      ended ??= loop.then(() => pool.end());
      await ended;
      return result;
    },
  };
}

/** Writes `INCOMING <name>` to the backend's socket; errors are ignored, as saliweb's frontend does. */
function pingBackend(socketPath: string, name: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath, () => socket.end(`INCOMING ${name}\n`));
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

/**
 * Submits a job as an unmodified saliweb frontend does: the directory under
 * INCOMING with the inputs, the row inserted with the frontend's MySQL user,
 * then a ping on the backend's Unix socket.
 */
export async function submitAsLegacyFrontend(fixture: ServiceFixture, name: string): Promise<void> {
  const directory = path.join(fixture.config.directories.INCOMING, name);
  await fs.mkdir(directory);
  await fs.writeFile(path.join(directory, 'input.txt'), `input of ${name}\n`);
  const passwd = randomToken(10);
  await fixture.frontendDb.query(
    'INSERT INTO jobs (name, passwd, user, contact_email, directory, url, submit_time) VALUES (?, ?, NULL, NULL, ?, ?, UTC_TIMESTAMP())',
    [name, passwd, directory, `${fixture.config.general.urltop}/job/${name}?passwd=${passwd}`],
  );
  await pingBackend(fixture.config.general.socket, name);
}

/** `<n>-skip` skips its run, `<n>-twice` is rescheduled once (see services/counted-runs.ts). */
export function jobName(index: number): string {
  const suffix = index % 10 === 3 ? '-skip' : index % 10 === 7 ? '-twice' : '';
  return `job${String(index).padStart(3, '0')}${suffix}`;
}

export async function stateCounts(db: Pick<mysql.Pool, 'query'>): Promise<Record<string, number>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  return Object.fromEntries(rows.map((row) => [String(row.state), Number(row.n)]));
}
