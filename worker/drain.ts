/**
 * Draining a worker, so that its host can be rebooted without failing a
 * job (`saliflow drain`, or SIGUSR2 to the worker).
 *
 * What a worker holds, and who else can take it:
 * - workflow tasks and activities on the service's task queue, and waits
 *   for cluster and web-service runs: any worker. The drain stops polling
 *   for them and lets the tasks in hand finish; Temporal gives the rest to
 *   the other workers (or keeps them until one starts).
 * - admission rounds: any worker (the rows are the slots).
 * - local runs on this host: nobody else. They are detached processes that
 *   a reboot would kill, and only this host can see them end. So the drain
 *   keeps watching them, and keeps polling this host's queue (a cancel of
 *   such a run comes there), until each has ended and its end was told to
 *   its job's workflow, which another worker carries on.
 * Then it reports the worker empty and stops it; the process exits.
 */
import type { Admitter } from '../engine/admission.js';
import type { RunWatcher } from '../engine/run-watcher.js';
import { sleep } from '../core/sleep.js';

export interface DrainableParts {
  /** Stops polling the service's task queue and the wait queue; resolves once the tasks in hand are done. */
  stopTakingWork(): Promise<void>;
  admitter: Pick<Admitter, 'close'>;
  watcher: Pick<RunWatcher, 'localRuns' | 'scanNow'>;
  /** Signals (admissions, ended runs) not delivered yet. */
  pendingSignals(): number;
  /** Stops polling this host's queue: the worker's `run()` returns. */
  stopHostQueue(): void;
}

/** Drains the worker; `report` hears each step and how many local runs are left. */
export async function drainWorker(
  parts: DrainableParts,
  report: (message: string) => void,
  checkEveryMs = 1000,
): Promise<void> {
  report('draining: taking no new work; finishing the tasks in hand');
  parts.admitter.close();
  await parts.stopTakingWork();
  // A run started by the last tasks, or one this worker found but never scanned, is watched before counting.
  for (;;) {
    try {
      await parts.watcher.scanNow();
      break;
    } catch (error) {
      report(`draining: could not list the RUNNING jobs (retrying): ${(error as Error).message}`);
      await sleep(checkEveryMs);
    }
  }
  let told = '';
  for (;;) {
    const runs = parts.watcher.localRuns;
    const signals = parts.pendingSignals();
    if (runs === 0 && signals === 0) break;
    const waitingFor =
      runs > 0
        ? `waiting for ${runs} local run(s) on this host to end`
        : `waiting for ${signals} signal(s) to reach their jobs`;
    if (waitingFor !== told) report(`draining: ${waitingFor}`);
    told = waitingFor;
    await sleep(checkEveryMs);
  }
  report('drained: no work left on this worker; it stops now');
  parts.stopHostQueue();
}
