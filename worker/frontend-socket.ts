/**
 * saliweb's frontend announces a new job by writing `INCOMING <name>\n` to
 * the backend's Unix socket (`[general] socket`). The worker listens there
 * and starts the job's workflow at once, so unmodified saliweb frontends get
 * prompt starts; the reconcile schedule still catches any lost ping.
 *
 * Whoever can reach the socket can send anything, so every resource it
 * costs is capped: line length, open connections, idle time, log volume,
 * and pings waiting to be started (paced-calls.ts, which also paces the
 * starts and retries the ones that fail, for up to 10 minutes).
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
import { startJob } from '../activities/job-start.js';
import { readStateAndUser } from '../store/job-listing.js';
import { ConfigError, StartupError } from '../core/errors.js';
import { IN_FLIGHT_STATES } from '../core/states.js';
import { JOB_NAME } from '../core/job-name.js';
import { createLineSplitter, type OverlongLine } from './line-splitter.js';
import { groupId, GroupNotFoundError } from './group-id.js';
import { createPacedCalls } from '../engine/paced-calls.js';

export interface FrontendSocketLimits {
  /** A ping is ~50 bytes; longer lines are skipped. */
  maxLineBytes: number;
  /** Further connections are closed at once (saliweb frontends connect, write one line, close). */
  maxConnections: number;
  /** A connection silent this long is closed. */
  idleMs: number;
  /** How much of a bad line a log message quotes. */
  loggedChars: number;
}

export const DEFAULT_FRONTEND_SOCKET_LIMITS: FrontendSocketLimits = {
  maxLineBytes: 1024,
  maxConnections: 64,
  idleMs: 30_000,
  loggedChars: 200,
};

/** `INCOMING <job name>` → the job name; anything else → undefined. */
export function parsePing(line: string): string | undefined {
  const [command, name] = line.trim().split(/\s+/);
  return command === 'INCOMING' && name && JOB_NAME.test(name) ? name : undefined;
}

/** Quoted with control characters escaped (no forged log lines), cut to `max` characters. */
function quote(text: string, max: number): string {
  const quoted = JSON.stringify(text);
  return quoted.length <= max ? quoted : `${quoted.slice(0, max)}…"`;
}

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
    throw new StartupError(`another backend is listening on ${socketPath}; stop it first (or change [general] socket)`);
  await fs.rm(socketPath, { force: true });
}

/** The web server runs as another user: it gets in through the socket's group and mode. */
async function setPermissions(config: ServiceConfig): Promise<void> {
  const { socket, socketMode, socketGroup } = config.general;
  if (socketGroup !== undefined) {
    let gid: number;
    try {
      gid = await groupId(socketGroup);
    } catch (error) {
      if (!(error instanceof GroupNotFoundError)) throw error;
      throw new ConfigError(config.configFile, { section: 'general', key: 'socket_group' }, error.message);
    }
    await fs.chown(socket, -1, gid);
  }
  await fs.chmod(socket, socketMode);
}

export interface FrontendSocket {
  close(): Promise<void>;
}

export async function listenForFrontends(
  config: ServiceConfig,
  db: Pick<mysql.Pool, 'query'>,
  client: Client,
  log: (message: string) => void = (message) =>
    Runtime.instance().logger.warn(message, { component: 'frontend-socket' }),
  limits: Partial<FrontendSocketLimits> = {},
): Promise<FrontendSocket> {
  const { maxLineBytes, maxConnections, idleMs, loggedChars } = { ...DEFAULT_FRONTEND_SOCKET_LIMITS, ...limits };
  const socketPath = config.general.socket;
  await removeStaleSocket(socketPath);

  /** One valid ping: start the job's workflow if its row is still INCOMING. */
  async function handle(name: string): Promise<void> {
    const row = await readStateAndUser(db, name);
    if (!row) return log(`frontend socket: no job ${name} in the jobs table; ignored`);
    // An admission round may already have moved the row on (another job's round admits every job whose
    // turn it is): the job still needs its workflow, which resumes from the row. Finished jobs never restart.
    if (row.state !== 'INCOMING' && !(IN_FLIGHT_STATES as readonly string[]).includes(row.state)) return;
    await startJob(client, config, { job: name, user: row.user, eager: true, db });
  }
  const starts = createPacedCalls({
    name: 'frontend socket',
    log,
    giveUpAfterMs: 600_000,
    whatThen: 'the reconcile schedule starts the job',
  });

  const open = new Set<net.Socket>();
  function serve(socket: net.Socket): void {
    open.add(socket);
    let badLines = 0;

    // One message for the first bad line, one count at the end: a flood of junk costs two log lines.
    const bad = (describe: () => string) => {
      if (badLines++ === 0) log(`frontend socket: ignoring ${describe()} (expected "INCOMING <job name>")`);
    };

    const lines = createLineSplitter({
      maxLineBytes,
      keepBytes: loggedChars,
      onLine(line) {
        if (line.trim() === '') return;
        const name = parsePing(line);
        if (name === undefined) return bad(() => quote(line.trim(), loggedChars));
        void starts.add(name, `start job ${name}`, () => handle(name));
      },
      onOverlong({ start, bytes }: OverlongLine) {
        bad(() => `a line of ${bytes} bytes (more than ${maxLineBytes}) starting ${quote(start, loggedChars)}`);
      },
    });

    socket.setTimeout(idleMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => lines.push(chunk));
    socket.on('end', () => lines.end());
    socket.on('close', () => {
      open.delete(socket);
      if (badLines > 1) log(`frontend socket: ignored ${badLines - 1} more bad line(s) on the same connection`);
    });
    socket.on('error', () => undefined);
  }

  let ready = false;
  let refusing = false;
  const server = net.createServer((socket) => {
    // Until its mode and group are set, the socket may be open to anyone (umask): serve no one.
    if (!ready) return void socket.destroy();
    refusing = false;
    serve(socket);
  });
  server.maxConnections = maxConnections;
  server.on('drop', () => {
    if (!refusing) log(`frontend socket: ${maxConnections} connections open; closing new ones until some end`);
    refusing = true;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  try {
    await setPermissions(config);
  } catch (error) {
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }
  ready = true;
  return {
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A silent frontend must not hold up the worker's shutdown for the idle time.
        for (const socket of open) socket.destroy();
      });
      await starts.close();
    },
  };
}
