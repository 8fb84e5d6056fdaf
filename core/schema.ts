/**
 * The columns of the `jobs` table and the names of saliflow's tables: saliweb's
 * columns, which a saliweb frontend on the same database relies on, and the
 * columns a service declares (store/tables.ts builds the CREATE statements).
 */
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

/** The one-row table of a service's pause and published limits (store/service-control.ts). */
export const CONTROL_TABLE = 'saliflow_control';

/** Status-query outages as workers saw them (store/status-outages.ts): created by the first outage. */
export const OUTAGES_TABLE = 'saliflow_status_outages';

/** saliflow's lease table (store/lease.ts): created by its first use, or by `db create-tables`. */
export const LEASE_TABLE = 'saliflow_lease';
/**
 * The worker host that admitted each job (with track_hostname). Not in `jobs`: saliweb's `hostname` is the
 * frontend's (the submitter's address), and saliweb's schema checks take any other column for a stray.
 */
export const JOB_HOSTS_TABLE = 'saliflow_job_hosts';

/** Which of saliflow's numbered migrations a database has (store/migrations.ts). */
export const MIGRATIONS_TABLE = 'saliflow_migrations';
