/** The backend's MySQL pool, as the service config describes it. */
import { dirname, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { DEFAULT_MYSQL_SOCKET, type ServiceConfig } from '../core/config/index.js';
import { ConnectionError } from '../core/errors.js';

export type Pool = mysql.Pool;

/** What a store function runs its statements on: the pool, or a connection holding a transaction. */
export type Queryable = Pick<mysql.Pool, 'query'> | Pick<mysql.PoolConnection, 'query'>;

export function createPool(config: ServiceConfig, role: 'backend' | 'frontend' = 'backend'): Pool {
  const { db, host, port, socket } = config.database;
  const credentials = config.database[role];
  return mysql.createPool({
    database: db,
    user: credentials.user,
    password: credentials.passwd,
    ...(socket !== undefined ? { socketPath: socket } : { host, port }),
    // saliweb stores every DATETIME in UTC; read them back as UTC too.
    timezone: 'Z',
    connectionLimit: 10,
    connectTimeout: 5000,
  });
}

/** Runs `work` in a transaction, committing on success and rolling back on any error. */
/** One round trip on the pool (the health endpoint's probe): resolves when MySQL answers. */
export async function pingDatabase(pool: Queryable): Promise<void> {
  await pool.query('SELECT 1');
}

export async function inTransaction<T>(pool: Pool, work: (connection: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const connection = await pool.getConnection();
  try {
    await connection.beginTransaction();
    const result = await work(connection);
    await connection.commit();
    return result;
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}

type Role = 'backend' | 'frontend';

/** MySQL's answers that mean "this account, address or database is wrong", not a passing fault. */
const CONNECT_PROBLEMS: Record<string, (facts: ConnectFacts) => string> = {
  ER_ACCESS_DENIED_ERROR: (f) =>
    `MySQL at ${f.where} refused user ${f.user} (password from ${f.credentials}): access denied; ` +
    `check user and passwd under [${f.role}_db] in ${f.credentials}, and that the account may connect from this host`,
  ER_DBACCESS_DENIED_ERROR: (f) =>
    `MySQL at ${f.where} lets user ${f.user} (from ${f.credentials}) in but not into database ${f.db}; ` +
    `grant it (saliflow db provision does) or fix [database] db in ${f.configFile}`,
  ER_BAD_DB_ERROR: (f) =>
    `MySQL at ${f.where} has no database ${f.db} ([database] db in ${f.configFile}); ` +
    `create it with \`saliflow db provision --config ${f.configFile}\` or fix the name`,
  ER_NO_SUCH_TABLE: (f) =>
    `database ${f.db} at ${f.where} has no jobs table; create it with ` +
    `\`saliflow db create-tables --config ${f.configFile}\``,
};
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOENT',
]);

interface ConnectFacts {
  where: string;
  user: string;
  role: Role;
  credentials: string;
  db: string;
  configFile: string;
}

function connectFacts(config: ServiceConfig, role: Role): ConnectFacts {
  const { db, host, port, socket } = config.database;
  const file = config.sections.findSection('database')?.values.get(`${role}_config`) ?? `${role}.conf`;
  return {
    where: socket !== undefined ? `socket ${socket}` : `${host}:${port}`,
    user: config.database[role].user,
    role,
    credentials: resolve(dirname(config.configFile), file),
    db,
    configFile: config.configFile,
  };
}

/**
 * The error to show for a MySQL error that says the account, address or database
 * is wrong (naming them and where each is configured); any other error as it is.
 */
export function describeDatabaseError(config: ServiceConfig, error: unknown, role: Role = 'backend'): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const facts = connectFacts(config, role);
  const known = CONNECT_PROBLEMS[code];
  if (known) return new ConnectionError(known(facts), { cause: error });
  // Only a failed connect: an ENOENT from reading a file is not MySQL's.
  const syscall = (error as { syscall?: unknown }).syscall;
  if (UNREACHABLE.has(code) && (syscall === 'connect' || syscall === 'getaddrinfo')) {
    const byDefault =
      config.database.socket === DEFAULT_MYSQL_SOCKET &&
      config.sections.findSection('database')?.values.get('socket') === undefined
        ? ` (saliweb's default with no [database] host or socket; give host and port for TCP)`
        : '';
    return new ConnectionError(
      `cannot reach MySQL at ${facts.where}${byDefault} (${code}); check that MySQL runs there and [database] host and port ` +
        `(or socket) in ${facts.configFile}, or SALIFLOW_MYSQL_HOST/SALIFLOW_MYSQL_PORT/SALIFLOW_MYSQL_SOCKET`,
      { cause: error },
    );
  }
  return error;
}

/** Connects once as `role` and reads the jobs table: a worker that could not work fails here, at start. */
export async function checkDatabase(config: ServiceConfig, role: Role = 'backend'): Promise<void> {
  const pool = createPool(config, role);
  try {
    await pool.query('SELECT 1 FROM jobs LIMIT 0');
  } catch (error) {
    throw describeDatabaseError(config, error, role);
  } finally {
    await pool.end();
  }
}
