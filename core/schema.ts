/**
 * The `jobs` and `dependencies` tables, exactly as saliweb creates them, so
 * a saliweb frontend pointed at the same database keeps working. Services
 * add their own columns declaratively.
 */
import { JOB_STATES } from './states.js';
import { SchemaError } from './errors.js';

export { SchemaError };

export interface ColumnSpec {
  /** Column name: letters, digits and underscores, not a built-in column. */
  name: string;
  /** SQL type, e.g. `INTEGER`, `VARCHAR(100)`, `TEXT`, `DOUBLE`, `DATETIME`. */
  type: string;
  /** @defaultValue true */
  nullable?: boolean;
  /** A literal default value; omitted means no DEFAULT clause. */
  default?: string | number | null;
  /** @defaultValue false */
  index?: boolean;
}

export const BUILTIN_COLUMNS = [
  'name',
  'user',
  'passwd',
  'contact_email',
  'directory',
  'url',
  'state',
  'submit_time',
  'preprocess_time',
  'run_time',
  'postprocess_time',
  'finalize_time',
  'end_time',
  'archive_time',
  'expire_time',
  'runner_id',
  'failure',
  'hostname',
] as const;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// Deliberately narrow: a column type is spliced into DDL, so only plain
// type names with an optional (n) or (n,m) and UNSIGNED are accepted.
const SQL_TYPE = /^[A-Za-z]+( ?\(\d+(,\s*\d+)?\))?( UNSIGNED)?$/i;

export function validateColumns(columns: readonly ColumnSpec[]): void {
  const seen = new Set<string>();
  for (const column of columns) {
    const where = `service column "${column.name}"`;
    if (!IDENTIFIER.test(column.name)) {
      throw new SchemaError(`${where}: a column name must be letters, digits and underscores, starting with a letter`);
    }
    if ((BUILTIN_COLUMNS as readonly string[]).includes(column.name.toLowerCase())) {
      throw new SchemaError(`${where}: clashes with saliweb's built-in column of that name; rename it`);
    }
    if (seen.has(column.name.toLowerCase())) throw new SchemaError(`${where}: declared twice`);
    seen.add(column.name.toLowerCase());
    if (!SQL_TYPE.test(column.type)) {
      throw new SchemaError(
        `${where}: type "${column.type}" is not a plain SQL type such as INTEGER, VARCHAR(100) or TEXT`,
      );
    }
  }
}

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
    'CREATE TABLE dependencies (child VARCHAR(40), parent VARCHAR(40), INDEX (child), INDEX (parent))',
  ];
}

/** The one-row table of a service's pause and published limits (activities/service-control.ts). */
export const CONTROL_TABLE = 'saliflow_control';

/** Status-query outages as workers saw them (activities/status-outages.ts): created by the first outage. */
export const OUTAGES_TABLE = 'saliflow_status_outages';

/** saliflow's lease table (activities/lease.ts): created by its first use, or by `db create-tables`. */
export const LEASE_TABLE = 'saliflow_lease';

export function createLeaseTableSql(): string {
  return `CREATE TABLE IF NOT EXISTS ${LEASE_TABLE} (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    token BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(3) NULL,
    expires_at DATETIME(3) NULL
  )`;
}

export function dropTablesSql(): string[] {
  return [
    'DROP TABLE IF EXISTS jobs',
    'DROP TABLE IF EXISTS dependencies',
    `DROP TABLE IF EXISTS ${CONTROL_TABLE}`,
    `DROP TABLE IF EXISTS ${LEASE_TABLE}`,
    `DROP TABLE IF EXISTS ${OUTAGES_TABLE}`,
  ];
}
