/**
 * Worker processes the benchmark starts: each is `node --import tsx <entry>`
 * (the same as `bin/saliflow.js` runs, with its malloc tuning), so the pid
 * we sample is the worker itself. Output goes to a log file; stop() sends SIGTERM (graceful
 * shutdown) and, after a grace period, SIGKILL — to that pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { withMallocTuning } from '../../worker/malloc-tuning.js';
import { sleep } from './stats.js';

export interface NodeProcess {
  name: string;
  pid: number;
  logFile: string;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
  exited(): boolean;
  stop(graceMs?: number): Promise<void>;
}

export function spawnNodeProcess(
  name: string,
  args: readonly string[],
  options: { logFile: string; env?: Record<string, string> },
): NodeProcess {
  const log = openSync(options.logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    env: { ...withMallocTuning(process.env), ...options.env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : 0);
      resolve();
    }),
  );
  const logTail = (lines = 15) => {
    try {
      return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    name,
    pid: child.pid,
    logFile: options.logFile,
    logTail,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 60_000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exit.then(() => true), sleep(graceMs).then(() => false)]);
      if (!stopped) {
        console.warn(`${name} (pid ${child.pid}) did not stop within ${graceMs / 1000} s of SIGTERM; SIGKILL`);
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** Waits until `ready()` holds, failing early with the log if the process exits. */
export async function waitUntilReady(proc: NodeProcess, ready: () => boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (proc.exited()) throw new Error(`${proc.name} exited before it was ready; its log ends:\n${proc.logTail()}`);
    if (Date.now() > deadline)
      throw new Error(`${proc.name} not ready after ${timeoutMs / 1000} s; its log ends:\n${proc.logTail()}`);
    await sleep(200);
  }
}

export const fileExists = (file: string) => () => existsSync(file);

export const logSays = (proc: NodeProcess, text: string) => () => proc.logTail(50).includes(text);
