/**
 * A MariaDB and a Temporal dev server of the test's own, on free ports with
 * their own state folder, for tests that kill servers: the shared dev stack
 * (127.0.0.1:3306 and :7233) runs everyone else's tests and is never touched.
 * Each server can be SIGKILLed and restarted on the same data (MariaDB's data
 * directory, Temporal's SQLite file) and port.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AdminConnection } from '../../store/database-admin.js';
import { startMysql } from '../../scripts/stack/mysql.js';
import { findTemporalCli, startTemporal } from '../../scripts/stack/temporal.js';
import { processIsAlive, readPid, stopProcess } from '../../scripts/stack/processes.js';
import { stackSettings, type StackSettings } from '../../scripts/stack/settings.js';
import { freePort } from './processes.js';
import { until } from './until.js';

export interface PrivateServer {
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
  /** Start again on the same data and port; resolves once it answers. */
  restart(): Promise<void>;
  pid(): number | undefined;
}

export interface PrivateStack {
  settings: StackSettings;
  /** The MariaDB admin account (may create databases and users). */
  admin: AdminConnection;
  /** host:port of the Temporal dev server. */
  temporalAddress: string;
  mysql: PrivateServer;
  temporal: PrivateServer;
  /** Environment that points saliflow processes (config overrides) at this stack. */
  env: Record<string, string>;
  /** Stops both servers and deletes the state folder. */
  stop(): Promise<void>;
}

const quiet = () => undefined;

async function killPidFile(pidFile: string): Promise<void> {
  const pid = readPid(pidFile);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await until(
    `process ${pid} (${pidFile}) to be gone after SIGKILL`,
    async () => (processIsAlive(pid) ? undefined : true),
    {
      timeoutMs: 10_000,
      everyMs: 20,
    },
  );
}

/** Pids of every stack this process started, killed on exit even if a test forgets. */
const started = new Set<string>();
process.once('exit', () => {
  for (const pidFile of started) {
    const pid = readPid(pidFile);
    if (pid !== undefined && processIsAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

export async function startPrivateStack(): Promise<PrivateStack> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'saliflow-private-stack-'));
  const shared = stackSettings();
  // The temporal CLI as the shared stack finds it (TEMPORAL_CLI_PATH, PATH, or
  // the shared state folder's bin/, where `npm run stack -- start` installs it).
  const cliPath = await findTemporalCli(shared, quiet);
  const [mysqlPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const host = '127.0.0.1';
  const settings: StackSettings = {
    stateDir,
    temporal: {
      address: `${host}:${temporalPort}`,
      host,
      port: temporalPort,
      uiPort,
      namespace: 'default',
      cliPath,
      dbFile: path.join(stateDir, 'temporal', 'temporal.db'),
      logFile: path.join(stateDir, 'temporal', 'server.log'),
      pidFile: path.join(stateDir, 'temporal', 'server.pid'),
    },
    mysql: {
      host,
      port: mysqlPort,
      adminUser: 'saliflow_admin',
      adminPassword: 'private-stack-admin',
      dataDir: path.join(stateDir, 'mariadb', 'data'),
      socket: path.join(stateDir, 'mariadb', 'mysqld.sock'),
      logFile: path.join(stateDir, 'mariadb', 'mysqld.log'),
      pidFile: path.join(stateDir, 'mariadb', 'mysqld.pid'),
    },
  };
  fs.mkdirSync(path.dirname(settings.mysql.dataDir), { recursive: true });
  fs.mkdirSync(path.dirname(settings.temporal.dbFile), { recursive: true });
  started.add(settings.mysql.pidFile).add(settings.temporal.pidFile);

  const startMysqlHere = async () => {
    if ((await startMysql(settings, quiet)) !== 'started') throw new Error(`port ${mysqlPort} was taken meanwhile`);
  };
  const startTemporalHere = async () => {
    if ((await startTemporal(settings, quiet)) !== 'started')
      throw new Error(`port ${temporalPort} was taken meanwhile`);
  };
  const server = (pidFile: string, start: () => Promise<void>): PrivateServer => ({
    kill: () => killPidFile(pidFile),
    restart: start,
    pid: () => readPid(pidFile),
  });
  const stop = async () => {
    await Promise.all([stopProcess(settings.mysql.pidFile, 30_000), stopProcess(settings.temporal.pidFile)]);
    started.delete(settings.mysql.pidFile);
    started.delete(settings.temporal.pidFile);
    fs.rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await Promise.all([startMysqlHere(), startTemporalHere()]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    settings,
    admin: { host, port: mysqlPort, user: settings.mysql.adminUser, password: settings.mysql.adminPassword },
    temporalAddress: settings.temporal.address,
    mysql: server(settings.mysql.pidFile, startMysqlHere),
    temporal: server(settings.temporal.pidFile, startTemporalHere),
    env: {
      TEMPORAL_ADDRESS: settings.temporal.address,
      TEMPORAL_NAMESPACE: settings.temporal.namespace,
      SALIFLOW_MYSQL_HOST: host,
      SALIFLOW_MYSQL_PORT: String(mysqlPort),
      // An inherited socket would win over host and port.
      SALIFLOW_MYSQL_SOCKET: '',
      SALIFLOW_TASK_QUEUE: '',
    },
    stop,
  };
}
