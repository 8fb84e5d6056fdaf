/**
 * Is saliweb's backend daemon still alive? Its `[backend] state_file` holds
 * its PID under an exclusive POSIX lock (Python's `fcntl.lockf`), or
 * `FAILED: <traceback>` after a fatal error. Node cannot take a POSIX lock,
 * so the lock is read from /proc/locks (Linux): a WRITE POSIX lock on the
 * file's inode names the process holding it. An older saliweb wrote the PID
 * without a lock: a running process with that PID counts as alive too.
 */
import fs from 'node:fs/promises';

/** In the command line of the process saliflow's worker holds the lock through (worker/state-file.ts). */
export const STATE_FILE_MARKER = 'saliflow-state-file';

export type DaemonState =
  | { state: 'absent' }
  /** A saliflow worker holds the lock (through its helper, `holder`) and wrote its PID. */
  | { state: 'saliflow'; pid?: number; holder: number }
  | { state: 'stopped'; pid?: number }
  | { state: 'alive'; pid: number; how: 'lock' | 'pid' }
  | { state: 'failed'; report: string };

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux's dev_t → the `MAJOR:MINOR` /proc/locks prints (hex). */
function deviceName(dev: number): string {
  const big = BigInt(dev);
  const major = ((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn);
  const minor = (big & 0xffn) | ((big >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/** The PID of a process holding a POSIX write lock on the file, from /proc/locks. */
export async function lockHolder(file: string): Promise<number | undefined> {
  const stat = await fs.stat(file);
  const locks = await fs.readFile('/proc/locks', 'utf8').catch(() => '');
  const inode = `${deviceName(stat.dev)}:${stat.ino}`;
  for (const line of locks.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 12345 08:01:123456 0 EOF"; blocked waiters start with "->".
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'POSIX' || fields[3] !== 'WRITE') continue;
    if (fields[5] === inode) return Number(fields[4]);
  }
  return undefined;
}

export async function saliwebDaemonState(stateFile: string): Promise<DaemonState> {
  let text: string;
  try {
    text = await fs.readFile(stateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw error;
  }
  const holder = await lockHolder(stateFile);
  if (holder !== undefined && processRuns(holder)) {
    const command = await fs.readFile(`/proc/${holder}/cmdline`, 'utf8').catch(() => '');
    if (command.split('\0').includes(STATE_FILE_MARKER)) {
      const pid = /^\s*(\d+)\s*$/.exec(text)?.[1];
      return { state: 'saliflow', holder, ...(pid !== undefined ? { pid: Number(pid) } : {}) };
    }
    return { state: 'alive', pid: holder, how: 'lock' };
  }
  if (text.startsWith('FAILED:')) return { state: 'failed', report: text.slice('FAILED:'.length).trim() };
  const pid = /^\s*(\d+)\s*$/.exec(text)?.[1];
  if (pid === undefined) return { state: 'stopped' };
  if (processRuns(Number(pid))) return { state: 'alive', pid: Number(pid), how: 'pid' };
  return { state: 'stopped', pid: Number(pid) };
}

/** One paragraph for the operator, or undefined when there is nothing to say. */
export function describeDaemonState(stateFile: string, daemon: DaemonState): string | undefined {
  switch (daemon.state) {
    case 'alive':
      return (
        `saliweb's backend daemon is running (pid ${daemon.pid}, ${daemon.how === 'lock' ? 'holding the lock on' : 'named in'} ` +
        `${stateFile}). Stop it first (saliweb's \`service.py stop\`, or \`kill ${daemon.pid}\`: it removes its state file ` +
        'on a clean stop), check that it is gone, then adopt: two backends must never drive the same jobs.'
      );
    case 'failed':
      return (
        `saliweb's state file ${stateFile} says its daemon stopped on a fatal error:\n` +
        daemon.report
          .split('\n')
          .slice(0, 12)
          .map((line) => `    ${line}`)
          .join('\n') +
        `\n  saliweb would refuse to start until that file is removed, and so do saliflow's workers; adoption goes on ` +
        '(the daemon is not running): remove the file before starting the workers.'
      );
    case 'saliflow':
      return `a saliflow worker holds ${stateFile} (pid ${daemon.pid ?? 'unknown'}, through its lock holder ${daemon.holder}).`;
    default:
      return undefined;
  }
}
