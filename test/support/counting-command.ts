/**
 * A wrapper around a real scheduler command that logs each call, so tests
 * and benchmarks count how often saliflow asks the scheduler.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface CountingCommand {
  path: string;
  /** Calls so far. */
  count(): Promise<number>;
  /** Timestamps (ms) of every call so far. */
  calls(): Promise<number[]>;
}

export async function countingCommand(dir: string, real: string): Promise<CountingCommand> {
  const name = path.basename(real);
  const wrapper = path.join(dir, `counting-${name}`);
  const log = path.join(dir, `counting-${name}.log`);
  await fs.writeFile(log, '');
  await fs.writeFile(wrapper, `#!/bin/sh\ndate +%s%3N >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  const calls = async () => (await fs.readFile(log, 'utf8')).split('\n').filter(Boolean).map(Number);
  return { path: wrapper, calls, count: async () => (await calls()).length };
}
