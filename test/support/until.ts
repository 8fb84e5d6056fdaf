/** How long `until` waits, how often it asks, and what its timeout error shows besides `what`. */
export interface UntilOptions {
  /** @defaultValue 60000 */
  timeoutMs?: number;
  /** Pause between two probes. @defaultValue 100 */
  everyMs?: number;
  /** What was last seen, for the timeout error: a wait that fails should say how far it got. */
  lastSeen?: () => string | Promise<string>;
}

/** The error `until` throws when `what` did not happen in time (a caller that may give up catches this one only). */
export class UntilTimeoutError extends Error {
  override name = 'UntilTimeoutError';
}

/**
 * Polls `probe` until it returns a value (not undefined) and returns that
 * value; fails naming `what` after the timeout. A probe that throws ends the
 * wait with its error: that is how a probe says "this can no longer happen"
 * (a process it waits on exited).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: number | UntilOptions = {},
): Promise<T> {
  const {
    timeoutMs = 60_000,
    everyMs = 100,
    lastSeen,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  for (const deadline = Date.now() + timeoutMs; ;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const seen = lastSeen ? `; last seen: ${await lastSeen()}` : '';
      throw new UntilTimeoutError(`timed out after ${timeoutMs / 1000} s waiting for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Reads a value until `done` holds for it, and returns it; the timeout error shows the last value read. */
export async function untilHolds<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: number | Omit<UntilOptions, 'lastSeen'> = {},
): Promise<T> {
  let last: { value: T } | undefined;
  const found = await until(
    what,
    async () => {
      last = { value: await read() };
      return done(last.value) ? last : undefined;
    },
    {
      ...(typeof options === 'number' ? { timeoutMs: options } : options),
      lastSeen: () => (last ? JSON.stringify(last.value) : 'nothing (no read finished)'),
    },
  );
  return found.value;
}
