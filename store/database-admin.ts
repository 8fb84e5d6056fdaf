/**
 * Creating a service's database, tables and its two MySQL users, with the
 * rights saliweb gives them (its `scons` checks them): the frontend may
 * SELECT `jobs`, INSERT only the columns a submission writes (name, user,
 * passwd, directory, contact_email, url, submit_time, and hostname with
 * track_hostname) and SELECT, INSERT, UPDATE, DELETE `dependencies`; the
 * backend may do everything on the service's tables. saliweb's accounts are
 * `@'localhost'` (MySQL's Unix socket); saliflow also makes them
 * `@'127.0.0.1'` by default, for clients that reach MySQL over TCP on this
 * host (a server with skip-name-resolve does not call that `localhost`).
 * Workers or frontends on other hosts need their hosts (or `%`) added.
 */
import mysql from 'mysql2/promise';
import type { ColumnSpec } from '../core/schema.js';
import { createJobHostsTableSql, createTablesSql, dropTablesSql } from './tables.js';
import { migrate } from './migrations.js';
import type { DbCredentials } from '../core/config/index.js';
import { UsageError } from '../core/errors.js';

export interface AdminConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface ServiceDatabase {
  db: string;
  backend: DbCredentials;
  frontend: DbCredentials;
  columns?: readonly ColumnSpec[];
  trackHostname?: boolean;
  /** The host parts of both MySQL accounts; default DEFAULT_ACCOUNT_HOSTS. */
  accountHosts?: readonly string[];
}

export const DEFAULT_ACCOUNT_HOSTS: readonly string[] = ['localhost', '127.0.0.1'];

/** The `jobs` columns a frontend inserts (saliweb's grant). */
export function frontendInsertColumns(trackHostname: boolean): string[] {
  const columns = ['name', 'user', 'passwd', 'directory', 'contact_email', 'url', 'submit_time'];
  return trackHostname ? [...columns, 'hostname'] : columns;
}

const IDENTIFIER = /^[A-Za-z0-9_]{1,64}$/;

function checkIdentifier(kind: string, value: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new UsageError(`${kind} "${value}" must be 1-64 letters, digits or underscores`);
  }
  return value;
}

async function withConnection<T>(
  admin: AdminConnection,
  work: (connection: mysql.Connection) => Promise<T>,
): Promise<T> {
  const connection = await mysql.createConnection({ ...admin, multipleStatements: false });
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

/** Creates the database, both users and the tables; safe to run again. */
export async function provisionServiceDatabase(admin: AdminConnection, spec: ServiceDatabase): Promise<void> {
  const db = checkIdentifier('database name', spec.db);
  await withConnection(admin, async (connection) => {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
    const hosts = spec.accountHosts ?? DEFAULT_ACCOUNT_HOSTS;
    if (hosts.length === 0) throw new UsageError('no account host given: name at least one (saliweb: localhost)');
    for (const { user, passwd } of [spec.backend, spec.frontend]) {
      checkIdentifier('MySQL user', user);
      for (const host of hosts) {
        await connection.query(`CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?`, [user, host, passwd]);
        // Keep the password in step with the credential file if it changed.
        await connection.query(`ALTER USER ?@? IDENTIFIED BY ?`, [user, host, passwd]);
      }
    }
    for (const host of hosts) {
      await connection.query(`GRANT ALL PRIVILEGES ON \`${db}\`.* TO ?@?`, [spec.backend.user, host]);
    }
    const [tables] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?',
      [db],
    );
    if (tables.length === 0) {
      await connection.query(`USE \`${db}\``);
      for (const statement of createTablesSql({
        columns: spec.columns ?? [],
        trackHostname: spec.trackHostname ?? false,
      })) {
        await connection.query(statement);
      }
    }
    await connection.query(`USE \`${db}\``);
    await migrate(connection);
    // Table-level grants need the tables to exist, so they come last.
    const insertable = frontendInsertColumns(spec.trackHostname ?? false)
      .map((column) => `\`${column}\``)
      .join(', ');
    for (const host of hosts) {
      const to = [spec.frontend.user, host];
      await connection.query(`GRANT SELECT, INSERT (${insertable}) ON \`${db}\`.jobs TO ?@?`, to);
      await connection.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${db}\`.dependencies TO ?@?`, to);
    }
  });
}

export async function dropServiceDatabase(admin: AdminConnection, db: string): Promise<void> {
  await withConnection(admin, (connection) =>
    connection.query(`DROP DATABASE IF EXISTS \`${checkIdentifier('database name', db)}\``),
  );
}

/**
 * `saliflow db create-tables`, run with the backend user's rights. Tables that
 * exist already (`db provision` made them) are left as they are: 'existed'.
 */
export async function createTables(
  connection: mysql.Connection,
  options: { columns?: readonly ColumnSpec[]; trackHostname?: boolean },
): Promise<'created' | 'existed'> {
  const [found] = await connection.query<mysql.RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('jobs', 'dependencies')",
  );
  // Idempotent, and applied whether or not the job tables existed (a database made before leases, or migrations).
  await migrate(connection);
  if (options.trackHostname) await connection.query(createJobHostsTableSql());
  if (found.length === 2) return 'existed';
  if (found.length === 1) {
    throw new UsageError(
      `only table ${String(found[0]!.name)} exists; saliflow db drop-tables, then create-tables again (job records are lost)`,
    );
  }
  for (const statement of createTablesSql(options)) await connection.query(statement);
  return 'created';
}

export async function dropTables(connection: mysql.Connection) {
  for (const statement of dropTablesSql()) await connection.query(statement);
}
