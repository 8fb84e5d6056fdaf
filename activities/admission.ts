/**
 * Admission of INCOMING jobs (SALIWEB.md "What the backend does
 * periodically"): jobs start in submit order while fewer than
 * `[limits] running` are in flight, skipping jobs whose parents in
 * `dependencies` have not completed.
 *
 * The MySQL row is the slot: a job holds one while its state is
 * PREPROCESSING, RUNNING, POSTPROCESSING or FINALIZING, so no slot can leak —
 * a failed, completed or deleted job simply stops counting, whatever
 * happened to its workflow or worker. Admissions are serialised with a
 * MySQL named lock, so any number of workers share the cap.
 *
 * `tryAdmitJobs` is short: whoever holds the lock admits *every* job whose
 * turn it is, not only its own, and waiting happens in the workflow (a
 * durable timer), never in an activity. An earlier design waited inside a
 * heartbeating activity per job; with more waiting jobs than activity slots
 * the head of the queue could not get a slot and everything stalled.
 * (A limiter workflow holding slots in memory was the other alternative; it
 * needs release signals that a terminated workflow never sends.)
 */
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import type { Pool } from './database.js';
import { readJob } from './job-row.js';
import type { createTransitionActivities } from './job-transitions.js';

export const IN_FLIGHT_STATES = ['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING'] as const;

type TransitionJob = ReturnType<typeof createTransitionActivities>['transitionJob'];

export interface AdmissionResult {
  /** The asking job is past INCOMING (admitted now or earlier). */
  admitted: boolean;
  /** Why not, for the workflow's log and the Web UI. */
  reason?: string;
}

export function createAdmissionActivities(config: ServiceConfig, pool: Pool, transitionJob: TransitionJob) {
  const lockName = `saliflow-admission-${config.database.db}`;

  /** The oldest INCOMING jobs without unfinished parents, as many as there are free slots. */
  async function nextInLine(db: mysql.PoolConnection): Promise<{ names: string[]; inFlight: number }> {
    const [[active]] = (await db.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM jobs WHERE state IN (?)', [
      IN_FLIGHT_STATES,
    ])) as unknown as [[{ n: number }]];
    const free = config.limits.running - active.n;
    if (free <= 0) return { names: [], inFlight: active.n };
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT j.name FROM jobs j
        WHERE j.state = 'INCOMING' AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.child = j.name)
        ORDER BY j.submit_time, j.name LIMIT ?`,
      [free],
    );
    return { names: rows.map((row) => String(row.name)), inFlight: active.n };
  }

  async function whyWaiting(job: string, inFlight: number): Promise<string> {
    const [parents] = await pool.query<mysql.RowDataPacket[]>('SELECT parent FROM dependencies WHERE child = ?', [job]);
    if (parents.length > 0) return `waiting for parent job(s) ${parents.map((row) => row.parent).join(', ')}`;
    if (inFlight >= config.limits.running) return `${inFlight} jobs in flight, limit ${config.limits.running}`;
    return 'older jobs go first';
  }

  /** One admission round under the lock; undefined when another worker holds it. */
  async function admitInLine(): Promise<{ admitted: string[]; inFlight: number } | undefined> {
    const db = await pool.getConnection();
    try {
      // Never wait for the lock while holding a connection: the holder needs
      // more of them for its transitions.
      const [[lock]] = (await db.query('SELECT GET_LOCK(?, 0) AS got', [lockName])) as unknown as [[{ got: number }]];
      if (lock.got !== 1) return undefined;
      try {
        const next = await nextInLine(db);
        for (const name of next.names) await transitionJob({ job: name, to: 'PREPROCESSING' });
        return { admitted: next.names, inFlight: next.inFlight + next.names.length };
      } finally {
        await db.query('SELECT RELEASE_LOCK(?)', [lockName]);
      }
    } finally {
      db.release();
    }
  }

  return {
    /**
     * Admits the jobs whose turn it is (INCOMING → PREPROCESSING) and says
     * whether `job` is among the admitted. Idempotent: a job already past
     * INCOMING is admitted.
     */
    async tryAdmitJobs(job: string): Promise<AdmissionResult> {
      const before = await readJob(pool, job);
      if (before.state !== 'INCOMING') {
        if (before.state !== 'PREPROCESSING') await transitionJob({ job, to: 'PREPROCESSING' }); // the invalid-transition error
        return { admitted: true };
      }
      const round = await admitInLine();
      if (round === undefined) return { admitted: false, reason: 'another worker is admitting jobs' };
      if (round.admitted.includes(job)) return { admitted: true };
      const after = await readJob(pool, job);
      if (after.state !== 'INCOMING') return { admitted: true };
      return { admitted: false, reason: await whyWaiting(job, round.inFlight) };
    },
  };
}
