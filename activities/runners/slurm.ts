/**
 * SLURM runner: writes `slurm-script.sh`, submits it with `sbatch
 * --parsable`, and answers the status of every waiting run with one
 * `squeue` call per poll. Exit codes come from the jobcomp file (no slurmdbd
 * needed) or `scontrol show job`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import type { SlurmConfig } from '../../core/config/index.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { arrayRange, clusterJobName, optionValue, renderScript } from './cluster-script.js';
import { readRecord, submitExactlyOnce } from './submission-record.js';
import { readJobStateFile } from './job-state-file.js';

export const SLURM_SCRIPT = 'slurm-script.sh';

// States after which SLURM will not run the job (or task) again.
const TERMINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'SPECIAL_EXIT',
]);

interface QueueRow {
  /** `%i`: job id, `123_4` for an array task. */
  id: string;
  /** `%F`: the array's job id, or the job id itself. */
  base: string;
  state: string;
  name: string;
  reason: string;
}

/** `123_1-10:1` → `123`. */
export function slurmBaseId(id: string): string {
  return id.split('_')[0]!;
}

/** sbatch prints `123` (or `123;cluster`); arrays are shown as `123_<spec>` as saliweb does. */
export function slurmRunnerId(parsable: string, options: string): string {
  const id = parsable.trim().split(';')[0]!;
  const array = optionValue(options, ['-a', '--array']);
  if (array === undefined) return id;
  const spec = array.split('%')[0]!;
  return `${id}_${arrayRange(spec)}`;
}

function parseQueue(stdout: string): QueueRow[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', base = '', state = '', name = '', reason = ''] = line.split('|');
      return { id, base, state: state.split(' ')[0]!, name, reason };
    });
}

export function createSlurmRunner(config: SlurmConfig): RunnerBackend<ClusterScriptSpec> {
  const run = (command: string, args: string[], cwd?: string) =>
    execa(command, args, { ...(cwd ? { cwd } : {}), reject: false, timeout: 60_000 });

  async function queue(extra: string[] = []): Promise<QueueRow[]> {
    const result = await run(config.squeue, ['-h', '-t', 'all', '-o', '%i|%F|%T|%j|%r', ...extra]);
    if (result.exitCode !== 0) {
      throw new RunnerError(`${config.squeue} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
    }
    return parseQueue(result.stdout);
  }

  /** The jobcomp line of each (task) id, when the cluster writes one. */
  async function jobcompLines(): Promise<string[]> {
    if (!config.jobcomp) return [];
    return (await fs.readFile(config.jobcomp, 'utf8').catch(() => '')).split('\n');
  }

  /** Matches jobcomp lines by the run's unique name: job ids restart when slurmctld's state is reset. */
  async function explain(handle: RunHandle, rows: QueueRow[]): Promise<string | undefined> {
    const bad = rows.filter((row) => row.state !== 'COMPLETED');
    const name = (await readRecord(handle.directory, 'slurm', handle.cycle))?.name;
    const lines = name ? await jobcompLines() : [];
    const ours = lines.filter((line) => line.includes(` Name=${name} `));
    const failedLines = ours.filter((line) => !/ JobState=COMPLETED /.test(line) || !/ ExitCode=0:0/.test(line));
    if (bad.length === 0 && failedLines.length === 0) return undefined;
    if (failedLines.length > 0) {
      return failedLines
        .map((line) => {
          // Anchored: `DerivedExitCode=` and `ArrayJobId=` must not match `ExitCode=` / `JobId=`.
          const field = (key: string) => new RegExp(`(?:^| )${key}=(\\S+)`).exec(line)?.[1] ?? '?';
          const code = field('ExitCode');
          const state = field('JobState');
          const meaning = state === 'CANCELLED' ? ' (cancelled, e.g. by scancel)' : '';
          return `SLURM job ${field('JobId')}: JobState=${state}${meaning} ExitCode=${code} (exit status ${code.split(':')[0]})`;
        })
        .join('; ');
    }
    const details: string[] = [];
    for (const row of bad) {
      const shown = await run(config.scontrol, ['-o', 'show', 'job', row.id]);
      const code = /(?:^| )ExitCode=(\S+)/.exec(shown.stdout)?.[1];
      details.push(
        `SLURM job ${row.id}: JobState=${row.state} Reason=${row.reason}${code ? ` ExitCode=${code} (exit status ${code.split(':')[0]})` : ''}`,
      );
    }
    return details.join('; ');
  }

  return {
    name: 'SLURM',
    kind: 'slurm',
    pollIntervalMs: config.pollSeconds * 1000,

    async submit(job: RunJob, spec: ClusterScriptSpec) {
      const options = spec.options ?? '';
      const interpreter = spec.interpreter ?? '/bin/sh';
      return submitExactlyOnce({
        kind: 'slurm',
        directory: job.directory,
        cycle: job.cycle,
        baseName: clusterJobName(spec.name ?? job.name),
        findByName: async (name) => {
          const rows = await queue(['-n', name]);
          if (rows[0]) return slurmRunnerId(rows[0].base, options);
          const line = (await jobcompLines()).find((candidate) => candidate.includes(` Name=${name} `));
          const base = line && (/ArrayJobId=(\d+)/.exec(line)?.[1] ?? /JobId=(\d+)/.exec(line)?.[1]);
          return base ? slurmRunnerId(base, options) : undefined;
        },
        submit: async (name) => {
          const script = renderScript({
            interpreter,
            prefix: '#SBATCH',
            directives: [`-J ${name}`, `--chdir=${job.directory}`, ...(options ? [options] : [])],
            body: spec.script,
          });
          await fs.writeFile(path.join(job.directory, SLURM_SCRIPT), script, { mode: 0o755 });
          const result = await run(config.sbatch, ['--parsable', SLURM_SCRIPT], job.directory);
          if (result.exitCode !== 0) {
            // sbatch refusing the script (bad option, partition) is the service's problem; anything
            // else (controller down, DNS, timeouts) is a passing fault and is retried.
            const refusal = /Batch job submission failed|unrecognized option|invalid option/i.test(result.stderr);
            const message = `sbatch of ${SLURM_SCRIPT} for job ${job.name} failed (exit ${result.exitCode}): ${result.stderr.trim()}`;
            throw refusal ? new RunFailedError(message) : new RunnerError(message);
          }
          return slurmRunnerId(result.stdout, options);
        },
      });
    },

    async status(handles: readonly RunHandle[]) {
      const rows = await queue();
      const byBase = new Map<string, QueueRow[]>();
      for (const row of rows) byBase.set(row.base, [...(byBase.get(row.base) ?? []), row]);
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles) {
        const base = slurmBaseId(handle.id);
        const ours = byBase.get(base) ?? [];
        if (ours.some((row) => !TERMINAL.has(row.state))) {
          statuses.set(handle.id, { state: 'running' });
          continue;
        }
        // A run that wrote DONE needs no post-mortem.
        const done = (await readJobStateFile(handle.directory)) === 'DONE';
        const detail = done ? undefined : await explain(handle, ours);
        statuses.set(handle.id, detail ? { state: 'finished', detail } : { state: 'finished' });
      }
      return statuses;
    },

    async cancel(handle: RunHandle) {
      const result = await run(config.scancel, [slurmBaseId(handle.id)]);
      if (result.exitCode !== 0 && !/Invalid job id|already completing or completed/i.test(result.stderr)) {
        throw new RunnerError(`scancel ${slurmBaseId(handle.id)} failed: ${result.stderr.trim()}`);
      }
    },
  };
}
