/** The CREATE and DROP statements of saliweb's tables and saliflow's own (core/schema.ts names their columns). */
import { JOB_STATES } from '../core/states.js';
import {
  CONTROL_TABLE,
  JOB_HOSTS_TABLE,
  LEASE_TABLE,
  MIGRATIONS_TABLE,
  OUTAGES_TABLE,
  validateColumns,
  type ColumnSpec,
} from '../core/schema.js';

function literal(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function columnDefinition(column: ColumnSpec): string {
  const parts = [`\`${column.name}\``, column.type.toUpperCase()];
  if (column.nullable === false) parts.push('NOT NULL');
  if (column.default !== undefined) parts.push(`DEFAULT ${literal(column.default)}`);
  return parts.join(' ');
}

export interface SchemaOptions {
  columns?: readonly ColumnSpec[];
  trackHostname?: boolean;
}

export function createTablesSql({ columns = [], trackHostname = false }: SchemaOptions = {}): string[] {
  validateColumns(columns);
  const states = JOB_STATES.map((state) => `'${state}'`).join(',');
  const definitions = [
    'name VARCHAR(40) PRIMARY KEY',
    'user VARCHAR(40)',
    'passwd CHAR(10)',
    'contact_email VARCHAR(100)',
    'directory TEXT',
    'url TEXT NOT NULL',
    `state ENUM(${states}) NOT NULL DEFAULT 'INCOMING'`,
    'submit_time DATETIME NOT NULL',
    'preprocess_time DATETIME',
    'run_time DATETIME',
    'postprocess_time DATETIME',
    'finalize_time DATETIME',
    'end_time DATETIME',
    'archive_time DATETIME',
    'expire_time DATETIME',
    'runner_id VARCHAR(200)',
    'failure TEXT',
    ...(trackHostname ? ['hostname VARCHAR(400)'] : []),
    ...columns.map(columnDefinition),
    'INDEX (state)',
    ...columns.filter((column) => column.index).map((column) => `INDEX (\`${column.name}\`)`),
  ];
  return [
    `CREATE TABLE jobs (${definitions.join(', ')})`,
    // saliweb's schema (its scons checks it): both columns NOT NULL DEFAULT '', both indexed.
    "CREATE TABLE dependencies (child VARCHAR(40) NOT NULL DEFAULT '', parent VARCHAR(40) NOT NULL DEFAULT '', INDEX (child), INDEX (parent))",
  ];
}

export function createLeaseTableSql(): string {
  return `CREATE TABLE IF NOT EXISTS ${LEASE_TABLE} (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    token BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(3) NULL,
    expires_at DATETIME(3) NULL
  )`;
}

/** Idempotent, so a database made by an older saliflow (which wrote the worker's host into `hostname`) gets it too. */
export function createJobHostsTableSql(): string {
  return `CREATE TABLE IF NOT EXISTS ${JOB_HOSTS_TABLE} (
    name VARCHAR(40) NOT NULL PRIMARY KEY,
    host VARCHAR(255) NOT NULL,
    admitted_at DATETIME NOT NULL
  )`;
}

export function dropTablesSql(): string[] {
  return [
    'DROP TABLE IF EXISTS jobs',
    'DROP TABLE IF EXISTS dependencies',
    `DROP TABLE IF EXISTS ${CONTROL_TABLE}`,
    `DROP TABLE IF EXISTS ${LEASE_TABLE}`,
    `DROP TABLE IF EXISTS ${OUTAGES_TABLE}`,
    `DROP TABLE IF EXISTS ${JOB_HOSTS_TABLE}`,
    `DROP TABLE IF EXISTS ${MIGRATIONS_TABLE}`,
  ];
}
