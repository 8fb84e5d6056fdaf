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
import path from 'node:path';
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
import { grantSocketUser } from './socket-acl.js';

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

/**
 * The process listening on a Unix socket path, from /proc/net/unix (its inode) and /proc/<pid>/fd (who holds
 * it): Linux only, and only processes this one may look into; undefined when it cannot tell.
 */
export async function socketListener(socketPath: string): Promise<{ pid: number; command: string } | undefined> {
  const table = await fs.readFile('/proc/net/unix', 'utf8').catch(() => '');
  // "Num RefCount Protocol Flags Type St Inode Path"; a listening socket has __SO_ACCEPTCON (0x10000) in Flags.
  const inodes = new Set(
    table
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[7] === socketPath && (parseInt(fields[3] ?? '0', 16) & 0x10000) !== 0)
      .map((fields) => `socket:[${fields[6]}]`),
  );
  if (inodes.size === 0) return undefined;
  const pids = (await fs.readdir('/proc').catch(() => [] as string[])).filter((entry) => /^\d+$/.test(entry));
  for (const pid of pids) {
    const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!inodes.has(target)) continue;
      const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return { pid: Number(pid), command: cmdline.split('\0').filter(Boolean).join(' ') };
    }
  }
  return undefined;
}

/**
 * Before binding: the socket's folder exists (saliweb's daemon fails there too; nothing creates it, since the
 * web server's user must be able to reach it and only the operator knows how), and no backend listens on the
 * socket. A socket file nobody listens on is a crashed worker's: removed, as saliweb does.
 */
export async function checkSocketPath(config: ServiceConfig): Promise<void> {
  const socketPath = config.general.socket;
  const where = process.env.SALIFLOW_SOCKET ? 'SALIFLOW_SOCKET' : `[general] socket in ${config.configFile}`;
  const folder = path.dirname(socketPath);
  const stat = await fs.stat(folder).catch((error: NodeJS.ErrnoException) => error);
  if (stat instanceof Error) {
    const why = stat.code === 'ENOENT' ? 'does not exist' : `cannot be read (${stat.code ?? stat.message})`;
    throw new StartupError(
      `cannot listen on the frontend socket ${socketPath} (${where}): its folder ${folder} ${why}; create it ` +
        `(mkdir -p ${folder}, writable by the worker's user, reachable by the web server's) or change the socket's path`,
    );
  }
  if (!stat.isDirectory()) {
    throw new StartupError(
      `cannot listen on the frontend socket ${socketPath} (${where}): ${folder} is not a folder; change the socket's path`,
    );
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    const holder = await socketListener(socketPath);
    const who = holder
      ? /(saliflow|cli\/main\.[jt]s).*\bworker\b|worker-process/.test(holder.command)
        ? `another saliflow worker (pid ${holder.pid}: ${holder.command.slice(0, 200)})`
        : `another process (pid ${holder.pid}: ${holder.command.slice(0, 200)}; saliweb's daemon?)`
      : 'another backend (its pid is not visible to this user)';
    throw new StartupError(
      `the frontend socket ${socketPath} (${where}) is held by ${who}; stop it first, or give this worker a socket ` +
        'of its own (SALIFLOW_SOCKET, one per worker on a host)',
    );
  }
  const existing = await fs.lstat(socketPath).catch(() => undefined);
  if (existing && !existing.isSocket()) {
    throw new StartupError(
      `the frontend socket's path ${socketPath} (${where}) holds a file that is not a socket; it is not removed: ` +
        "move it away, or change the socket's path",
    );
  }
  await fs.rm(socketPath, { force: true });
}

/**
 * The web server runs as another user: saliweb's ACL for it (socket-acl.ts), or the socket's group and mode.
 * The mode first: setfacl then widens the ACL mask (the group bits `ls -l` shows) to let the user's rwx through.
 */
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
  await grantSocketUser(config);
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
  await checkSocketPath(config);

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
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          `cannot listen on the frontend socket ${socketPath} ([general] socket in ${config.configFile}): ${error.message}`,
          { cause: error },
        ),
      ),
    );
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
