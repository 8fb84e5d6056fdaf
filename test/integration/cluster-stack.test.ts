/**
 * The real single-node clusters behind the SGE and SLURM runners
 * (scripts/cluster/sge.sh, scripts/cluster/slurm.sh): `start` brings each up
 * and is idempotent, both run side by side, a job's exit code is readable
 * after it ends, and every task of an array job runs.
 *
 * Needs root on Debian (the scripts install packages and start daemons);
 * skipped elsewhere or when SALIFLOW_SKIP_CLUSTERS=1. The clusters are left
 * running afterwards, as `start` would leave them.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { until } from '../support/until.js';

const SCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/cluster');
const SGE = path.join(SCRIPTS, 'sge.sh');
const SLURM = path.join(SCRIPTS, 'slurm.sh');
/** A first `start` may install packages from apt. */
const START_TIMEOUT_MS = 300_000;

const skip =
  process.env.SALIFLOW_SKIP_CLUSTERS === '1'
    ? 'SALIFLOW_SKIP_CLUSTERS=1'
    : process.getuid?.() !== 0
      ? 'needs root (installs and starts cluster daemons)'
      : !fs.existsSync('/usr/bin/apt-get')
        ? 'needs a Debian system (apt-get)'
        : false;

/** Run a cluster script command; its stderr (progress, errors) is kept in the assertion message on failure. */
async function script(file: string, command: string) {
  const result = await execa(file, [command], { reject: false, timeout: START_TIMEOUT_MS });
  assert.equal(result.exitCode, 0, `${path.basename(file)} ${command} failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Parse the `export NAME=value` lines printed by `env` (values are plain paths here). */
function parseEnv(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(match, `unexpected env line: ${JSON.stringify(line)}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

function required(env: Record<string, string>, name: string): string {
  const value = env[name];
  assert.ok(value, `env does not export ${name}`);
  return value;
}

const tempDirs: string[] = [];
function jobDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `saliflow-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

function writeScript(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('cluster scripts: bring-up', { skip }, () => {
  // Both at once: they must not get in each other's way on this one machine.
  test('sge.sh start and slurm.sh start bring both clusters up side by side', async () => {
    const [sge, slurm] = await Promise.all([script(SGE, 'start'), script(SLURM, 'start')]);
    assert.match(sge.stdout, /^sge (up|already up)/m);
    assert.match(slurm.stdout, /^slurm (up|already up)/m);
  });

  test('a second start of each is a fast no-op', async () => {
    for (const [file, name] of [
      [SGE, 'sge'],
      [SLURM, 'slurm'],
    ] as const) {
      const startedAt = Date.now();
      const result = await script(file, 'start');
      assert.match(result.stdout, new RegExp(`^${name} already up`, 'm'));
      assert.ok(Date.now() - startedAt < 5_000, `${name} no-op start took ${Date.now() - startedAt} ms`);
    }
  });

  test('status of both answers "up" while the other runs', async () => {
    assert.match((await script(SGE, 'status')).stdout, /^sge up:/);
    assert.match((await script(SLURM, 'status')).stdout, /^slurm up:/);
  });
});

describe('SGE cluster (scripts/cluster/sge.sh)', { skip }, () => {
  let env: Record<string, string> = {};
  let qsub = '';
  let qstat = '';
  let qacct = '';

  test('env exports SGE_ROOT, SGE_CELL and the client paths', async () => {
    env = parseEnv((await script(SGE, 'env')).stdout);
    assert.equal(env.SGE_ROOT, '/var/lib/gridengine');
    assert.equal(env.SGE_CELL, 'default');
    qsub = required(env, 'SALIFLOW_SGE_QSUB');
    qstat = required(env, 'SALIFLOW_SGE_QSTAT');
    qacct = required(env, 'SALIFLOW_SGE_QACCT');
    required(env, 'SALIFLOW_SGE_QDEL');
    for (const tool of [qsub, qstat, qacct]) assert.ok(fs.existsSync(tool), `${tool} does not exist`);
  });

  const sgeEnv = () => ({ ...process.env, SGE_ROOT: env.SGE_ROOT, SGE_CELL: env.SGE_CELL });

  async function submit(dir: string, args: string[]): Promise<string> {
    const { stdout } = await execa(qsub, ['-terse', '-cwd', ...args], { cwd: dir, env: sgeEnv() });
    // `-terse` prints `ID` for a job and `ID.1-3:1` for an array job.
    const id = /^(\d+)(\.|$)/.exec(stdout.trim())?.[1];
    assert.ok(id, `qsub printed no job id: ${JSON.stringify(stdout)}`);
    return id;
  }

  /** Wait until the job has left qstat (`qstat -j` fails for a finished job). */
  async function waitUntilFinished(id: string): Promise<void> {
    await until(`SGE job ${id} to leave qstat`, async () => {
      const result = await execa(qstat, ['-j', id], { reject: false, env: sgeEnv() });
      return result.exitCode === 0 ? undefined : true;
    });
  }

  /** qacct records of a job (one per array task), once `count` of them are in the accounting file. */
  async function accounting(id: string, count: number): Promise<string[]> {
    assert.match(id, /^\d+$/, 'never call qacct -j with an empty id: it dumps every job');
    return until(`${count} qacct record(s) of SGE job ${id}`, async () => {
      const result = await execa(qacct, ['-j', id], { reject: false, env: sgeEnv() });
      if (result.exitCode !== 0) return undefined;
      const records = result.stdout.split(/^=+$/m).filter((record) => /^exit_status/m.test(record));
      return records.length >= count ? records : undefined;
    });
  }

  const field = (record: string, name: string) => new RegExp(`^${name}\\s+(.*?)\\s*$`, 'm').exec(record)?.[1];

  test('a job that does `exit 3` reports exit_status 3 in qacct', async () => {
    const dir = jobDir('sge-exit3');
    writeScript(dir, 'exit3.sh', 'exit 3');
    const id = await submit(dir, ['-N', 'exit3', 'exit3.sh']);
    await waitUntilFinished(id);
    const [record] = await accounting(id, 1);
    assert.equal(field(record!, 'exit_status'), '3');
    assert.equal(field(record!, 'failed'), '0', 'the job itself ran; only its exit code is non-zero');
  });

  test('an array job of 3 tasks runs every task', async () => {
    const dir = jobDir('sge-array');
    writeScript(dir, 'task.sh', 'echo "$SGE_TASK_ID" > "task.$SGE_TASK_ID"');
    const id = await submit(dir, ['-N', 'array3', '-t', '1-3', 'task.sh']);
    await waitUntilFinished(id);
    for (const task of [1, 2, 3]) {
      assert.equal(fs.readFileSync(path.join(dir, `task.${task}`), 'utf8').trim(), String(task));
    }
    const records = await accounting(id, 3);
    assert.deepEqual(records.map((record) => field(record, 'taskid')).sort(), ['1', '2', '3']);
    assert.ok(
      records.every((record) => field(record, 'exit_status') === '0'),
      'every task exits 0',
    );
  });
});

describe('SLURM cluster (scripts/cluster/slurm.sh)', { skip }, () => {
  let sbatch = '';
  let squeue = '';
  let scontrol = '';
  let jobcomp = '';

  test('env exports SLURM_CONF, the client paths and the jobcomp file', async () => {
    const env = parseEnv((await script(SLURM, 'env')).stdout);
    assert.equal(env.SLURM_CONF, '/etc/slurm/slurm.conf');
    sbatch = required(env, 'SALIFLOW_SLURM_SBATCH');
    squeue = required(env, 'SALIFLOW_SLURM_SQUEUE');
    scontrol = required(env, 'SALIFLOW_SLURM_SCONTROL');
    required(env, 'SALIFLOW_SLURM_SCANCEL');
    jobcomp = required(env, 'SALIFLOW_SLURM_JOBCOMP');
    for (const tool of [sbatch, squeue, scontrol]) assert.ok(fs.existsSync(tool), `${tool} does not exist`);
  });

  async function submit(dir: string, args: string[]): Promise<string> {
    const { stdout } = await execa(sbatch, ['--parsable', `--chdir=${dir}`, ...args]);
    // `--parsable` prints `ID` (or `ID;cluster` on a multi-cluster setup).
    const id = /^(\d+)/.exec(stdout.trim())?.[1];
    assert.ok(id, `sbatch printed no job id: ${JSON.stringify(stdout)}`);
    return id;
  }

  /** Wait until squeue no longer lists the job (or any task of the array job). */
  async function waitUntilFinished(id: string): Promise<void> {
    await until(`SLURM job ${id} to leave squeue`, async () => {
      const { stdout } = await execa(squeue, ['-h', '-j', id]);
      return stdout.trim() === '' ? true : undefined;
    });
  }

  /** `scontrol -o show job` prints one line per job, or per task of an array job. */
  async function jobLines(id: string): Promise<string[]> {
    const { stdout } = await execa(scontrol, ['-o', 'show', 'job', id]);
    return stdout.split('\n').filter((line) => line.startsWith('JobId='));
  }

  const field = (line: string, name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1];

  test('a job that does `exit 3` reports ExitCode=3:0 in scontrol and the jobcomp file', async () => {
    const dir = jobDir('slurm-exit3');
    writeScript(dir, 'exit3.sh', 'exit 3');
    const id = await submit(dir, ['-J', 'exit3', '-o', 'slurm-%j.out', 'exit3.sh']);
    await waitUntilFinished(id);
    const [line] = await jobLines(id);
    assert.ok(line, `scontrol knows nothing of job ${id}`);
    assert.equal(field(line, 'ExitCode'), '3:0');
    assert.equal(field(line, 'JobState'), 'FAILED');
    // scontrol forgets a job after MinJobAge; the jobcomp file keeps it.
    const completion = await until(`job ${id} in ${jobcomp}`, async () =>
      fs
        .readFileSync(jobcomp, 'utf8')
        .split('\n')
        .find((entry) => entry.startsWith(`JobId=${id} `)),
    );
    assert.equal(field(completion, 'ExitCode'), '3:0');
  });

  test('an array job of 3 tasks runs every task', async () => {
    const dir = jobDir('slurm-array');
    writeScript(dir, 'task.sh', 'echo "$SLURM_ARRAY_TASK_ID" > "task.$SLURM_ARRAY_TASK_ID"');
    const id = await submit(dir, ['-J', 'array3', '--array=1-3', '-o', 'slurm-%A_%a.out', 'task.sh']);
    await waitUntilFinished(id);
    for (const task of [1, 2, 3]) {
      assert.equal(fs.readFileSync(path.join(dir, `task.${task}`), 'utf8').trim(), String(task));
    }
    const lines = await jobLines(id);
    assert.deepEqual(lines.map((line) => field(line, 'ArrayTaskId')).sort(), ['1', '2', '3']);
    assert.ok(
      lines.every((line) => field(line, 'JobState') === 'COMPLETED' && field(line, 'ExitCode') === '0:0'),
      `every task completes with 0:0:\n${lines.join('\n')}`,
    );
  });
});
