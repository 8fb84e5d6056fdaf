/**
 * Signals as a worker started by bin/saliflow.js hears them: each one once. The wrapper is the
 * process its starter knows (the terminal's job, `timeout`'s child, systemd's main PID), so it
 * passes on every stop, reload and drain signal it gets; but the terminal's Ctrl-C (the whole
 * foreground process group), `kill -- -PGID` and systemd's control-group kill reach this process
 * too. Counted twice, one Ctrl-C would be "SIGINT again: exiting now". So the wrapper does not
 * signal us: it sends, over the IPC channel, how many of each signal it has had, and a signal
 * counts here when the larger of the two counts (ours, the wrapper's) grows. One keypress is one
 * stop; a second is the second; a SIGTERM to the wrapper alone is one too. (So a signal to the
 * worker's own PID after one to the wrapper's alone counts as the same stop: the first stop's
 * bound, worker/stop-signals.ts, still ends it.)
 */
import { setTimeout as later } from 'node:timers';

/** The IPC message bin/saliflow.js sends: `{ [WRAPPER_SIGNAL]: 'SIGINT', count: 2 }` (its own count so far). */
export const WRAPPER_SIGNAL = 'saliflow:signal';

/** The signals bin/saliflow.js passes on (its own list must match; test/unit/wrapper-signals.test.ts). */
export const PASSED_ON = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'] as const;
export type PassedOnSignal = (typeof PASSED_ON)[number];

/**
 * How long a count from the wrapper waits for the same signal to reach us directly. The kernel
 * marks a group signal pending in every process at once, long before the wrapper's message can
 * be read here; this covers an event loop that handles the message in the same turn first.
 */
const SETTLE_MS = 200;

interface Tally {
  /** Deliveries to this process while someone listened. */
  direct: number;
  /** The wrapper's count. */
  passedOn: number;
  /** Signals handed to the handlers. */
  handled: number;
  handlers: Set<(signal: PassedOnSignal) => void>;
}

const tallies = new Map<PassedOnSignal, Tally>(
  PASSED_ON.map((signal) => [signal, { direct: 0, passedOn: 0, handled: 0, handlers: new Set() }]),
);

function settle(signal: PassedOnSignal): void {
  const tally = tallies.get(signal)!;
  while (tally.handled < Math.max(tally.direct, tally.passedOn)) {
    tally.handled++;
    if (tally.handlers.size === 0) {
      // Nobody listens yet (still starting) or any more: what the signal would have done without the wrapper.
      process.kill(process.pid, signal);
      return;
    }
    for (const handler of [...tally.handlers]) handler(signal);
  }
}

const direct = Object.fromEntries(
  PASSED_ON.map((signal) => [
    signal,
    () => {
      tallies.get(signal)!.direct++;
      settle(signal);
    },
  ]),
) as Record<PassedOnSignal, () => void>;

let listening = false;

/** Hears the wrapper's counts from the start, so a stop that comes while the worker starts is not lost. */
export function listenToWrapper(): void {
  if (listening || !process.send) return;
  listening = true;
  process.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null) return;
    const { [WRAPPER_SIGNAL]: signal, count } = message as Record<string, unknown>;
    if (!PASSED_ON.includes(signal as PassedOnSignal) || typeof count !== 'number') return;
    const tally = tallies.get(signal as PassedOnSignal)!;
    tally.passedOn = Math.max(tally.passedOn, count);
    later(() => settle(signal as PassedOnSignal), SETTLE_MS).unref();
  });
  // The channel must not keep the process alive: the wrapper waits for our exit to end it.
  process.channel?.unref();
  // With a callback, a channel closed meanwhile (the wrapper gone: stop-signals.ts stops us) is no error event.
  if (process.connected) process.send({ [WRAPPER_SIGNAL]: 'listening' }, undefined, undefined, () => undefined);
}

/**
 * Calls `handler` once per signal, however many ways it reached us (directly and through the
 * wrapper). Returns its removal; with no handler left the signal does what it does by default.
 */
export function onSignal(signal: PassedOnSignal, handler: (signal: PassedOnSignal) => void): () => void {
  listenToWrapper();
  const tally = tallies.get(signal)!;
  if (tally.handlers.size === 0) process.on(signal, direct[signal]);
  tally.handlers.add(handler);
  return () => {
    if (!tally.handlers.delete(handler)) return;
    if (tally.handlers.size === 0) process.off(signal, direct[signal]);
  };
}
