/**
 * saliflow's own tables (saliflow_control, saliflow_lease, saliflow_status_outages) change by
 * numbered migrations, recorded in `saliflow_migrations`: `saliflow db migrate` applies the ones
 * a database lacks, in order, and a worker does the same at start (as the backend user, who
 * creates these tables anyway). The list is append-only: a migration, once released, is never
 * edited or removed; a change is a new one. Each must be idempotent (IF NOT EXISTS, or a check
 * first), since several workers may start at once. The `jobs` and `dependencies` tables are
 * saliweb's and the service's: `saliflow db check` checks them, nothing migrates them.
 */
import type mysql from 'mysql2/promise';
import { CONTROL_TABLE, LEASE_TABLE, MIGRATIONS_TABLE, OUTAGES_TABLE } from '../core/schema.js';
import { CREATE_CONTROL_TABLE } from './service-control.js';
import { CREATE_OUTAGES_TABLE } from './status-outages.js';
import { createLeaseTableSql } from './tables.js';
import type { Queryable } from './pool.js';

export { MIGRATIONS_TABLE };

export interface Migration {
  /** 1, 2, 3, …: the order they are applied in, never reused. */
  version: number;
  name: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: `create ${CONTROL_TABLE} (pause, published limits)`, statements: [CREATE_CONTROL_TABLE] },
  { version: 2, name: `create ${LEASE_TABLE} (admission lease)`, statements: [createLeaseTableSql()] },
  { version: 3, name: `create ${OUTAGES_TABLE} (scheduler status outages)`, statements: [CREATE_OUTAGES_TABLE] },
];

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  version INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  applied_at DATETIME NOT NULL
)`;

/** The versions recorded as applied (none when the table is missing). */
export async function appliedMigrations(db: Queryable): Promise<Set<number>> {
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT version FROM ${MIGRATIONS_TABLE}`);
    return new Set(rows.map((row) => Number(row.version)));
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_NO_SUCH_TABLE') return new Set();
    throw error;
  }
}

/** The migrations this database lacks, in order. */
export async function pendingMigrations(db: Queryable): Promise<Migration[]> {
  const applied = await appliedMigrations(db);
  return MIGRATIONS.filter((migration) => !applied.has(migration.version));
}

/** Applies what is pending, in order, each recorded once done; returns what it applied. */
export async function migrate(db: Queryable): Promise<Migration[]> {
  await db.query(CREATE_MIGRATIONS_TABLE);
  const pending = await pendingMigrations(db);
  for (const migration of pending) {
    for (const statement of migration.statements) await db.query(statement);
    await db.query(
      `INSERT IGNORE INTO ${MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP())`,
      [migration.version, migration.name],
    );
  }
  return pending;
}
