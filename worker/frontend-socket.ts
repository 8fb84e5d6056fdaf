/**
 * saliweb's frontend announces a new job by writing `INCOMING <name>\n` to
 * the backend's Unix socket (`[general] socket`). The worker listens there
 * and starts the job's workflow at once, so unmodified saliweb frontends get
 * prompt starts; the reconcile schedule still catches any lost ping.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { startJob } from '../activities/job-start.js';

const JOB_NAME = /^[A-Za-z0-9_-]{1,40}$/;

async function removeStaleSocket(socketPath: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive)
    throw new Error(`another backend is listening on ${socketPath}; stop it first (or change [general] socket)`);
  await fs.rm(socketPath, { force: true });
}

export interface FrontendSocket {
  close(): Promise<void>;
}

export async function listenForFrontends(
  config: ServiceConfig,
  db: Pick<mysql.Pool, 'query'>,
  client: Client,
  log: (message: string) => void = console.warn,
): Promise<FrontendSocket> {
  const socketPath = config.general.socket;
  await removeStaleSocket(socketPath);

  async function handle(line: string): Promise<void> {
    const [command, name] = line.trim().split(/\s+/);
    if (command !== 'INCOMING' || !name || !JOB_NAME.test(name)) {
      log(`frontend socket: ignoring "${line.trim()}" (expected "INCOMING <job name>")`);
      return;
    }
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT user, state FROM jobs WHERE name = ?', [name]);
    const row = rows[0];
    if (!row) return log(`frontend socket: no job ${name} in the jobs table; ignored`);
    if (row.state !== 'INCOMING') return;
    await startJob(client, config, { job: name, user: row.user ?? null, eager: true });
  }

  const server = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines)
        if (line.trim()) handle(line).catch((error: Error) => log(`frontend socket: ${error.message}`));
    });
    socket.on('end', () => {
      if (buffered.trim()) handle(buffered).catch((error: Error) => log(`frontend socket: ${error.message}`));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  // The web server runs as another user; it must be able to connect.
  await fs.chmod(socketPath, 0o666);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
