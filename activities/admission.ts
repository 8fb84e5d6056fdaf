/**
 * Admission of INCOMING jobs (SALIWEB.md "What the backend does
 * periodically"): a job may start only when fewer than `[limits] running`
 * jobs are in flight, every parent in `dependencies` has completed, and no
 * older eligible INCOMING job is waiting (submit order).
 *
 * The MySQL row is the slot: a job holds one while its state is
 * PREPROCESSING, RUNNING, POSTPROCESSING or FINALIZING, so a slot can never
 * leak — a failed, completed or deleted job simply stops counting, whatever
 * happened to its workflow or worker. Admissions are serialised with a
 * MySQL named lock, so any number of workers on any hosts share the cap.
 * (A limiter workflow holding slots in memory was the alternative; it needs
 * release signals that a terminated workflow never sends.)
 */
import { Context } from '@temporalio/activity';
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import type { Pool } from './database.js';
import { readJob } from './job-row.js';
import type { createTransitionActivities } from './job-transitions.js';

export const IN_FLIGHT_STATES = ['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING'] as const;

type TransitionJob = ReturnType<typeof createTransitionActivities>['transitionJob'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createAdmissionActivities(
  config: ServiceConfig,
  pool: Pool,
  transitionJob: TransitionJob,
  pollMs = 1000,
) {
  const lockName = `saliflow-admission-${config.database.db}`;

  /** Why the job cannot start now, or undefined when it may. */
  async function blocker(db: mysql.PoolConnection, job: string): Promise<string | undefined> {
    const [parents] = await db.query<mysql.RowDataPacket[]>('SELECT parent FROM dependencies WHERE child = ?', [job]);
    if (parents.length > 0) return `waiting for parent job(s) ${parents.map((row) => row.parent).join(', ')}`;
    const [[active]] = (await db.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM jobs WHERE state IN (?)', [
      IN_FLIGHT_STATES,
    ])) as unknown as [[{ n: number }]];
    if (active.n >= config.limits.running) return `${active.n} jobs in flight, limit ${config.limits.running}`;
    const [older] = await db.query<mysql.RowDataPacket[]>(
      `SELECT j.name FROM jobs j, jobs me
        WHERE me.name = ? AND j.state = 'INCOMING'
          AND (j.submit_time < me.submit_time OR (j.submit_time = me.submit_time AND j.name < me.name))
          AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.child = j.name)
        LIMIT 1`,
      [job],
    );
    if (older.length > 0) return `older job ${older[0]!.name} goes first`;
    return undefined;
  }

  return {
    /**
     * Waits (heartbeating) until the job may start, then moves it
     * INCOMING → PREPROCESSING. Idempotent: a job already past INCOMING
     * returns at once.
     */
    async admitJob(job: string): Promise<void> {
      const context = Context.current();
      let lastReason = '';
      for (;;) {
        const row = await readJob(pool, job);
        if (row.state !== 'INCOMING') {
          if (row.state === 'PREPROCESSING') return;
          await transitionJob({ job, to: 'PREPROCESSING' }); // raises the invalid-transition error
          return;
        }
        const db = await pool.getConnection();
        try {
          // Never wait for the lock while holding a pool connection: the holder needs
          // one for its transition, and waiting admitters would starve it.
          const [[lock]] = (await db.query('SELECT GET_LOCK(?, 0) AS got', [lockName])) as unknown as [
            [{ got: number }],
          ];
          if (lock.got === 1) {
            try {
              const reason = await blocker(db, job);
              if (reason === undefined) {
                await transitionJob({ job, to: 'PREPROCESSING' });
                return;
              }
              if (reason !== lastReason) context.log.info(`job ${job} not admitted yet: ${reason}`);
              lastReason = reason;
            } finally {
              await db.query('SELECT RELEASE_LOCK(?)', [lockName]);
            }
          }
        } finally {
          db.release();
        }
        context.heartbeat(lastReason);
        await Promise.race([sleep(pollMs), context.cancelled.catch(() => undefined)]);
        if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
      }
    },
  };
}
