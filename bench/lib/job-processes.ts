/**
 * The processes a local runner started for the benchmark's jobs: every
 * process whose working directory is inside the service's folder (local
 * runs execute in their job directory). Found through /proc, ended by pid.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export function processesUnder(root: string): number[] {
  const prefix = path.resolve(root) + path.sep;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(prefix)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** SIGKILLs the job processes under `root` (so none writes into a folder being removed); returns how many. */
export function killProcessesUnder(root: string): number {
  const pids = processesUnder(root);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}
