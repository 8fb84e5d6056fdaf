/**
 * What an operator tells a running worker with a signal: SIGHUP re-reads
 * `[limits]` from the config file and publishes them to every worker of
 * the service (store/service-control.ts), as `saliflow reload-limits`
 * does; a bad file changes nothing, and the worker's log says why. SIGUSR2
 * drains the worker (worker/drain.ts), as `saliflow drain` asks. SIGTERM
 * and SIGINT stop it at once, as before.
 */
import os from 'node:os';
import type { EventEmitter } from 'node:events';
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import type { Pool } from '../store/pool.js';
import { describeLimits, readLimitsFile, reloadLimits } from '../store/service-control.js';

/** Where a handler hears signals: the process, or a fan-out to every service of a process (worker/main.ts). */
export type SignalSource = Pick<EventEmitter, 'on' | 'off'>;

/** Installs the SIGHUP handler; returns its removal. `wake` runs an admission round here soon. */
export function reloadLimitsOnHangup(options: {
  config: ServiceConfig;
  pool: Pool;
  log: Logger;
  wake: () => void;
  signals?: SignalSource;
}): () => void {
  const { config, pool, log, wake, signals = process } = options;
  let reloading = Promise.resolve();
  const reload = async () => {
    try {
      const fresh = readLimitsFile(config.configFile);
      const { before, after } = await reloadLimits(pool, fresh, `SIGHUP to worker ${process.pid}@${os.hostname()}`);
      log.info(`limits reloaded from ${config.configFile}: ${describeLimits(before)} -> ${describeLimits(after)}`);
      wake();
    } catch (error) {
      log.error(`SIGHUP: ${(error as Error).message}`);
    }
  };
  // One reload at a time, in the order the signals came.
  const onHangup = () => {
    reloading = reloading.then(reload);
  };
  signals.on('SIGHUP', onHangup);
  return () => signals.off('SIGHUP', onHangup);
}

/** The signal that drains a worker (the Temporal Runtime must not take it as a shutdown: see worker/main.ts). */
export const DRAIN_SIGNAL = 'SIGUSR2';

/** Installs the drain handler; returns its removal. A second signal while draining only says so. */
export function drainOnSignal(
  worker: { drain(report: (message: string) => void): Promise<void> },
  log: Logger,
  signals: SignalSource = process,
) {
  let draining = false;
  const onSignal = () => {
    if (draining) {
      log.info('already draining');
      return;
    }
    draining = true;
    worker.drain((message) => log.info(message)).catch((error: Error) => log.error(`drain: ${error.message}`));
  };
  signals.on(DRAIN_SIGNAL, onSignal);
  return () => signals.off(DRAIN_SIGNAL, onSignal);
}
