/**
 * What an operator changes on a running service without a redeploy: a
 * pause (admission stops, running jobs go on) and the `[limits]` in force.
 *
 * Both live in one row of a small saliflow table in the service's own MySQL
 * database, `saliflow_control`, which every worker's admission round reads
 * under the admission lease. So a pause or a new limit holds across all
 * workers at their next round, survives any worker's restart or SIGKILL,
 * and needs nothing besides the database the jobs already live in.
 * Alternatives: a Temporal Schedule-like object or a workflow holding the
 * pause (every round would cost a query to Temporal, and the admission
 * round otherwise needs MySQL only); a file beside the config (not shared
 * across hosts).
 *
 * The table is created by the first write (`CREATE TABLE IF NOT EXISTS`,
 * the backend user's rights); a reader that finds no table sees no pause
 * and the config file's limits, so a service that never used these verbs
 * is exactly as before.
 */
import type mysql from 'mysql2/promise';
import { loadServiceConfig, type LimitsConfig, type ServiceConfig } from '../core/config/index.js';
import { LimitsNotChangedError } from '../core/errors.js';
import { CONTROL_TABLE } from '../core/schema.js';
import { assertStillHeld, fence, type Lease } from './lease.js';
import type { Queryable } from './pool.js';

export { CONTROL_TABLE };

export const CREATE_CONTROL_TABLE = `CREATE TABLE IF NOT EXISTS ${CONTROL_TABLE} (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  paused_by VARCHAR(255) NULL,
  paused_at DATETIME NULL,
  pause_reason TEXT NULL,
  running INT UNSIGNED NULL,
  running_per_user INT UNSIGNED NULL,
  running_per_anonymous INT UNSIGNED NULL,
  limits_from VARCHAR(1024) NULL,
  limits_at DATETIME NULL
)`;

export interface Pause {
  /** `user@host` of whoever paused. */
  by: string;
  at: Date;
  reason: string;
}

export interface ServiceControl {
  /** The limits in force: the last ones published (start, SIGHUP, `reload-limits`), else the config's. */
  limits: LimitsConfig;
  /** Where and when the limits in force were read, if published. */
  limitsFrom?: { source: string; at: Date };
  pause?: Pause;
}

const UTC = (at: Date) => `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** The reason every INCOMING job gives while the service is paused. */
export function pauseReason(pause: Pause): string {
  return `service paused by ${pause.by} at ${UTC(pause.at)}: ${pause.reason}`;
}

const NO_SUCH_TABLE = 1146;

/** The control row, or the config's limits and no pause if none was ever written. */
export async function readServiceControl(db: Queryable, config: ServiceConfig): Promise<ServiceControl> {
  let rows: mysql.RowDataPacket[];
  try {
    [rows] = await db.query<mysql.RowDataPacket[]>(`SELECT * FROM ${CONTROL_TABLE} WHERE id = 1`);
  } catch (error) {
    if ((error as { errno?: number }).errno === NO_SUCH_TABLE) return { limits: config.limits };
    throw error;
  }
  const row = rows[0];
  if (!row) return { limits: config.limits };
  const control: ServiceControl = { limits: config.limits };
  if (row.running !== null) {
    // The shares come from the row too: one published without a share has none.
    const limits: LimitsConfig = { ...config.limits };
    delete limits.runningPerUser;
    delete limits.runningPerAnonymous;
    control.limits = {
      ...limits,
      running: Number(row.running),
      ...(row.running_per_user !== null ? { runningPerUser: Number(row.running_per_user) } : {}),
      ...(row.running_per_anonymous !== null ? { runningPerAnonymous: Number(row.running_per_anonymous) } : {}),
    };
    control.limitsFrom = { source: String(row.limits_from), at: row.limits_at as Date };
  }
  if (row.paused_at !== null) {
    control.pause = { by: String(row.paused_by), at: row.paused_at as Date, reason: String(row.pause_reason) };
  }
  return control;
}

async function writeControl(db: Queryable, assignments: string, params: unknown[], lease?: Lease): Promise<void> {
  await db.query(CREATE_CONTROL_TABLE);
  await db.query(`INSERT IGNORE INTO ${CONTROL_TABLE} (id) VALUES (1)`);
  if (!lease) {
    await db.query(`UPDATE ${CONTROL_TABLE} SET ${assignments} WHERE id = 1`, params);
    return;
  }
  const fenced = fence(lease);
  const [result] = await db.query<mysql.ResultSetHeader>(
    `UPDATE ${CONTROL_TABLE} SET ${assignments} WHERE id = 1 AND ${fenced.sql}`,
    [...params, ...fenced.params],
  );
  if (result.affectedRows === 0) await assertStillHeld(db, lease);
}

/**
 * Makes `limits` the ones every worker's next admission round uses.
 * `source` says where they were read (the config file, and by whom).
 */
export async function publishLimits(db: Queryable, limits: LimitsConfig, source: string): Promise<void> {
  await writeControl(
    db,
    'running = ?, running_per_user = ?, running_per_anonymous = ?, limits_from = ?, limits_at = UTC_TIMESTAMP()',
    [limits.running, limits.runningPerUser ?? null, limits.runningPerAnonymous ?? null, source.slice(0, 1024)],
  );
}

/**
 * Records the pause, fenced by the admission lease the caller holds
 * (admission.ts, `withAdmissionLock`), so that no round admits anything
 * once this returns and a pause stalled past its lease records nothing.
 * Pausing a paused service keeps the first pause's who and when, and
 * replaces the reason only if one is given.
 */
export async function recordPause(db: Queryable, lease: Lease, by: string, reason: string | undefined): Promise<void> {
  await writeControl(
    db,
    `paused_by = IF(paused_at IS NULL, ?, paused_by),
     pause_reason = IF(paused_at IS NULL OR ? IS NOT NULL, COALESCE(?, 'no reason given'), pause_reason),
     paused_at = COALESCE(paused_at, UTC_TIMESTAMP())`,
    [by.slice(0, 255), reason ?? null, reason ?? null],
    lease,
  );
}

/** Clears the pause; returns the one cleared, if any. */
export async function clearPause(db: Queryable, config: ServiceConfig): Promise<Pause | undefined> {
  const { pause } = await readServiceControl(db, config);
  if (!pause) return undefined;
  await db.query(`UPDATE ${CONTROL_TABLE} SET paused_by = NULL, paused_at = NULL, pause_reason = NULL WHERE id = 1`);
  return pause;
}

/** Limits as `status` and the worker's log write them. */
export function describeLimits(limits: LimitsConfig): string {
  const parts = [`running ${limits.running}`];
  if (limits.runningPerUser !== undefined) parts.push(`running_per_user ${limits.runningPerUser}`);
  if (limits.runningPerAnonymous !== undefined) parts.push(`running_per_anonymous ${limits.runningPerAnonymous}`);
  return parts.join(', ');
}

/** The pause's reason if paused (`waitingReasons`' last argument). */
export function pausedBecause(control: ServiceControl): string | undefined {
  return control.pause ? pauseReason(control.pause) : undefined;
}

/**
 * Reads the config file afresh for its `[limits]` (SIGHUP, `saliflow
 * reload-limits`). The whole file is validated, as a worker's start would:
 * a bad file changes nothing, and the LimitsNotChangedError says why.
 */
export function readLimitsFile(configFile: string): ServiceConfig {
  try {
    return loadServiceConfig(configFile);
  } catch (error) {
    throw new LimitsNotChangedError(error as Error);
  }
}

/** Publishes the limits of a freshly read config; returns the limits in force before and after. */
export async function reloadLimits(
  db: Queryable,
  config: ServiceConfig,
  by: string,
): Promise<{ before: LimitsConfig; after: LimitsConfig }> {
  const { limits: before } = await readServiceControl(db, config);
  await publishLimits(db, config.limits, `${config.configFile}, by ${by}`);
  return { before, after: config.limits };
}
