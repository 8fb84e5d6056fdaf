/**
 * Admission of INCOMING jobs (SALIWEB.md "What the backend does
 * periodically"): jobs start in submit order while fewer than
 * `[limits] running` are in flight, skipping jobs whose parents in
 * `dependencies` have not completed and jobs whose user holds their share
 * (`running_per_user`, `running_per_anonymous`; see waiting-line.ts).
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
 * Rounds are serialised across workers by a lease (lease.ts: a frozen
 * worker holds it for at most `[worker] lease_seconds`, and its late
 * UPDATE is refused) and within a process by running one round at a time (concurrent requests share the
 * next round), so a burst of a thousand arrivals costs a handful of rounds,
 * and a waiting job costs nothing until a round admits it: the admitter
 * signals its workflow then. Alternatives tried: each waiting job polling
 * on a durable timer (cost grows with the queue, and an admitted job only
 * noticed on its own backoff, up to 15 s later); an admitter workflow
 * holding slots in memory (needs release signals that a terminated
 * workflow never sends).
 *
 * Why a job waits is shown in the Web UI from its workflow, which is told
 * when it asks. To keep that true while it waits without a timer per
 * waiting job, the sweep recomputes the reasons of the first jobs in line
 * (`refreshFirst`, 10) and signals only those whose reason changed; a job
 * further back is told a reason that stays true until it gets there
 * ("waiting, as are at least 10 jobs submitted before it"). So a sweep costs
 * one or two statements and at most about `refreshFirst` signals, however
 * long the line.
 */
import os from 'node:os';
import type { ServiceConfig } from '../core/config/index.js';
import { LeaseLostError } from '../core/errors.js';
import type { Pool } from '../store/pool.js';
import { admitJobs, admittedNotMoved, countInFlightJobs, countJobsAhead, stillIncoming } from '../store/admission.js';
import { readJobState } from '../store/job-listing.js';
import { admissibleJobs, waitingReasons } from '../store/waiting-line.js';
import { pauseReason, readServiceControl, type ServiceControl } from '../store/service-control.js';
import { assertStillHeld, withLease, type Lease } from '../store/lease.js';
import { stoppoint } from './failpoint.js';

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
  notify?: (job: string) => Promise<unknown>;
  /** Tells a waiting job's workflow why it waits now (a signal); a missing workflow is not an error. */
  tell?: (job: string, reason: string) => Promise<unknown>;
  /** The safety sweep: a round however quiet the service is, and the refresh of reasons. @defaultValue 10000 */
  sweepMs?: number;
  /** How many jobs at the head of the line are told their exact reason, and told again when it changes. @defaultValue 10 */
  refreshFirst?: number;
  /** Problems (a failed round, a lost signal): the worker's log. */
  log: (message: string) => void;
  /**
   * Whether a job's workflow has a workflow task pending (it will read the
   * row by itself); false for an idle one, which needs a signal. Without
   * it, every straggler is signalled.
   */
  hasPendingTask?: (job: string) => Promise<boolean>;
  /** Told of every job a round admitted, with its submit time (for metrics). */
  onAdmitted?: (jobs: readonly AdmittedJob[]) => void;
  /** After each safety sweep (its round and its refresh of reasons): what a test waits for, not a clock. */
  onSweep?: () => void;
  /** After each check for admitted jobs whose workflow did not move on. */
  onStragglerCheck?: () => void;
}

export interface AdmittedJob {
  name: string;
  submitTime: Date | null;
}

/** What a job further back than the first `first` in line is told: true until it gets there. */
export function coarseReason(first: number): string {
  return `waiting, as are at least ${first} jobs submitted before it`;
}

/**
 * One admission round, under the service's admission lease (so the limits
 * hold across workers): counts the rows in flight, picks the jobs that may
 * go (store/waiting-line.ts) and moves them to PREPROCESSING in one UPDATE.
 * Returns the names admitted. Any process with the backend's credentials
 * may run one (the CLI does when it frees a slot).
 */
export async function runAdmissionRound(config: ServiceConfig, pool: Pool): Promise<AdmittedJob[]> {
  return (await admissionRound(config, pool)).admitted;
}

/** The lease that admission rounds and pauses take (store/lease.ts); one per service database. */
export const ADMISSION_LEASE = 'admission';

/**
 * Runs `work` holding the service's admission lease (no round runs
 * meanwhile, on any worker): `saliflow pause` records the pause under it,
 * so that nothing is admitted once the command returns. Writes that must
 * not happen if the lease was taken over meanwhile carry `fence(lease)`.
 */
export async function withAdmissionLock<T>(
  config: ServiceConfig,
  pool: Pool,
  work: (db: Pool, lease: Lease) => Promise<T>,
): Promise<T> {
  return withLease(pool, ADMISSION_LEASE, { seconds: config.worker.leaseSeconds }, (lease) => work(pool, lease));
}

/**
 * A round, and the service's control row as the round read it (the limits
 * in force and any pause: service-control.ts): a paused service admits
 * nothing. The UPDATE is fenced: a worker stalled after its reads (their
 * counts are stale by then) admits nothing if another took the lease over.
 */
async function admissionRound(
  config: ServiceConfig,
  pool: Pool,
  log?: (message: string) => void,
): Promise<{ admitted: AdmittedJob[]; control: ServiceControl }> {
  return withAdmissionLock(config, pool, async (db, lease) => {
    if (log && lease.tookOverFrom) {
      log(
        `admission: took over the admission lease from ${lease.tookOverFrom.holder}, whose lease ` +
          `(${config.worker.leaseSeconds} s) expired at ${lease.tookOverFrom.expiredAt.toISOString()} ` +
          'while it held it: it stalled or died during a round (its late writes are refused)',
      );
    }
    const control = await readServiceControl(db, config);
    if (control.pause) return { admitted: [], control };
    const free = control.limits.running - (await countInFlightJobs(db));
    if (free <= 0) return { admitted: [], control };
    const admitted = await admissibleJobs(db, control.limits, free);
    const names = admitted.map((job) => job.name);
    if (names.length > 0) {
      stoppoint('admission-lease-held');
      const admittedRows = await admitJobs(db, names, lease, config.general.trackHostname ? os.hostname() : undefined);
      if (admittedRows < names.length) await assertStillHeld(db, lease);
    }
    return { admitted, control };
  });
}

/** Rows read per straggler check, and how many of them are looked at (a describe each): bounded work per second. */
const STRAGGLER_CANDIDATES = 200;
const STRAGGLERS_PER_CHECK = 10;
/** Jobs behind the head of the line told a new reason per sweep (after a pause ends). */
const RETOLD_PER_SWEEP = 100;

export function createAdmitter(config: ServiceConfig, pool: Pool, options: AdmitterOptions): Admitter {
  const { notify, tell, sweepMs = 10_000, refreshFirst = 10, log, onAdmitted } = options;
  /** The control row as the last round read it: the limits in force and any pause. */
  let control: ServiceControl = { limits: config.limits };
  /** Jobs whose own request waits for a round here: they learn from it and need no signal. */
  const requesting = new Map<string, number>();
  const admittedHere = new Set<string>();
  /** Jobs this process told to wait: signalled as soon as a round admits them. */
  const waitingHere = new Set<string>();
  /** When each straggler candidate was last looked at. */
  const checkedAt = new Map<string, number>();
  /** The exact reasons this process told jobs at the head of the line (a job further back was told the coarse one). */
  const told = new Map<string, string>();
  const incomingPattern = `${config.directories.INCOMING.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
  let current: Promise<string[]> | undefined;
  let next: Promise<string[]> | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;
  let closed = false;

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
      told.delete(name);
      if (requesting.has(name)) admittedHere.add(name);
      else if (waitingHere.has(name)) signal(name);
    }
    return names;
  }

  /** A round that starts after this call (joining the queued one if a round is running). */
  function round(): Promise<string[]> {
    if (!current) {
      current = admissionRound(config, pool, log)
        .then((result) => {
          control = result.control;
          const { admitted } = result;
          if (admitted.length > 0) onAdmitted?.(admitted);
          return afterRound(admitted.map((job) => job.name));
        })
        .catch((error: Error) => {
          // A round whose worker stalled past its lease: said here, whoever asked for the round.
          if (error instanceof LeaseLostError) log(`admission: ${error.message}`);
          throw error;
        })
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
    return (await readJobState(pool, job)) ?? 'INCOMING';
  }

  /** The exact reason if `job` is among the first `refreshFirst` in line, else one that stays true until it is. */
  async function whyWaiting(job: string): Promise<string> {
    if (control.pause) {
      // Kept in `told`, so that the sweep tells it the line's reason once the service resumes.
      const reason = pauseReason(control.pause);
      told.set(job, reason);
      return reason;
    }
    // Most of a burst is far back in line: a count says so without ranking the whole line.
    if ((await countJobsAhead(pool, job)) >= refreshFirst) return coarseReason(refreshFirst);
    const head = await waitingReasons(pool, control.limits, { first: refreshFirst });
    const mine = head.find((waiting) => waiting.name === job);
    if (!mine) return coarseReason(refreshFirst);
    told.set(job, mine.reason);
    return mine.reason;
  }

  /**
   * Tells the jobs at the head of the line whose reason changed since this
   * process last told them, and the jobs that fell back out of it (a
   * resubmitted older job, a parent completing) the coarse reason. A job
   * that arrived in the last 5 s is left alone: its own request answered it
   * (and a signal during its first task costs it a replay).
   */
  async function refreshReasons(): Promise<void> {
    if (!tell) return;
    const paused = control.pause ? pauseReason(control.pause) : undefined;
    const head = await waitingReasons(pool, control.limits, { first: refreshFirst }, paused);
    const recent = Date.now() - 5000;
    const inHead = new Set(head.map((waiting) => waiting.name));
    for (const { name, reason, submitTime } of head) {
      if (told.get(name) === reason || submitTime.getTime() > recent) continue;
      told.set(name, reason);
      say(name, reason);
    }
    // Behind the head: while paused, the pause is what they are told; otherwise the coarse reason. After a
    // pause, every job that arrived during it is told again: a bounded number per sweep, oldest first, so
    // that a long line does not crowd out the signals of the jobs being admitted.
    const behind = paused ?? coarseReason(refreshFirst);
    const left = [...told]
      .filter(([name, reason]) => !inHead.has(name) && reason !== behind)
      .slice(0, RETOLD_PER_SWEEP)
      .map(([name]) => name);
    if (left.length === 0) return;
    for (const name of left) {
      if (paused) told.set(name, paused);
      else told.delete(name);
    }
    for (const name of await stillIncoming(pool, left)) say(name, behind);
  }

  const say = (name: string, reason: string) => {
    tell?.(name, reason).catch((error: Error) =>
      log(`admission: could not tell job ${name} why it waits: ${error.message}`),
    );
  };

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
   * was lost. A job that waited (admitted well after it was submitted) is a
   * candidate 2 s after admission; one admitted as it arrived, after 30 s.
   *
   * Only a workflow with no workflow task pending needs the signal: one
   * whose task is queued (a burst: thousands admitted by one round, their
   * first tasks still in line) reads the row when the task runs. Signalling
   * those costs each a history event and a task, and in a burst of 4,000
   * signals every 10 s it starved the very tasks the jobs waited for. So at
   * most `STRAGGLERS_PER_CHECK` candidates are looked at per check, oldest
   * first, each at most every 10 s, and only an idle one is signalled.
   */
  async function signalStragglers(): Promise<void> {
    if (!notify) return;
    const candidates = await admittedNotMoved(pool, incomingPattern, STRAGGLER_CANDIDATES);
    const now = Date.now();
    for (const [name, at] of checkedAt) if (now - at > 60_000) checkedAt.delete(name);
    const due = candidates.filter((name) => now - (checkedAt.get(name) ?? 0) >= 10_000).slice(0, STRAGGLERS_PER_CHECK);
    for (const name of due) {
      checkedAt.set(name, now);
      if (await isIdle(name)) signal(name);
    }
  }

  /** A workflow whose state is unknown (describe failed) is left for the next check. */
  const isIdle = async (name: string) =>
    options.hasPendingTask ? (await options.hasPendingTask(name).catch(() => true)) === false : true;

  let checking = false;
  const stragglerCheck = setInterval(() => {
    // One check at a time: a slow one (Temporal busy) is not joined by the next.
    if (checking) return;
    checking = true;
    signalStragglers()
      .catch((error: Error) => log(`admission: checking admitted jobs: ${error.message}`))
      .finally(() => {
        checking = false;
        options.onStragglerCheck?.();
      });
  }, 1000);
  stragglerCheck.unref();

  let sweeping = false;
  const sweep = setInterval(() => {
    // One sweep at a time: a slow one (MySQL busy) is not joined by the next.
    if (closed || sweeping) return;
    sweeping = true;
    round()
      .catch((error: Error) => log(`admission round failed: ${error.message}`))
      .then(refreshReasons)
      .catch((error: Error) => log(`admission: refreshing why jobs wait: ${error.message}`))
      .finally(() => {
        sweeping = false;
        options.onSweep?.();
      });
  }, sweepMs);
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
