/**
 * The tests' side of the fake scheduler (fake-scheduler/fake-scheduler.mjs):
 * a directory of executables named qsub, qstat, qacct, qdel, sbatch, squeue,
 * scontrol and scancel driven by one state file, plus the knobs a test turns
 * to make the scheduler misbehave (a command timing out, failing, printing
 * garbage or nothing, accepting a job and then reporting an error) or to
 * change a job behind the runner's back (hold, lose, requeue).
 */
import fs from 'node:fs/promises';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROGRAM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-scheduler', 'fake-scheduler.mjs');
const COMMANDS = ['qsub', 'qstat', 'qacct', 'qdel', 'sbatch', 'squeue', 'scontrol', 'scancel'] as const;
export type FakeCommand = (typeof COMMANDS)[number];

/** `accept-then-fail` applies to qsub/sbatch: the job is queued, then the command reports an error. */
export type FaultMode = 'timeout' | 'fail' | 'garbage' | 'empty' | 'accept-then-fail';

export interface FakeJob {
  id: string;
  kind: 'sge' | 'slurm';
  name: string;
  phase: 'pending' | 'running' | 'ended';
  held?: boolean;
  lost?: boolean;
  submissions: number;
  runs?: { task?: number; pid?: number }[];
}

interface State {
  dir: string;
  nextId: number;
  jobs: FakeJob[];
  faults: Partial<Record<FakeCommand, { mode: FaultMode; times?: number }>>;
  calls: { command: FakeCommand; at: number }[];
  jobcomp: string;
}

export interface FakeScheduler {
  dir: string;
  /** Paths of the fake commands, as a `[sge]` or `[slurm]` config section wants them. */
  sgeSection: { qsub: string; qstat: string; qacct: string; qdel: string };
  slurmSection: { sbatch: string; squeue: string; scontrol: string; scancel: string; jobcomp: string };
  /** Makes `command` misbehave, for `times` calls (every call when left out). */
  fault(command: FakeCommand, mode: FaultMode, times?: number): Promise<void>;
  clearFaults(): Promise<void>;
  jobs(): Promise<FakeJob[]>;
  /** How many times each command was called. */
  calls(command?: FakeCommand): Promise<number>;
  /** The job vanishes from the queue and from accounting, as if the scheduler lost it. */
  lose(id: string): Promise<void>;
  /** The job goes back to pending under the same id (its running tasks are killed), as SLURM does after a node failure. */
  requeue(id: string, options?: { held?: boolean }): Promise<void>;
  release(id: string): Promise<void>;
  /** Puts `count` held jobs straight into the queue (no submit command), for load tests; returns their ids. */
  addHeldJobs(kind: 'sge' | 'slurm', count: number): Promise<string[]>;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function createFakeScheduler(): Promise<FakeScheduler> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-fake-scheduler-'));
  const stateFile = path.join(dir, 'state.json');
  const jobcomp = path.join(dir, 'jobcomp.log');
  const initial: State = { dir, nextId: 100, jobs: [], faults: {}, calls: [], jobcomp };
  await fs.writeFile(stateFile, JSON.stringify(initial));
  await fs.writeFile(jobcomp, '');
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin);
  for (const command of COMMANDS) {
    await fs.writeFile(
      path.join(bin, command),
      `#!/bin/sh\nFAKE_SCHEDULER_STATE='${stateFile}' exec '${process.execPath}' '${PROGRAM}' ${command} "$@"\n`,
      { mode: 0o755 },
    );
  }
  const lockDir = `${stateFile}.lock`;

  // The same lock as the fake commands take.
  async function change<T>(edit: (state: State) => T): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        mkdirSync(lockDir);
        break;
      } catch {
        try {
          if (Date.now() - statSync(lockDir).mtimeMs > 10_000) rmdirSync(lockDir);
        } catch {
          // released meanwhile
        }
        if (tries > 2000) throw new Error('fake scheduler state lock held too long');
        await sleep(5);
      }
    }
    try {
      const state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as State;
      const result = edit(state);
      await fs.writeFile(`${stateFile}.tmp`, JSON.stringify(state));
      await fs.rename(`${stateFile}.tmp`, stateFile);
      return result;
    } finally {
      rmdirSync(lockDir);
    }
  }

  const job = (state: State, id: string) => {
    const found = state.jobs.find((candidate) => candidate.id === id.split(/[._]/)[0]);
    if (!found) throw new Error(`the fake scheduler has no job ${id}`);
    return found;
  };
  const killRuns = (found: FakeJob) => {
    for (const run of found.runs ?? []) {
      try {
        if (run.pid) process.kill(-run.pid, 'SIGKILL');
      } catch {
        // ended already
      }
    }
  };
  const at = (command: string) => path.join(bin, command);

  return {
    dir,
    sgeSection: { qsub: at('qsub'), qstat: at('qstat'), qacct: at('qacct'), qdel: at('qdel') },
    slurmSection: {
      sbatch: at('sbatch'),
      squeue: at('squeue'),
      scontrol: at('scontrol'),
      scancel: at('scancel'),
      jobcomp,
    },
    fault: (command, mode, times) =>
      change((state) => {
        state.faults[command] = { mode, ...(times !== undefined ? { times } : {}) };
      }),
    clearFaults: () =>
      change((state) => {
        state.faults = {};
      }),
    jobs: async () => (JSON.parse(await fs.readFile(stateFile, 'utf8')) as State).jobs,
    calls: async (command) =>
      (JSON.parse(await fs.readFile(stateFile, 'utf8')) as State).calls.filter(
        (call) => command === undefined || call.command === command,
      ).length,
    lose: (id) =>
      change((state) => {
        const found = job(state, id);
        killRuns(found);
        found.lost = true;
      }),
    requeue: (id, { held = false } = {}) =>
      change((state) => {
        const found = job(state, id);
        killRuns(found);
        found.phase = 'pending';
        found.held = held;
        found.submissions += 1;
        delete found.runs;
      }),
    release: (id) =>
      change((state) => {
        job(state, id).held = false;
      }),
    addHeldJobs: (kind, count) =>
      change((state) => {
        const ids: string[] = [];
        for (let i = 0; i < count; i++) {
          const id = String(state.nextId++);
          state.jobs.push({ id, kind, name: `load_${id}`, phase: 'pending', held: true, submissions: 1 });
          ids.push(id);
        }
        return ids;
      }),
    async cleanup() {
      await change((state) => state.jobs.forEach(killRuns)).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
