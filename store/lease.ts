/**
 * Leases: work that must run on one process at a time across all workers
 * (an admission round, recording a pause) takes a row of `saliflow_lease`
 * in the service's own database, with its holder, an expiry and a fencing
 * token that grows by one at every take.
 *
 * Why not a MySQL named lock (GET_LOCK), as before: it belongs to a
 * connection, and a frozen process (SIGSTOP, a long GC or VM pause, a
 * half-open connection) keeps its connection open, so every other worker's
 * admission waited for as long as it was frozen. A lease expires by the
 * database's clock whatever its holder does; another process then takes it
 * with the next token.
 *
 * A holder that wakes up after its lease was taken over must change
 * nothing: its writes are fenced. A fenced statement carries
 * `fence(lease)`, a locking read of the lease row in the same statement,
 * so it changes rows only if the token is still the holder's at the
 * instant it runs; a take-over and a fenced write are serialised on that
 * row, and neither holds it beyond one statement (a frozen client holds no
 * row lock). A fenced write that changed fewer rows than it meant to asks
 * `stillHeld`, and throws LeaseLostError if not.
 *
 * Only the token is checked, not the expiry: a holder past its expiry that
 * nobody took over from is still the only writer, so its writes are safe.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type mysql from 'mysql2/promise';
import { LeaseBusyError, LeaseLostError } from '../core/errors.js';
import { LEASE_TABLE } from '../core/schema.js';
import { createLeaseTableSql } from './tables.js';
import type { Queryable } from './pool.js';

export interface Lease {
  name: string;
  /** The fencing token: higher than every earlier holder's. */
  token: number;
  holder: string;
  /** Taken over from a holder past its expiry (it stalled or died holding it), not from a released lease. */
  tookOverFrom?: { holder: string; expiredAt: Date };
}

export interface LeaseOptions {
  /** How long the lease lasts: after it, another process may take it over. */
  seconds: number;
  /** How long to wait for it; defaults to `seconds` + 5, so a frozen holder's lease is always outlived. */
  waitSeconds?: number;
}

/** Who holds a lease, for the table and the logs: host, pid and a random tag (a pid is reused). */
const HOLDER = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`.slice(0, 255);

const NO_SUCH_TABLE = 1146;

const SET_HOLDER = `holder = ?, token = LAST_INSERT_ID(token + 1), acquired_at = UTC_TIMESTAMP(3),
    expires_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND`;

/**
 * Tries once: the lease, or undefined if someone holds it and it has not
 * expired. A free lease costs one statement; taking one over from a holder
 * past its expiry costs a read more, and says whom from.
 */
async function tryTake(db: Queryable, name: string, seconds: number): Promise<Lease | undefined> {
  const params = [HOLDER, Math.round(seconds * 1e6), name];
  // LAST_INSERT_ID(expr) hands the new token back in the statement's own result.
  const take = async (condition: string, extra: unknown[] = []) => {
    const [result] = await db.query<mysql.ResultSetHeader>(
      `UPDATE ${LEASE_TABLE} SET ${SET_HOLDER} WHERE name = ? AND ${condition}`,
      [...params, ...extra],
    );
    return result.affectedRows === 1 ? { name, token: Number(result.insertId), holder: HOLDER } : undefined;
  };
  let free: Lease | undefined;
  try {
    free = await take('holder IS NULL');
  } catch (error) {
    if ((error as { errno?: number }).errno !== NO_SUCH_TABLE) throw error;
    await db.query(createLeaseTableSql());
    free = await take('holder IS NULL');
  }
  if (free) return free;
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT holder, token, expires_at, expires_at > UTC_TIMESTAMP(3) AS live FROM ${LEASE_TABLE} WHERE name = ?`,
    [name],
  );
  const row = rows[0];
  if (!row) {
    await db.query(`INSERT IGNORE INTO ${LEASE_TABLE} (name) VALUES (?)`, [name]);
    return tryTake(db, name, seconds);
  }
  if (row.holder === null || Number(row.live) === 1) return undefined;
  // The token seen: if someone else took it over first, this changes nothing.
  const lease = await take('token = ?', [row.token]);
  return lease && { ...lease, tookOverFrom: { holder: String(row.holder), expiredAt: row.expires_at as Date } };
}

async function currentHolder(db: Queryable, name: string): Promise<string | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT holder, expires_at FROM ${LEASE_TABLE} WHERE name = ?`, [
    name,
  ]);
  const row = rows[0];
  return row?.holder ? `${String(row.holder)} until ${(row.expires_at as Date).toISOString()}` : undefined;
}

/** Takes the lease, waiting for its holder to release it or for it to expire. */
export async function takeLease(db: Queryable, name: string, options: LeaseOptions): Promise<Lease> {
  const waitSeconds = options.waitSeconds ?? options.seconds + 5;
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const lease = await tryTake(db, name, options.seconds);
    if (lease) return lease;
    if (Date.now() >= deadline) throw new LeaseBusyError(name, waitSeconds, await currentHolder(db, name));
    // Rounds last milliseconds: a short, jittered wait keeps the hand-over quick without a thundering herd.
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
  }
}

/** Gives the lease back, if it is still ours; a lease that cannot be released (database gone) expires. */
export async function releaseLease(db: Queryable, lease: Lease): Promise<void> {
  await db
    .query(`UPDATE ${LEASE_TABLE} SET holder = NULL, expires_at = NULL WHERE name = ? AND token = ?`, [
      lease.name,
      lease.token,
    ])
    .catch(() => undefined);
}

/** Runs `work` holding the lease, released afterwards whatever happens. */
export async function withLease<T>(
  db: Queryable,
  name: string,
  options: LeaseOptions,
  work: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await takeLease(db, name, options);
  try {
    return await work(lease);
  } finally {
    await releaseLease(db, lease);
  }
}

/**
 * The condition that fences a write: `… WHERE <conditions> AND ${fence.sql}`
 * with `fence.params` appended. True only while `lease`'s token is current;
 * a locking read, so that a take-over waits for the statement and the
 * statement sees a take-over that committed before it.
 */
export function fence(lease: Lease): { sql: string; params: unknown[] } {
  return {
    sql: `EXISTS (SELECT 1 FROM ${LEASE_TABLE} WHERE name = ? AND token = ? LOCK IN SHARE MODE)`,
    params: [lease.name, lease.token],
  };
}

/** Throws LeaseLostError if another process has taken the lease since (after a fenced write changed too little). */
export async function assertStillHeld(db: Queryable, lease: Lease): Promise<void> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT token FROM ${LEASE_TABLE} WHERE name = ?`, [lease.name]);
  if (Number(rows[0]?.token) !== lease.token) throw new LeaseLostError(lease.name, lease.token);
}
