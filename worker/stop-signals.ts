/**
 * How a worker stops. SIGTERM or SIGINT: stop polling, give the steps in
 * flight `graceSeconds` to finish (what is cut short then runs again on
 * another worker), and exit. A second signal, or a shutdown that overruns
 * its bound (a step that ignores cancellation, a hung call), exits at once:
 * an operator's stop is never ignored. Losing our parent counts as a signal,
 * so a worker is never left behind its supervisor: bin/saliflow.js closing
 * our IPC channel, or whoever started us going away without passing the
 * signal on (`npx` runs us under `sh -c`, which does not; we are then
 * re-parented). Each signal counts once however it came (worker/wrapper-signals.ts).
 */
import type { Logger } from '@temporalio/common';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { onSignal } from './wrapper-signals.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Time past the grace period for the SDK to cancel what is left and let go of the server. */
const FORCE_AFTER_GRACE_MS = 10_000;

const PARENT_CHECK_MS = 1000;

export function handleStopSignals(options: { worker: { shutdown(): void }; log: Logger; graceSeconds: number }): {
  dispose(): void;
} {
  const { worker, log, graceSeconds } = options;
  let stopping = false;
  let backstop: NodeJS.Timeout | undefined;
  const stop = (signal: NodeJS.Signals | 'parent gone') => {
    const code = 128 + (signal === 'parent gone' ? constants.signals.SIGTERM : constants.signals[signal]);
    if (stopping) {
      // Written at once: the logger's stream may not flush before exit.
      writeSync(
        2,
        `saliflow worker: ${signal} again: exiting now; steps still in flight run again on another worker\n`,
      );
      process.exit(code);
    }
    stopping = true;
    log.info(
      `${signal}: stopping; steps in flight have ${graceSeconds} s ` +
        'to finish ([worker] shutdown_seconds); signal again to exit at once',
    );
    backstop = setTimeout(
      () => {
        log.error(`still not stopped ${graceSeconds} s + ${FORCE_AFTER_GRACE_MS / 1000} s after ${signal}: exiting`);
        process.exit(code);
      },
      graceSeconds * 1000 + FORCE_AFTER_GRACE_MS,
    );
    backstop.unref();
    worker.shutdown();
  };
  const removals = STOP_SIGNALS.map((signal) => onSignal(signal, stop));
  const onDisconnect = () => stop('parent gone');
  process.on('disconnect', onDisconnect);
  const parent = process.ppid;
  const parentWatch = setInterval(() => {
    if (process.ppid !== parent && !stopping) stop('parent gone');
  }, PARENT_CHECK_MS).unref();
  return {
    dispose() {
      clearTimeout(backstop);
      clearInterval(parentWatch);
      for (const remove of removals) remove();
      process.off('disconnect', onDisconnect);
    },
  };
}
