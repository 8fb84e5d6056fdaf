/**
 * Every state change of every job, recorded by MySQL itself: triggers on
 * `jobs` append (job, from, to, microsecond time) to `job_state_audit`. The
 * fault suite reads it to prove that no job ever left COMPLETED; the
 * benchmark reads it for sub-millisecond submit→RUNNING/COMPLETED latencies
 * (the row's own DATETIME columns have one-second resolution).
 */
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import type { AdminConnection } from '../../store/database-admin.js';

export interface StateChange {
  id: number;
  job: string;
  /** null for the INSERT of the row. */
  from: string | null;
  /** null for a DELETE of the row. */
  to: string | null;
  /** Milliseconds since the epoch, with microsecond fraction (`at` is UNIX_TIMESTAMP(NOW(6))). */
  atMs: number;
}

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS job_state_audit (
     id BIGINT AUTO_INCREMENT PRIMARY KEY,
     job VARCHAR(40) NOT NULL,
     from_state VARCHAR(20) NULL,
     to_state VARCHAR(20) NULL,
     at DECIMAL(17,6) NOT NULL,
     INDEX (job))`,
  'DROP TRIGGER IF EXISTS job_state_audit_insert',
  'DROP TRIGGER IF EXISTS job_state_audit_update',
  'DROP TRIGGER IF EXISTS job_state_audit_delete',
  `CREATE TRIGGER job_state_audit_insert AFTER INSERT ON jobs FOR EACH ROW
     INSERT INTO job_state_audit (job, from_state, to_state, at) VALUES (NEW.name, NULL, NEW.state, UNIX_TIMESTAMP(NOW(6)))`,
  `CREATE TRIGGER job_state_audit_update AFTER UPDATE ON jobs FOR EACH ROW
     IF NOT (NEW.state <=> OLD.state) THEN
       INSERT INTO job_state_audit (job, from_state, to_state, at) VALUES (NEW.name, OLD.state, NEW.state, UNIX_TIMESTAMP(NOW(6)));
     END IF`,
  `CREATE TRIGGER job_state_audit_delete AFTER DELETE ON jobs FOR EACH ROW
     INSERT INTO job_state_audit (job, from_state, to_state, at) VALUES (OLD.name, OLD.state, NULL, UNIX_TIMESTAMP(NOW(6)))`,
];

/** Installs the audit table and triggers in the service database `db` (needs the admin account). */
export async function installStateAudit(admin: AdminConnection, db: string): Promise<void> {
  const connection = await mysql.createConnection({ ...admin, database: db });
  try {
    for (const statement of STATEMENTS) await connection.query(statement);
  } finally {
    await connection.end();
  }
}

/** Every recorded change, in the order MySQL committed them. */
export async function readStateAudit(db: Pick<mysql.Pool, 'query'>): Promise<StateChange[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT id, job, from_state, to_state, at FROM job_state_audit ORDER BY id',
  );
  return rows.map((row) => ({
    id: Number(row.id),
    job: String(row.job),
    from: row.from_state === null ? null : String(row.from_state),
    to: row.to_state === null ? null : String(row.to_state),
    atMs: Number(row.at) * 1000,
  }));
}

/** The sequence of states each job went through (INSERT's state first). */
export function statePaths(changes: readonly StateChange[]): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  for (const change of changes) {
    const path = paths.get(change.job) ?? [];
    if (change.to !== null) path.push(change.to);
    paths.set(change.job, path);
  }
  return paths;
}

/** A job that ran once, without a retry or a reschedule. */
export const ONE_PASS = ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING', 'COMPLETED'] as const;

/** Every job in the audit went through each state once, in order. */
export function assertEachStateOnce(changes: readonly StateChange[]): void {
  for (const [job, states] of statePaths(changes)) {
    assert.deepEqual(states, ONE_PASS, `${job} went through each state once`);
  }
}

const FINAL_STATES = new Set(['COMPLETED', 'ARCHIVED', 'EXPIRED']);

/**
 * Jobs that left COMPLETED (or ARCHIVED/EXPIRED) other than by archive and
 * expire, with the offending path: the promise the fault suite checks. A
 * finished job may also move to FAILED as in saliweb, but only when its own
 * `complete`, e-mail, `archive` or `expire` fails or an operator fails it;
 * the fault suite's services and verbs never do either, so any such move
 * here (a crash or a race failing a finished job) is still an offence.
 */
export function jobsThatLeftCompleted(changes: readonly StateChange[]): { job: string; path: string[] }[] {
  const allowed = new Set(['COMPLETED>ARCHIVED', 'ARCHIVED>EXPIRED']);
  const offenders: { job: string; path: string[] }[] = [];
  for (const [job, path] of statePaths(changes)) {
    for (let i = 1; i < path.length; i++) {
      const from = path[i - 1]!;
      if (FINAL_STATES.has(from) && !allowed.has(`${from}>${path[i]!}`)) {
        offenders.push({ job, path });
        break;
      }
    }
  }
  return offenders;
}

/** The first time each job entered `state`, in ms since the epoch. */
export function firstEntered(changes: readonly StateChange[], state: string): Map<string, number> {
  const times = new Map<string, number>();
  for (const change of changes) if (change.to === state && !times.has(change.job)) times.set(change.job, change.atMs);
  return times;
}

const IN_FLIGHT = new Set(['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING']);

/**
 * How long a freed slot stayed free while jobs waited: for each job that
 * left the in-flight states while others were INCOMING, the time until the
 * next admission (INCOMING → PREPROCESSING). Meaningful when
 * `[limits] running` binds.
 */
export function slotHandoffsMs(changes: readonly StateChange[]): number[] {
  let waiting = 0;
  const freedAt: number[] = [];
  const handoffs: number[] = [];
  for (const change of changes) {
    if (change.to === 'INCOMING') waiting++;
    if (change.from === 'INCOMING' && change.to === 'PREPROCESSING') {
      waiting--;
      const freed = freedAt.shift();
      if (freed !== undefined) handoffs.push(change.atMs - freed);
    }
    if (change.from !== null && IN_FLIGHT.has(change.from) && !IN_FLIGHT.has(change.to ?? '') && waiting > 0)
      freedAt.push(change.atMs);
  }
  return handoffs;
}
