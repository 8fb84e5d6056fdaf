/**
 * The line of INCOMING jobs, as MySQL sees it: which jobs a round may
 * admit, and why each of the others waits. One SQL text serves the
 * admitter (the next jobs to admit), the admitter's refresh of the first
 * jobs in line, and `saliflow show`/`list` (why any job waits, computed
 * now, not remembered).
 *
 * A job may be admitted when it has no `dependencies` rows (its parents'
 * rows go when they complete), and its user holds fewer than their share of
 * slots counting the user's older jobs in line (`[limits] running_per_user`,
 * or `running_per_anonymous` for all jobs whose `user` is NULL or empty, as
 * saliweb's frontends write it for anonymous submissions). The rows in flight
 * are the slots, per user as for the whole service, so no share can leak
 * across workers or restarts. A job of a user at their share is skipped, not
 * a barrier: the jobs behind it keep their submit order.
 *
 * Cost: one statement, whatever the number of users, reading the INCOMING
 * rows once (as the plain `ORDER BY submit_time LIMIT n` already did: there
 * is no index on `submit_time` in saliweb's schema) and the rows in flight
 * (at most about `[limits] running`).
 */
import type mysql from 'mysql2/promise';
import type { LimitsConfig } from '../core/config/index.js';
import { IN_FLIGHT_STATES } from '../core/states.js';
import type { Queryable } from './pool.js';

/** No share configured: a bound no count reaches. */
const UNBOUNDED = 2 ** 31 - 1;

export function hasShares(limits: LimitsConfig): boolean {
  return limits.runningPerUser !== undefined || limits.runningPerAnonymous !== undefined;
}

/** The user a slot is counted against: '' for anonymous submissions (NULL or empty `user`). */
const WHO = (column: string) => `IF(${column} IS NULL OR ${column} = '', '', ${column})`;

/**
 * Every INCOMING job with what admission needs to know: `blocked` (has
 * parents), `nth` (its place among its user's unblocked jobs), `held` (its
 * user's jobs in flight), `eligible`.
 */
function judgedLine(limits: LimitsConfig): { sql: string; params: unknown[] } {
  const sql = `WITH held AS (
      SELECT ${WHO('user')} AS who, COUNT(*) AS n FROM jobs WHERE state IN (?) GROUP BY who
    ), line AS (
      SELECT j.name, j.user, j.submit_time, ${WHO('j.user')} AS who,
             EXISTS (SELECT 1 FROM dependencies d WHERE d.child = j.name) AS blocked
        FROM jobs j WHERE j.state = 'INCOMING'
    ), ranked AS (
      SELECT line.*, COALESCE(held.n, 0) AS held,
             ROW_NUMBER() OVER (PARTITION BY line.who, line.blocked ORDER BY line.submit_time, line.name) AS nth
        FROM line LEFT JOIN held ON held.who = line.who
    ), judged AS (
      SELECT ranked.*, IF(who = '', ?, ?) AS share, (NOT blocked AND nth + held <= IF(who = '', ?, ?)) AS eligible
        FROM ranked
    )`;
  const anonymous = limits.runningPerAnonymous ?? UNBOUNDED;
  const perUser = limits.runningPerUser ?? UNBOUNDED;
  return { sql, params: [IN_FLIGHT_STATES, anonymous, perUser, anonymous, perUser] };
}

/**
 * The first `count` jobs a round may admit, oldest first. Without shares
 * configured, the plain query (no window function) does.
 */
export async function admissibleJobs(
  db: Queryable,
  limits: LimitsConfig,
  count: number,
): Promise<{ name: string; submitTime: Date | null }[]> {
  const admissible = (rows: mysql.RowDataPacket[]) =>
    rows.map((row) => ({
      name: String(row.name),
      submitTime: row.submit_time instanceof Date ? row.submit_time : null,
    }));
  if (!hasShares(limits)) {
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT j.name, j.submit_time FROM jobs j
        WHERE j.state = 'INCOMING' AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.child = j.name)
        ORDER BY j.submit_time, j.name LIMIT ?`,
      [count],
    );
    return admissible(rows);
  }
  const line = judgedLine(limits);
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `${line.sql} SELECT name, submit_time FROM judged WHERE eligible ORDER BY submit_time, name LIMIT ?`,
    [...line.params, count],
  );
  return admissible(rows);
}

export interface WaitingJob {
  name: string;
  submitTime: Date;
  /** 1 for the oldest INCOMING job (all of them, blocked or not). */
  position: number;
  /** Why it waits, in words for the Web UI, `show` and `list`. */
  reason: string;
}

function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

async function parentReasons(db: Queryable, children: string[]): Promise<Map<string, string>> {
  const reasons = new Map<string, string[]>();
  if (children.length === 0) return new Map();
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT d.child, d.parent, j.state FROM dependencies d LEFT JOIN jobs j ON j.name = d.parent
      WHERE d.child IN (?) ORDER BY d.child, d.parent`,
    [children],
  );
  for (const row of rows) {
    const parent = String(row.parent);
    const text =
      row.state === null
        ? `parent ${parent} does not exist (deleted?): delete this job or its dependency`
        : row.state === 'FAILED'
          ? `parent ${parent} FAILED: resubmit or delete it`
          : `waiting for parent job ${parent} (${String(row.state)})`;
    const child = String(row.child);
    reasons.set(child, [...(reasons.get(child) ?? []), text]);
  }
  return new Map([...reasons].map(([child, texts]) => [child, texts.join('; ')]));
}

/**
 * Why INCOMING jobs wait, computed now: the first `first` jobs in line, or
 * the jobs named in `names` (an empty list: none), oldest first. Two
 * statements: the line, and the parents of the blocked jobs among them.
 * While the service is paused (`paused`: its reason, service-control.ts)
 * that is every job's reason, followed by its parents' if it has any.
 */
export async function waitingReasons(
  db: Queryable,
  limits: LimitsConfig,
  select: { first: number } | { names: readonly string[] },
  paused?: string,
): Promise<WaitingJob[]> {
  if ('names' in select && select.names.length === 0) return [];
  const line = judgedLine(limits);
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `${line.sql}, placed AS (
       SELECT name, user, submit_time, blocked, nth, held, share, eligible,
              ROW_NUMBER() OVER (ORDER BY submit_time, name) AS position,
              SUM(eligible) OVER (ORDER BY submit_time, name ROWS UNBOUNDED PRECEDING) AS line_rank
         FROM judged
     )
     SELECT placed.*, (SELECT COUNT(*) FROM jobs WHERE state IN (?)) AS in_flight FROM placed
      ${'names' in select ? 'WHERE name IN (?)' : ''}
      ORDER BY submit_time, name ${'first' in select ? 'LIMIT ?' : ''}`,
    [...line.params, IN_FLIGHT_STATES, 'names' in select ? select.names : select.first],
  );
  const parents = await parentReasons(
    db,
    rows.filter((row) => Number(row.blocked) === 1).map((row) => String(row.name)),
  );
  return rows.map((row) => {
    const name = String(row.name);
    const held = Number(row.held);
    const user = row.user === null || row.user === '' ? undefined : String(row.user);
    let reason: string;
    if (Number(row.blocked) === 1) {
      reason = parents.get(name) ?? 'waiting for its parent jobs';
      if (paused !== undefined) reason = `${paused}; then ${reason}`;
    } else if (paused !== undefined) reason = paused;
    else if (Number(row.eligible) !== 1) {
      const whose = user === undefined ? 'anonymous jobs' : `user ${user}`;
      const nth = ordinal(Number(row.nth));
      const place =
        held >= Number(row.share)
          ? ''
          : user === undefined
            ? `, ${nth} anonymous job in line`
            : `, ${nth} of ${user}'s jobs in line`;
      reason = `${whose}: ${held} of ${Number(row.share)} running${place}`;
    } else {
      reason = `${Number(row.in_flight)} of ${limits.running} running slots taken, ${ordinal(Number(row.line_rank))} in line`;
    }
    return { name, submitTime: row.submit_time as Date, position: Number(row.position), reason };
  });
}

/**
 * The INCOMING children of `parent` with why they wait now: after a parent
 * FAILED or was deleted, its children are told at once (they may be far
 * back in line, where the sweep does not look), so none waits silently.
 */
export async function childrenReasons(
  db: Queryable,
  limits: LimitsConfig,
  parent: string,
  paused?: string,
): Promise<WaitingJob[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT d.child FROM dependencies d JOIN jobs j ON j.name = d.child WHERE d.parent = ? AND j.state = 'INCOMING'`,
    [parent],
  );
  return waitingReasons(db, limits, { names: rows.map((row) => String(row.child)) }, paused);
}
