/** The backend's MySQL pool, as the service config describes it. */
import mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';

export type Pool = mysql.Pool;

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
