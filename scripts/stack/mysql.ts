/**
 * MySQL for the dev stack: reuse a server that answers at the configured
 * host/port, otherwise install MariaDB from apt (when root) and run a private
 * instance whose data lives under the state folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { StackError } from '../../core/errors.js';
import type { StackSettings } from './settings.js';
import { portIsOpen, processIsAlive, readPid, spawnDetached, stopProcess, tailOf, waitFor } from './processes.js';

type Log = (message: string) => void;

type Probe = { ok: true } | { ok: false; code?: string; message: string };

async function probeAdmin(settings: StackSettings): Promise<Probe> {
  const { host, port, adminUser, adminPassword } = settings.mysql;
  try {
    const connection = await mysql.createConnection({
      host,
      port,
      user: adminUser,
      password: adminPassword,
      connectTimeout: 3000,
    });
    await connection.end();
    return { ok: true };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return { ok: false, ...(code ? { code } : {}), message };
  }
}

function isLocal(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1'].includes(host);
}

async function which(command: string): Promise<string | undefined> {
  const result = await execa('sh', ['-c', `command -v ${command}`], { reject: false });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

async function ensureMariadbInstalled(log: Log): Promise<string> {
  const existing = (await which('mariadbd')) ?? (await which('mysqld'));
  if (existing) return existing;
  if (process.getuid?.() !== 0) {
    throw new StackError(
      'no MySQL server is reachable and MariaDB is not installed. Install it (sudo apt-get install mariadb-server) ' +
        'or point SALIFLOW_MYSQL_HOST/SALIFLOW_MYSQL_PORT at a running server.',
    );
  }
  log('installing MariaDB from apt…');
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-qq'], { env, reject: false });
  const install = await execa('apt-get', ['install', '-y', '-qq', 'mariadb-server', 'mariadb-client'], {
    env,
    reject: false,
  });
  const installed = (await which('mariadbd')) ?? (await which('mysqld'));
  if (!installed) {
    throw new StackError(`apt-get install mariadb-server failed:\n${install.stderr.split('\n').slice(-5).join('\n')}`);
  }
  return installed;
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

async function startPrivateMariadb(settings: StackSettings, log: Log): Promise<void> {
  const { dataDir, socket, logFile, pidFile, host, port, adminUser, adminPassword } = settings.mysql;
  const server = await ensureMariadbInstalled(log);
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  if (!fs.existsSync(path.join(dataDir, 'mysql'))) {
    log(`initialising a MariaDB data directory in ${dataDir}…`);
    fs.mkdirSync(dataDir, { recursive: true });
    await execa('mariadb-install-db', ['--no-defaults', `--datadir=${dataDir}`, ...asRoot, '--skip-test-db'], {
      reject: false,
    }).then((result) => {
      if (result.exitCode !== 0) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        throw new StackError(`mariadb-install-db failed:\n${result.stderr || result.stdout}`);
      }
    });
  }
  log(`starting MariaDB on ${host}:${port}…`);
  const pid = spawnDetached(
    server,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      `--bind-address=${host === 'localhost' ? '127.0.0.1' : host}`,
      `--pid-file=${pidFile}.server`,
      // gVisor and some containers lack native AIO; the fallback is fine for a dev database.
      '--innodb-use-native-aio=0',
      '--skip-name-resolve',
      ...asRoot,
    ],
    logFile,
    pidFile,
  );
  await waitFor('MariaDB', async () => fs.existsSync(socket) && (await portIsOpen(host, port)), {
    timeoutMs: 60000,
    onTimeout: () => `Its log (${logFile}) ends with:\n${tailOf(logFile)}`,
  });
  if (!processIsAlive(pid)) throw new StackError(`MariaDB exited; see ${logFile}`);
  // The fresh server's root logs in through the Unix socket only; use it once
  // to create the TCP admin account that everything else uses.
  const user = `${sqlString(adminUser)}@'%'`;
  const bootstrap = [
    `CREATE USER IF NOT EXISTS ${user} IDENTIFIED BY ${sqlString(adminPassword)}`,
    `GRANT ALL PRIVILEGES ON *.* TO ${user} WITH GRANT OPTION`,
    'FLUSH PRIVILEGES',
  ].join(';');
  const result = await execa('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', bootstrap], {
    reject: false,
  });
  if (result.exitCode !== 0) throw new StackError(`could not create the MySQL admin account: ${result.stderr}`);
}

export async function startMysql(settings: StackSettings, log: Log): Promise<'started' | 'reused'> {
  const { host, port, adminUser } = settings.mysql;
  if (await portIsOpen(host, port)) {
    const probe = await probeAdmin(settings);
    if (probe.ok) return 'reused';
    if (probe.code === 'ER_ACCESS_DENIED_ERROR') {
      throw new StackError(
        `the MySQL server at ${host}:${port} refuses user ${adminUser} (wrong user or password). ` +
          'Set SALIFLOW_MYSQL_ADMIN_USER and SALIFLOW_MYSQL_ADMIN_PASSWORD to an account that may create databases ' +
          'and users, or set SALIFLOW_MYSQL_PORT to a free port so saliflow starts its own server.',
      );
    }
    throw new StackError(
      `port ${port} on ${host} is taken by something that does not answer as MySQL (${probe.message}). ` +
        'Stop that program, or set SALIFLOW_MYSQL_PORT to a free port.',
    );
  }
  if (!isLocal(host)) {
    throw new StackError(
      `no MySQL server answers at ${host}:${port}. Start it, or fix SALIFLOW_MYSQL_HOST/SALIFLOW_MYSQL_PORT.`,
    );
  }
  await startPrivateMariadb(settings, log);
  const probe = await probeAdmin(settings);
  if (!probe.ok) throw new StackError(`MariaDB started but refuses ${adminUser}: ${probe.message}`);
  return 'started';
}

export async function mysqlStatus(settings: StackSettings): Promise<string> {
  const { host, port, pidFile } = settings.mysql;
  const pid = readPid(pidFile);
  const ours = pid !== undefined && processIsAlive(pid) ? ` (pid ${pid}, started by saliflow)` : '';
  const probe = await probeAdmin(settings);
  return probe.ok ? `mysql: up at ${host}:${port}${ours}` : `mysql: down or refusing (${probe.message})`;
}

export async function stopMysql(settings: StackSettings): Promise<boolean> {
  return stopProcess(settings.mysql.pidFile, 30000);
}
