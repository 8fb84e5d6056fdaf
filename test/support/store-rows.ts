/** Rows for the store's query tests (test/integration/store-*-queries.test.ts), written and probed as workers would. */
import type mysql from 'mysql2/promise';
import type { NewJob } from '../../store/job-submission.js';

/** A job as a frontend submits it, with `extra` columns or parents. */
export function newJob(name: string, extra: Partial<NewJob> = {}): NewJob {
  return {
    name,
    passwd: 'pw',
    user: null,
    contactEmail: null,
    directory: `/nowhere/${name}`,
    url: `http://x/${name}`,
    parents: [],
    ...extra,
  };
}

/** Sets a row's columns as a worker would have left them. */
export async function setRow(db: Pick<mysql.Pool, 'query'>, name: string, columns: Record<string, unknown>) {
  await db.query('UPDATE jobs SET ? WHERE name = ?', [columns, name]);
}

/**
 * Whether `lock` can lock a row now from another connection of `db` (it cannot while a transaction under test
 * holds it): a lock wait of 1 s, then ER_LOCK_WAIT_TIMEOUT answers no.
 */
export async function lockableElsewhere(
  db: mysql.Pool,
  lock: (connection: mysql.PoolConnection) => Promise<unknown>,
): Promise<boolean> {
  const connection = await db.getConnection();
  try {
    await connection.query('SET SESSION innodb_lock_wait_timeout = 1');
    await connection.beginTransaction();
    await lock(connection);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_LOCK_WAIT_TIMEOUT') return false;
    throw error;
  } finally {
    await connection.rollback();
    // The pool hands this connection out again: give it back its usual lock wait.
    await connection.query('SET SESSION innodb_lock_wait_timeout = DEFAULT');
    connection.release();
  }
}
