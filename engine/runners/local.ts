/**
 * Runs a command on the backend host, in the job directory, as a detached
 * process: it survives a worker restart, and its exit code is written to a
 * file so any worker can read the outcome later.
 */
import fs from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { LocalCommandSpec } from '../../core/runner-spec.js';
import { RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { sleep } from '../../core/sleep.js';
import { removeJobStateFile } from './job-state-file.js';

// Records its own id (cycle, pid, host) first (so a submitter that crashed right after spawning
// finds it), writes STARTED/DONE like a cluster script, then the exit code;
// files are renamed into place so a reader never sees half a value.
const WRAPPER = [
  'echo "$SALIFLOW_CYCLE-$$@$SALIFLOW_HOST_ID" > "$SALIFLOW_PID_FILE.tmp" && mv "$SALIFLOW_PID_FILE.tmp" "$SALIFLOW_PID_FILE"',
  'echo STARTED > job-state',
  '"$@"',
  'code=$?',
  'echo $code > "$SALIFLOW_EXIT_FILE.tmp" && mv "$SALIFLOW_EXIT_FILE.tmp" "$SALIFLOW_EXIT_FILE"',
  'echo DONE > job-state',
  'exit $code',
].join('\n');

const files = (directory: string, cycle: number) => ({
  pid: path.join(directory, `.saliflow-local-${cycle}.pid`),
  claim: path.join(directory, `.saliflow-local-${cycle}.claim`),
  command: path.join(directory, `.saliflow-local-${cycle}.command`),
  exit: path.join(directory, `.saliflow-local-${cycle}.exit`),
  stdout: path.join(directory, 'local-run.out'),
  stderr: path.join(directory, 'local-run.err'),
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie passes kill(0) but will never write its exit file.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** Any process of the group `pid` leads, or else `pid` itself. */
function groupOrProcessAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return isAlive(pid);
  }
}

export function describeCommand(command: LocalCommandSpec['command']): string {
  return typeof command === 'string' ? command : command.map((arg) => JSON.stringify(arg)).join(' ');
}

/** How long a cancelled local run has to end on SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 5000;

async function readPidFile(file: string, waitMs: number): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && text.trim() !== '') return text.trim();
    if (Date.now() >= deadline) return undefined;
    await sleep(50);
  }
}

/**
 * saliweb: a LocalRunner's command inherits the daemon's environment (the
 * `module` settings, PYTHONPATH, LD_LIBRARY_PATH that programs such as FoXS
 * need), so a local command inherits the worker's, without saliflow's own
 * settings and secrets: every `SALIFLOW_*` and `TEMPORAL_*` variable (the
 * Temporal API key, TLS key and certificate paths and data) and MySQL's
 * password variable. A service adds or overrides with `localCommand(argv, { env })`.
 */
export function isWorkerOnlyVariable(name: string): boolean {
  return /^(SALIFLOW_|TEMPORAL_)/.test(name) || /^MYSQL_(PWD|.*PASSWORD)$/.test(name);
}

export function commandEnvironment(
  spec: Pick<LocalCommandSpec, 'env'>,
  worker: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(worker)) {
    if (value !== undefined && !isWorkerOnlyVariable(name)) env[name] = value;
  }
  return { ...env, ...spec.env };
}

async function readExitCode(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text.trim());
}

/** `<cycle>-<pid>@<host>`: the process and the host it runs on. */
export function parseLocalRunId(id: string): { pid: number; host: string | undefined } {
  const match = /^\d+-(\d+)(?:@(.+))?$/.exec(id);
  return { pid: match ? Number(match[1]) : NaN, host: match?.[2] };
}

export function createLocalRunner({
  pollIntervalMs = 1000,
  hostId = os.hostname(),
} = {}): RunnerBackend<LocalCommandSpec> {
  /** A process on another host cannot be seen or signalled from here. */
  const elsewhere = (id: string) => {
    const { host } = parseLocalRunId(id);
    return host !== undefined && host !== hostId ? host : undefined;
  };
  /** Processes this worker started that have not exited yet, by job and run id (a pid alone is reused). */
  const exits = new Map<string, Promise<void>>();
  const childKey = (job: string, id: string) => `${job}/${id}`;
  return {
    name: 'local',
    kind: 'local',
    pollIntervalMs,
    async submit(job: RunJob, spec: LocalCommandSpec) {
      const { pid: pidFile, claim, command, exit, stdout, stderr } = files(job.directory, job.cycle);
      // Exactly once: a claim without a pid file means an earlier attempt may
      // have spawned the process and died; its wrapper writes the pid file
      // first thing, so give it a moment before starting another.
      const claimed = await fs.access(claim).then(
        () => true,
        () => false,
      );
      const earlier = await readPidFile(pidFile, claimed ? 3000 : 0);
      if (earlier !== undefined) return earlier;
      await fs.writeFile(claim, '');
      // No process of this run exists (no pid file, none claimed it): an earlier run's DONE must not answer for it.
      await removeJobStateFile(job.directory);
      const argv = typeof spec.command === 'string' ? ['/bin/sh', '-c', spec.command] : [...spec.command];
      const out = openSync(stdout, 'a');
      const err = openSync(stderr, 'a');
      const child = spawn('/bin/sh', ['-c', WRAPPER, 'saliflow-local', ...argv], {
        cwd: job.directory,
        detached: true,
        stdio: ['ignore', out, err],
        env: {
          ...commandEnvironment(spec),
          SALIFLOW_EXIT_FILE: exit,
          SALIFLOW_PID_FILE: pidFile,
          SALIFLOW_CYCLE: String(job.cycle),
          SALIFLOW_HOST_ID: hostId,
        },
      });
      closeSync(out);
      closeSync(err);
      if (child.pid === undefined) throw new RunnerError(`could not start ${describeCommand(spec.command)}`);
      const id = `${job.cycle}-${child.pid}@${hostId}`;
      const key = childKey(job.name, id);
      exits.set(
        key,
        new Promise((resolve) =>
          child.once('exit', () => {
            exits.delete(key);
            resolve();
          }),
        ),
      );
      child.unref();
      await fs.writeFile(command, describeCommand(spec.command));
      // Fault injection for the crash test: die where a lost id would hurt.
      if (process.env.SALIFLOW_FAILPOINT === 'after-submit') process.kill(process.pid, 'SIGKILL');
      return (await readPidFile(pidFile, 5000)) ?? id;
    },
    async status(handles: readonly RunHandle[]) {
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles) {
        const { pid } = parseLocalRunId(handle.id);
        const host = elsewhere(handle.id);
        // Our own child that has not exited: no file or /proc reads (thousands of runs are polled each second).
        if (exits.has(childKey(handle.name, handle.id))) {
          statuses.set(handle.id, { state: 'running' });
          continue;
        }
        const { exit, command: commandFile } = files(handle.directory, handle.cycle);
        const code = await readExitCode(exit);
        if (code === undefined && host !== undefined) {
          statuses.set(handle.id, { state: 'unknown', reason: `process ${pid} runs on ${host}, not on ${hostId}` });
        } else if (code !== undefined) {
          const command = await fs.readFile(commandFile, 'utf8').catch(() => 'the local command');
          statuses.set(
            handle.id,
            code === 0
              ? { state: 'finished' }
              : { state: 'failed', reason: `${command} exited with status ${code} (see local-run.err)` },
          );
        } else if (isAlive(pid)) {
          statuses.set(handle.id, { state: 'running' });
        } else {
          statuses.set(handle.id, {
            state: 'finished',
            detail: `local process ${pid} ended without recording an exit status`,
          });
        }
      }
      return statuses;
    },
    async endedWithin(handle: RunHandle, withinMs: number) {
      const { exit } = files(handle.directory, handle.cycle);
      const exited = exits.get(childKey(handle.name, handle.id));
      if (exited) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
        await Promise.race([exited, timeout]);
        clearTimeout(timer);
      }
      // The wrapper writes the exit file before it exits: the file, not the event, is the answer.
      return (await readExitCode(exit)) !== undefined;
    },
    async cancel(handle: RunHandle) {
      const { pid } = parseLocalRunId(handle.id);
      const host = elsewhere(handle.id);
      if (host !== undefined)
        throw new RunnerError(`cannot cancel process ${pid}: it runs on ${host}, not on ${hostId}`);
      // An ended run's pid may belong to another process by now: never signal it.
      if ((await readExitCode(files(handle.directory, handle.cycle).exit)) !== undefined) return;
      // Its process group (saliflow's runs lead one); else the process alone (a run adopted from saliweb).
      const signal = (name: NodeJS.Signals) => {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, name);
            return true;
          } catch {
            // not a group leader, or already gone
          }
        }
        return false;
      };
      if (!signal('SIGTERM')) return;
      // saliweb's local runs inherit SIGTERM ignored: one still alive after the grace period is killed.
      for (const deadline = Date.now() + KILL_AFTER_MS; Date.now() < deadline; await sleep(100)) {
        if (!groupOrProcessAlive(pid)) return;
      }
      signal('SIGKILL');
    },
  };
}
