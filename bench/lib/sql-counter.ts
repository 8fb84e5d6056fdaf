/**
 * Counting the SQL statements a service's workers send. The benchmark gives
 * each service fresh MySQL users, so MariaDB's per-user statistics
 * (`userstat`, information_schema.USER_STATISTICS) count exactly the
 * worker's statements (the backend user) and the frontend's (the frontend
 * user): SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS, one per
 * statement received (COM_QUERY or a prepared statement's execution;
 * BEGIN/COMMIT count, pings do not) — and one per statement a trigger runs,
 * so the callers subtract the audit triggers' INSERTs (one per audit row;
 * measured: an UPDATE whose trigger inserts nothing counts once). `userstat` is turned
 * on if it is off (and back off at the end). When that is not allowed
 * (no SUPER), the fallback is the server-wide `Questions` delta minus the
 * benchmark's own statements, which also counts every other client of a
 * shared server: the results say which method was used.
 */
import mysql from 'mysql2/promise';
import type { AdminConnection } from '../../store/database-admin.js';

export type SqlCountMethod = 'userstat' | 'global-questions';

export interface StatementCounts {
  select: number;
  update: number;
  other: number;
  total: number;
}

export interface SqlSnapshot {
  byUser: Record<string, StatementCounts>;
  /** Server-wide `Questions` (every client's statements). */
  questions: number;
}

export interface SqlCounter {
  method: SqlCountMethod;
  snapshot(users: readonly string[]): Promise<SqlSnapshot>;
  close(): Promise<void>;
}

const ZERO: StatementCounts = { select: 0, update: 0, other: 0, total: 0 };

/** Statements between two snapshots, less `triggerInserts` statements run by triggers (counted as updates). */
export function statementDelta(
  before: StatementCounts | undefined,
  after: StatementCounts | undefined,
  triggerInserts = 0,
): StatementCounts {
  const a = after ?? ZERO;
  const b = before ?? ZERO;
  return {
    select: a.select - b.select,
    update: a.update - b.update - triggerInserts,
    other: a.other - b.other,
    total: a.total - b.total - triggerInserts,
  };
}

export async function openSqlCounter(admin: AdminConnection, log: (message: string) => void): Promise<SqlCounter> {
  const connection = await mysql.createConnection(admin);
  const [[{ on }]] = (await connection.query('SELECT @@GLOBAL.userstat AS `on`')) as unknown as [[{ on: number }]];
  let turnedOn = false;
  let method: SqlCountMethod = 'userstat';
  if (!on) {
    try {
      await connection.query('SET GLOBAL userstat = 1');
      turnedOn = true;
      log('MariaDB userstat was off: turned it on for per-user statement counts (off again at the end)');
    } catch (error) {
      method = 'global-questions';
      log(`cannot turn on userstat (${(error as Error).message}); counting server-wide Questions instead`);
    }
  }
  return {
    method,
    async snapshot(users) {
      const byUser: Record<string, StatementCounts> = {};
      if (method === 'userstat' && users.length > 0) {
        const [rows] = await connection.query<mysql.RowDataPacket[]>(
          `SELECT USER AS user, SELECT_COMMANDS AS s, UPDATE_COMMANDS AS u, OTHER_COMMANDS AS o
             FROM information_schema.USER_STATISTICS WHERE USER IN (?)`,
          [users],
        );
        for (const row of rows) {
          const [select, update, other] = [Number(row.s), Number(row.u), Number(row.o)];
          byUser[String(row.user)] = { select, update, other, total: select + update + other };
        }
      }
      const [[questions]] = (await connection.query("SHOW GLOBAL STATUS LIKE 'Questions'")) as unknown as [
        [{ Value: string }],
      ];
      return { byUser, questions: Number(questions.Value) };
    },
    async close() {
      if (turnedOn) await connection.query('SET GLOBAL userstat = 0').catch(() => undefined);
      await connection.end();
    },
  };
}
