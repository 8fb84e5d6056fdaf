/**
 * saliweb's `[backend] state_file`, taken as saliweb's daemon takes it: an
 * exclusive POSIX lock (Python's `fcntl.lockf`) held while the worker
 * lives, and the worker's PID written into it. saliweb's tools read it to
 * know a backend runs (`service.py status|condstart`, `deljob.py`,
 * `failjob.py`, `delete_all_jobs.py`, `scons`), and a saliweb daemon started
 * by habit finds it locked and refuses to start beside saliflow.
 *
 * Node has no fcntl locks (and the npm addons that add them need a compiler
 * on every host), so a small python3 process takes the lock and holds it for
 * the worker: started in a session of its own (a Ctrl-C to the terminal's
 * process group does not reach it), killed by the kernel when the worker
 * dies (PR_SET_PDEATHSIG), ending when the worker closes its stdin. The lock
 * dies with it, so a crashed worker never leaves the file locked.
 *
 * Several workers of one service on one host: the first takes the lock and
 * writes its PID; a later one finds the lock held by a saliflow worker (the
 * helper's command line carries the marker `saliflow-state-file`), runs
 * without it, and its helper waits in `lockf` to take it over (and write its
 * own PID) when the first stops. A `state_file` on a file system shared by
 * several hosts is held by one worker; the others see a lock no local
 * process holds and wait the same way. Only a lock held by another process
 * on this host (saliweb's daemon runs on the host `adopt` ran on) refuses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import readline from 'node:readline';
import { StartupError } from '../core/errors.js';
import { describeDaemonState, lockHolder, saliwebDaemonState, STATE_FILE_MARKER } from './saliweb-daemon.js';

/**
 * argv: marker, service, path, pid, nb|wait. Prints "locked" once it holds the lock and wrote the PID,
 * "held" if it may not wait and the lock is taken. A line "release" on stdin removes the file (saliweb's
 * daemon removes its state file on a clean stop); the end of stdin just lets go.
 */
const HELPER = `
import ctypes, fcntl, os, signal, sys
# A stop signal to the worker's group or unit is the worker's to act on: the lock goes when the worker does.
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: go with the worker
except Exception:
    pass
path, pid, wait = sys.argv[3], sys.argv[4], sys.argv[5] == 'wait'
while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print('held', flush=True)
        sys.exit(3)
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        same = False
    if same:
        break
    os.close(fd)  # the holder removed the file as it let go: lock the new one
os.ftruncate(fd, 0)
os.write(fd, (pid + '\\n').encode())
os.fsync(fd)
print('locked', flush=True)
if sys.stdin.readline().strip() == 'release':
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except FileNotFoundError:
        pass
`;

export interface StateFileLock {
  /** `held`: this worker holds the lock; `waiting`: another saliflow worker does, this one takes it when it stops. */
  readonly status: () => 'held' | 'waiting' | 'lost';
  /** Lets go of the lock (removing the file, as saliweb's daemon does on a clean stop). */
  release(): Promise<void>;
}

interface Helper {
  child: ChildProcess;
  /** The first line it printed: "locked" or "held"; undefined if it ended without one. */
  first: Promise<string | undefined>;
  lines: readline.Interface;
}

function startHelper(service: string, stateFile: string, mode: 'nb' | 'wait'): Helper {
  const child = spawn('python3', ['-c', HELPER, STATE_FILE_MARKER, service, stateFile, String(process.pid), mode], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  // It must not keep the worker's event loop alive, and an error writing to a gone helper is nothing.
  child.unref();
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = new Promise<string | undefined>((resolve, reject) => {
    lines.once('line', (line) => resolve(line.trim()));
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new StartupError(
              `cannot lock saliweb's state file ${stateFile} ([backend] state_file): python3 is not installed; ` +
                'saliflow takes its fcntl lock with python3 (as saliweb does), so install python3',
            )
          : error,
      );
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== 3) {
        reject(
          new StartupError(
            `cannot lock saliweb's state file ${stateFile} ([backend] state_file): ${stderr.trim() || `python3 exited ${code}`}; ` +
              "check that the worker's user may create and write that file",
          ),
        );
      }
      resolve(undefined);
    });
  });
  return { child, first, lines };
}

async function processCommand(pid: number): Promise<string[]> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
}

/**
 * Takes the state file for this worker, or waits for it behind another saliflow worker of the service.
 * Refuses when saliweb's daemon holds it, or when it starts with `FAILED: ` (saliweb: a fatal error's report
 * blocks every start until an operator has looked and removed the file).
 */
export async function takeStateFile(
  service: string,
  stateFile: string,
  log: (message: string) => void,
): Promise<StateFileLock> {
  const before = await saliwebDaemonState(stateFile);
  if (before.state === 'failed') {
    throw new StartupError(
      `not starting: saliweb's state file ${stateFile} ([backend] state_file) reports a fatal error of its backend:\n` +
        before.report
          .split('\n')
          .slice(0, 12)
          .map((line) => `    ${line}`)
          .join('\n') +
        `\n  As saliweb does, no backend starts until an operator has checked the jobs and removed ${stateFile}.`,
    );
  }
  let helper = startHelper(service, stateFile, 'nb');
  let status: 'held' | 'waiting' | 'lost' = 'held';
  if ((await helper.first) !== 'locked') {
    const holder = await lockHolder(stateFile).catch(() => undefined);
    const command = holder === undefined ? [] : await processCommand(holder);
    if (holder !== undefined && !command.includes(STATE_FILE_MARKER)) {
      const daemon = await saliwebDaemonState(stateFile);
      throw new StartupError(
        `not starting: ${describeDaemonState(stateFile, daemon) ?? `another process (pid ${holder}) holds the lock on ${stateFile}`}`,
      );
    }
    const pid = (await fs.readFile(stateFile, 'utf8').catch(() => '')).trim();
    // A holder this host does not list holds it through a shared file system: another host's worker (saliweb's
    // daemon runs on the one host that adopt and its socket name, where it is seen and refused).
    log(
      holder === undefined
        ? `saliweb's state file ${stateFile} is locked from another host (pid ${pid || 'unknown'} there); this worker ` +
            'runs beside it and takes the file over when it is free'
        : `saliweb's state file ${stateFile} is held by another saliflow worker on this host (pid ${pid || holder}); ` +
            'this one runs beside it and takes the file over when it stops',
    );
    status = 'waiting';
    helper = startHelper(service, stateFile, 'wait');
    const waiting = helper;
    void waiting.first.then(
      (line) => {
        if (line === 'locked' && status === 'waiting') {
          status = 'held';
          log(`took over saliweb's state file ${stateFile} (pid ${process.pid})`);
        }
      },
      () => undefined,
    );
  }
  const current = helper;
  current.child.once('exit', () => {
    if (status === 'held') {
      status = 'lost';
      log(
        `the process holding saliweb's state file ${stateFile} for this worker ended; saliweb's tools see no backend`,
      );
    }
  });
  let released: Promise<void> | undefined;
  const release = async () => {
    const was = status;
    status = 'lost';
    if (current.child.exitCode !== null || current.child.signalCode !== null) return;
    // Unreferenced while it holds the lock; waited for now, so the loop must not end under it.
    current.child.ref();
    const exited = new Promise<void>((resolve) => current.child.once('exit', () => resolve()));
    if (was === 'held') current.child.stdin!.end('release\n');
    else current.child.kill('SIGKILL');
    await exited;
    current.lines.close();
  };
  return {
    status: () => status,
    release: () => (released ??= release()),
  };
}
