/**
 * PostgreSQL for the production-like Temporal: Debian's server package, run
 * as a private cluster under the state folder on its own port. PostgreSQL
 * refuses to run as root, so as root the cluster belongs to the package's
 * `postgres` user. Temporal logs in over TCP as a password role that may
 * create databases (the schema tool creates them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { StackError } from '../../core/errors.js';
import { portIsOpen } from '../stack/processes.js';
import { POSTGRES_MAJOR, type ProductionSettings } from './settings.js';

type Log = (message: string) => void;

const BIN = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;
const SUPERUSER = 'postgres';
const isRoot = () => process.getuid?.() === 0;

async function ensureInstalled(log: Log): Promise<void> {
  if (fs.existsSync(path.join(BIN, 'pg_ctl'))) return;
  if (!isRoot()) {
    throw new StackError(
      `PostgreSQL ${POSTGRES_MAJOR} is not installed (${BIN}/pg_ctl missing). Install it: sudo apt-get install postgresql-${POSTGRES_MAJOR}`,
    );
  }
  log(`installing PostgreSQL ${POSTGRES_MAJOR} from apt…`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-qq'], { env, reject: false });
  const install = await execa('apt-get', ['install', '-y', '-qq', `postgresql-${POSTGRES_MAJOR}`], {
    env,
    reject: false,
  });
  if (!fs.existsSync(path.join(BIN, 'pg_ctl'))) {
    throw new StackError(
      `apt-get install postgresql-${POSTGRES_MAJOR} failed:\n${install.stderr.split('\n').slice(-5).join('\n')}`,
    );
  }
}

/** Runs a PostgreSQL program as the cluster's owner (`postgres` when we are root). */
function asOwner(program: string, args: string[], options: { input?: string } = {}) {
  const command = path.join(BIN, program);
  return isRoot()
    ? execa('runuser', ['-u', 'postgres', '--', command, ...args], { reject: false, ...options })
    : execa(command, args, { reject: false, ...options });
}

function socketDir(settings: ProductionSettings): string {
  return path.join(settings.runDir, 'postgres');
}

/** Makes `target` (a folder or file) belong to the cluster's owner. */
async function giveToOwner(target: string): Promise<void> {
  if (isRoot()) await execa('chown', ['-R', 'postgres:postgres', target]);
}

async function psql(settings: ProductionSettings, sql: string, database = 'postgres'): Promise<string> {
  const result = await asOwner('psql', [
    '-h',
    socketDir(settings),
    '-p',
    String(settings.postgres.port),
    '-U',
    SUPERUSER,
    '-d',
    database,
    '-v',
    'ON_ERROR_STOP=1',
    '-tAc',
    sql,
  ]);
  if (result.exitCode !== 0) throw new StackError(`psql failed on "${sql.slice(0, 60)}…": ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** Ready means it accepts connections (pg_isready), not merely that the port is open. */
async function ready(settings: ProductionSettings): Promise<boolean> {
  const result = await execa(
    path.join(BIN, 'pg_isready'),
    ['-h', settings.host, '-p', String(settings.postgres.port), '-q'],
    {
      reject: false,
    },
  ).catch(() => ({ exitCode: 1 }));
  return result.exitCode === 0;
}

export async function startPostgres(settings: ProductionSettings, log: Log): Promise<'started' | 'reused'> {
  const { port, dataDir, logFile, user, password } = settings.postgres;
  await ensureInstalled(log);
  if (await ready(settings)) {
    if (fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return 'reused';
    throw new StackError(
      `a PostgreSQL that is not this state folder's (${dataDir}) answers on port ${port}: ` +
        'stop it (npm run production -- stop with the SALIFLOW_STATE_DIR it was started with) or free the port',
    );
  }
  if (await portIsOpen(settings.host, port)) {
    throw new StackError(`port ${port} on ${settings.host} is taken by something that is not PostgreSQL; free it`);
  }
  fs.mkdirSync(settings.logDir, { recursive: true });
  fs.mkdirSync(socketDir(settings), { recursive: true });
  await giveToOwner(socketDir(settings));
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising a PostgreSQL ${POSTGRES_MAJOR} cluster in ${dataDir}…`);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    await giveToOwner(dataDir);
    const init = await asOwner('initdb', [
      '-D',
      dataDir,
      '-U',
      SUPERUSER,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
    ]);
    if (init.exitCode !== 0) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new StackError(`initdb failed:\n${init.stderr || init.stdout}`);
    }
  }
  fs.writeFileSync(logFile, '', { flag: 'a' });
  await giveToOwner(logFile);
  log(`starting PostgreSQL on ${settings.host}:${port}…`);
  const options = `-p ${port} -k ${socketDir(settings)} -c listen_addresses=${settings.host} -c max_connections=200`;
  const start = await asOwner('pg_ctl', ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', options]);
  if (start.exitCode !== 0) {
    throw new StackError(`pg_ctl start failed: ${start.stderr || start.stdout}\nsee ${logFile}`);
  }
  const exists = await psql(settings, `SELECT 1 FROM pg_roles WHERE rolname = '${user}'`);
  if (exists !== '1') {
    await psql(settings, `CREATE ROLE ${user} LOGIN CREATEDB PASSWORD '${password.replace(/'/g, "''")}'`);
  }
  return 'started';
}

export async function databaseExists(settings: ProductionSettings, database: string): Promise<boolean> {
  return (await psql(settings, `SELECT 1 FROM pg_database WHERE datname = '${database}'`)) === '1';
}

/** Whether `table` exists in `database` (to tell a database whose schema was already set up). */
export async function tableExists(settings: ProductionSettings, database: string, table: string): Promise<boolean> {
  if (!(await databaseExists(settings, database))) return false;
  return (await psql(settings, `SELECT to_regclass('public.${table}') IS NOT NULL`, database)) === 't';
}

export async function postgresStatus(settings: ProductionSettings): Promise<string> {
  const where = `${settings.host}:${settings.postgres.port}`;
  return (await ready(settings))
    ? `postgres: up at ${where} (data ${settings.postgres.dataDir})`
    : `postgres: down (nothing answers at ${where})`;
}

export async function stopPostgres(settings: ProductionSettings): Promise<boolean> {
  if (!fs.existsSync(path.join(settings.postgres.dataDir, 'postmaster.pid'))) return false;
  const stop = await asOwner('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', settings.postgres.dataDir]);
  return stop.exitCode === 0;
}
