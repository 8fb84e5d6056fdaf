/**
 * Admission of INCOMING jobs (SALIWEB.md "What the backend does
 * periodically"): jobs start in submit order while fewer than
 * `[limits] running` are in flight, skipping jobs whose parents in
 * `dependencies` have not completed.
 *
 * The MySQL row is the slot: a job holds one while its state is
 * PREPROCESSING, RUNNING, POSTPROCESSING or FINALIZING, so no slot can leak;
 * a failed, completed or deleted job simply stops counting, whatever
 * happened to its workflow or worker. A round changes rows only
 * (`UPDATE … SET state = 'PREPROCESSING'`, one statement for every job
 * admitted): it never touches a job's directory, so a bad row cannot fail
 * the round or any other job; the job's own workflow moves its directory
 * and fails alone if that is impossible.
 *
 * One admitter per worker process, woken when a job arrives (its workflow
 * asks), when a job leaves the in-flight states, and by a slow sweep.
 * Rounds are serialised across workers by a MySQL named lock and within a
 * process by running one round at a time (concurrent requests share the
 * next round), so a burst of a thousand arrivals costs a handful of rounds,
 * and a waiting job costs nothing until a round admits it: the admitter
 * signals its workflow then. Alternatives tried: each waiting job polling
 * on a durable timer (cost grows with the queue, and an admitted job only
 * noticed on its own backoff, up to 15 s later); an admitter workflow
 * holding slots in memory (needs release signals that a terminated
 * workflow never sends).
 */
import os from 'node:os';
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import { IN_FLIGHT_STATES } from '../core/states.js';
import type { Pool } from './database.js';

export interface AdmissionResult {
  /** The job is past INCOMING (admitted now or earlier). */
  admitted: boolean;
  /** Why not, for the Web UI, `show` and `list`. */
  reason?: string;
}

export interface Admitter {
  /** Runs a round that starts after this call and says whether `job` is admitted, or why it waits. */
  request(job: string): Promise<AdmissionResult>;
  /** A slot may have freed or a parent completed: run a round soon. */
  wake(): void;
  close(): void;
}

export interface AdmitterOptions {
  /** Tells a job's workflow that the admitter admitted it (a signal); a missing workflow is not an error. */
  notify?: (job: string) => Promise<void>;
  /** The safety sweep: a round however quiet the service is. @defaultValue 10000 */
  sweepMs?: number;
  /** Problems (a failed round, a lost signal): the worker's log. */
  log: (message: string) => void;
  /** Told of every job a round admitted, with its submit time (for metrics). */
  onAdmitted?: (jobs: readonly { name: string; submitTime: Date | null }[]) => void;
}

function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export function createAdmitter(config: ServiceConfig, pool: Pool, options: AdmitterOptions): Admitter {
  const { notify, sweepMs = 10_000, log, onAdmitted } = options;
  const lockName = `saliflow-admission-${config.database.db}`;
  const limit = config.limits.running;
  /** Jobs whose own request waits for a round here: they learn from it and need no signal. */
  const requesting = new Map<string, number>();
  const admittedHere = new Set<string>();
  /** Jobs this process told to wait: signalled as soon as a round admits them. */
  const waitingHere = new Set<string>();
  const signalledAt = new Map<string, number>();
  const incomingPattern = `${config.directories.INCOMING.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
  let current: Promise<string[]> | undefined;
  let next: Promise<string[]> | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;
  let closed = false;

  async function admitRound(): Promise<string[]> {
    const db = await pool.getConnection();
    try {
      const [[lock]] = (await db.query('SELECT GET_LOCK(?, 10) AS got', [lockName])) as unknown as [[{ got: number }]];
      if (lock.got !== 1) throw new Error('could not take the admission lock in 10 s (another worker holds it)');
      try {
        const [[active]] = (await db.query('SELECT COUNT(*) AS n FROM jobs WHERE state IN (?)', [
          IN_FLIGHT_STATES,
        ])) as unknown as [[{ n: number }]];
        const free = limit - Number(active.n);
        if (free <= 0) return [];
        const [rows] = await db.query<mysql.RowDataPacket[]>(
          `SELECT j.name, j.submit_time FROM jobs j
            WHERE j.state = 'INCOMING' AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.child = j.name)
            ORDER BY j.submit_time, j.name LIMIT ?`,
          [free],
        );
        const names = rows.map((row) => String(row.name));
        if (names.length > 0) {
          const hostname = config.general.trackHostname ? ', hostname = ?' : '';
          await db.query(
            `UPDATE jobs SET state = 'PREPROCESSING', preprocess_time = UTC_TIMESTAMP()${hostname}
              WHERE state = 'INCOMING' AND name IN (?)`,
            config.general.trackHostname ? [os.hostname(), names] : [names],
          );
          onAdmitted?.(
            rows.map((row) => ({
              name: String(row.name),
              submitTime: row.submit_time instanceof Date ? row.submit_time : null,
            })),
          );
        }
        return names;
      } finally {
        await db.query('SELECT RELEASE_LOCK(?)', [lockName]);
      }
    } finally {
      db.release();
    }
  }

  const signal = (name: string) => {
    waitingHere.delete(name);
    notify?.(name).catch((error: Error) => log(`admission: could not signal job ${name}: ${error.message}`));
  };

  /**
   * Who learns of an admission, and how. A job whose request is in this
   * round learns from it; a job this process told to wait is signalled at
   * once. Any other job is left alone: its workflow is most likely about to
   * ask by itself (a burst of arrivals), and a signal arriving as its first
   * task completes would cost it a failed task and a replay. If it has not
   * moved on two seconds later, it is signalled (see `signalStragglers`).
   */
  function afterRound(names: string[]): string[] {
    for (const name of names) {
      if (requesting.has(name)) admittedHere.add(name);
      else if (waitingHere.has(name)) signal(name);
    }
    return names;
  }

  /** A round that starts after this call (joining the queued one if a round is running). */
  function round(): Promise<string[]> {
    if (!current) {
      current = admitRound()
        .then(afterRound)
        .finally(() => {
          current = undefined;
        });
      return current;
    }
    next ??= current
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return round();
      });
    return next;
  }

  /** The row's state; a missing row counts as INCOMING (its job's own read reports it). */
  async function stateOf(job: string): Promise<string> {
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT state FROM jobs WHERE name = ?', [job]);
    return rows[0] ? String(rows[0].state) : 'INCOMING';
  }

  async function whyWaiting(job: string): Promise<string> {
    const [parents] = await pool.query<mysql.RowDataPacket[]>(
      'SELECT d.parent, j.state FROM dependencies d LEFT JOIN jobs j ON j.name = d.parent WHERE d.child = ?',
      [job],
    );
    if (parents.length > 0) {
      const describe = (row: mysql.RowDataPacket) => {
        if (row.state === null)
          return `parent ${row.parent} does not exist (deleted?): delete this job or its dependency`;
        if (row.state === 'FAILED') return `parent ${row.parent} FAILED: resubmit or delete it`;
        return `waiting for parent job ${row.parent} (${row.state})`;
      };
      return parents.map(describe).join('; ');
    }
    const [[counts]] = (await pool.query(
      `SELECT (SELECT COUNT(*) FROM jobs WHERE state IN (?)) AS inFlight,
              (SELECT COUNT(*) FROM jobs o, jobs me WHERE me.name = ? AND o.state = 'INCOMING'
                 AND (o.submit_time < me.submit_time OR (o.submit_time = me.submit_time AND o.name < me.name))
                 AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.child = o.name)) AS ahead`,
      [IN_FLIGHT_STATES, job],
    )) as unknown as [[{ inFlight: number; ahead: number }]];
    return `${Number(counts.inFlight)} of ${limit} running slots taken, ${ordinal(Number(counts.ahead) + 1)} in line`;
  }

  function runInBackground(): void {
    if (closed) return;
    round().catch((error: Error) => {
      log(`admission round failed (retrying in 2 s): ${error.message}`);
      wakeTimer ??= setTimeout(() => {
        wakeTimer = undefined;
        runInBackground();
      }, 2000);
    });
  }

  /**
   * Admitted jobs whose workflow has not moved on by itself (their directory
   * is still in INCOMING's folder): jobs waiting on another worker, or on a
   * worker that died and took its list of waiters with it, or whose signal
   * was lost. A job that waited (admitted well after it was submitted) is
   * signalled 2 s after admission; one admitted as it arrived is most likely
   * still in its first task in a burst (a signal then costs it a failed task),
   * so it gets 30 s. One indexed query a second; each job is signalled at
   * most every 10 s.
   */
  async function signalStragglers(): Promise<void> {
    if (!notify) return;
    const [rows] = await pool.query<mysql.RowDataPacket[]>(
      `SELECT name FROM jobs WHERE state = 'PREPROCESSING' AND directory LIKE ?
         AND preprocess_time < UTC_TIMESTAMP() - INTERVAL 2 SECOND
         AND (preprocess_time > submit_time + INTERVAL 5 SECOND OR preprocess_time < UTC_TIMESTAMP() - INTERVAL 30 SECOND)`,
      [incomingPattern],
    );
    const now = Date.now();
    for (const [name, at] of signalledAt) if (now - at > 60_000) signalledAt.delete(name);
    for (const row of rows) {
      const name = String(row.name);
      if (now - (signalledAt.get(name) ?? 0) < 10_000) continue;
      signalledAt.set(name, now);
      signal(name);
    }
  }

  const stragglerCheck = setInterval(() => {
    signalStragglers().catch((error: Error) => log(`admission: checking admitted jobs: ${error.message}`));
  }, 1000);
  stragglerCheck.unref();

  const sweep = setInterval(runInBackground, sweepMs);
  sweep.unref();

  return {
    async request(job) {
      requesting.set(job, (requesting.get(job) ?? 0) + 1);
      try {
        const names = await round();
        // Admitted by this round, by one that ran while this request waited, or (on another worker) earlier.
        if (names.includes(job) || admittedHere.has(job) || (await stateOf(job)) !== 'INCOMING') {
          waitingHere.delete(job);
          return { admitted: true };
        }
        waitingHere.add(job);
        return { admitted: false, reason: await whyWaiting(job) };
      } finally {
        const left = (requesting.get(job) ?? 1) - 1;
        if (left > 0) requesting.set(job, left);
        else {
          requesting.delete(job);
          admittedHere.delete(job);
        }
      }
    },
    wake() {
      if (closed || wakeTimer) return;
      wakeTimer = setTimeout(() => {
        wakeTimer = undefined;
        runInBackground();
      }, 5);
    },
    close() {
      closed = true;
      clearInterval(sweep);
      if (wakeTimer) clearTimeout(wakeTimer);
      clearInterval(stragglerCheck);
    },
  };
}
