/**
 * Does the `jobs` table have what saliflow and the service need? saliweb's columns (and `hostname`
 * with `[general] track_hostname`), each declared service column with a compatible type, and an
 * index on each declared `index: true` column. Without this a missing column fails every job
 * when a step writes it, long after the worker started. readJobsTable reads the table; jobsTableProblems judges it.
 */
import type mysql from 'mysql2/promise';
import { BUILTIN_COLUMNS, type ColumnSpec } from '../core/schema.js';
import type { Queryable } from './pool.js';

/** A column as MySQL describes it (information_schema.COLUMNS.DATA_TYPE: `int`, `varchar`, …). */
export interface TableColumn {
  name: string;
  dataType: string;
}

/** Type families within which a column may differ from its declaration (VARCHAR(40) vs TEXT is fine). */
const FAMILIES: Record<string, string> = {
  ...Object.fromEntries(
    ['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'bool', 'boolean'].map((t) => [t, 'integer']),
  ),
  ...Object.fromEntries(['float', 'double', 'real', 'decimal', 'numeric', 'dec'].map((t) => [t, 'number'])),
  ...Object.fromEntries(
    ['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set'].map((t) => [t, 'text']),
  ),
  ...Object.fromEntries(['date', 'datetime', 'timestamp'].map((t) => [t, 'time'])),
  ...Object.fromEntries(
    ['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'].map((t) => [t, 'binary']),
  ),
};

function family(type: string): string {
  const base = type.trim().toLowerCase().split(/[\s(]/)[0]!;
  return FAMILIES[base] ?? base;
}

/**
 * What is wrong with the table, each naming the column and the fix; empty when it is fine.
 * `indexed` names the columns that lead an index.
 */
export function jobsTableProblems(options: {
  table: readonly TableColumn[];
  indexed: ReadonlySet<string>;
  columns: readonly ColumnSpec[];
  trackHostname: boolean;
}): string[] {
  const have = new Map(options.table.map((column) => [column.name.toLowerCase(), column]));
  const problems: string[] = [];
  for (const name of BUILTIN_COLUMNS) {
    if (name === 'hostname' && !options.trackHostname) continue;
    if (!have.has(name)) {
      problems.push(
        `the jobs table has no column ${name}, which saliweb's jobs table has` +
          (name === 'hostname' ? ' with [general] track_hostname' : '') +
          "; is this the service's database? (`saliflow db create-tables` makes the tables in an empty one)",
      );
    }
  }
  for (const column of options.columns) {
    const found = have.get(column.name.toLowerCase());
    if (!found) {
      problems.push(
        `the jobs table has no column ${column.name}, which the service declares (${column.type}): ` +
          `ALTER TABLE jobs ADD COLUMN \`${column.name}\` ${column.type.toUpperCase()}` +
          (column.index ? `, ADD INDEX (\`${column.name}\`)` : ''),
      );
      continue;
    }
    if (family(found.dataType) !== family(column.type)) {
      problems.push(
        `the jobs table's column ${column.name} is ${found.dataType.toUpperCase()}, but the service declares ` +
          `${column.type}: ALTER TABLE jobs MODIFY \`${column.name}\` ${column.type.toUpperCase()}, or change the declaration`,
      );
    }
    if (column.index && !options.indexed.has(column.name.toLowerCase())) {
      problems.push(
        `the jobs table has no index on ${column.name}, which the service declares with index: true: ` +
          `ALTER TABLE jobs ADD INDEX (\`${column.name}\`)`,
      );
    }
  }
  return problems;
}

export async function readJobsTable(db: Queryable): Promise<{ table: TableColumn[]; indexed: Set<string> }> {
  const [columns] = await db.query<mysql.RowDataPacket[]>(
    "SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'jobs'",
  );
  const [indexes] = await db.query<mysql.RowDataPacket[]>(
    "SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'jobs' AND SEQ_IN_INDEX = 1",
  );
  return {
    table: columns.map((row) => ({ name: String(row.name), dataType: String(row.dataType) })),
    indexed: new Set(indexes.map((row) => String(row.name).toLowerCase())),
  };
}

/** The privileges the current MySQL user holds on this database, as information_schema shows them. */
export interface Privileges {
  /** Global and database-wide ones. */
  everywhere: Set<string>;
  /** Per table; a privilege held on some of a table's columns counts (saliweb's frontend INSERTs named columns). */
  tables: Map<string, Set<string>>;
  /** The account the privileges were read as (`CURRENT_USER()`'s host part), where a GRANT must go. */
  host: string;
}

export async function readPrivileges(db: Queryable): Promise<Privileges> {
  const [global] = await db.query<mysql.RowDataPacket[]>(
    'SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES',
  );
  const [schema] = await db.query<mysql.RowDataPacket[]>(
    'SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()',
  );
  const [tables] = await db.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_NAME AS name, PRIVILEGE_TYPE AS privilege FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()',
  );
  const [columns] = await db.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_NAME AS name, PRIVILEGE_TYPE AS privilege FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()',
  );
  const [[current]] = await db.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS account');
  const account = String(current?.account ?? '');
  const byTable = new Map<string, Set<string>>();
  for (const row of [...tables, ...columns]) {
    const name = String(row.name);
    byTable.set(name, (byTable.get(name) ?? new Set()).add(String(row.privilege)));
  }
  return {
    everywhere: new Set([...global, ...schema].map((row) => String(row.privilege))),
    tables: byTable,
    host: account.includes('@') ? account.slice(account.lastIndexOf('@') + 1) : '%',
  };
}

/** What each of saliweb's two MySQL users needs (saliweb grants the same; `saliflow db provision` does). */
const NEEDED: Record<'backend' | 'frontend', Record<string, readonly string[]>> = {
  backend: {
    jobs: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    dependencies: ['SELECT', 'INSERT', 'DELETE'],
    // saliflow's own tables are created on first use (store/migrations.ts).
    '': ['CREATE'],
  },
  frontend: { jobs: ['SELECT', 'INSERT'], dependencies: ['INSERT'] },
};

/**
 * The privileges `role`'s user lacks, each with the GRANT that gives it (`user` names the account).
 * Privileges that come through a role are not seen, and the message says so.
 */
export function privilegeProblems(role: 'backend' | 'frontend', user: string, db: string, held: Privileges): string[] {
  const problems: string[] = [];
  for (const [table, privileges] of Object.entries(NEEDED[role])) {
    const has = new Set([...held.everywhere, ...(table ? (held.tables.get(table) ?? []) : [])]);
    const missing = privileges.filter((privilege) => !has.has(privilege) && !has.has('ALL PRIVILEGES'));
    if (missing.length === 0) continue;
    const on = table ? `\`${db}\`.${table}` : `\`${db}\`.*`;
    problems.push(
      `the ${role} user ${user} lacks ${missing.join(', ')} on ${on}: GRANT ${missing.join(', ')} ON ${on} TO '${user}'@'${held.host}' ` +
        '(as a MySQL admin; `saliflow db provision` grants what each user needs; one held through a MySQL role is not seen here)',
    );
  }
  return problems;
}
