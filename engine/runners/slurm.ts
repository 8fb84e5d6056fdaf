/**
 * SLURM runner: writes `slurm-script.sh`, submits it with `sbatch
 * --parsable`, and answers the status of every waiting run with `squeue -j`
 * naming only the asked runs (one call per 200 jobs). How a run that left
 * the queue ended comes from `scontrol show job` (for MinJobAge seconds) or
 * the jobcomp file (no slurmdbd needed), looked up outside the poll
 * (accounting-lookups.ts). Commands and parsers: slurm-commands.ts.
 */
import fs from 'node:fs/promises';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import type { SlurmConfig } from '../../core/config/index.js';
import { RunnerError } from '../../core/errors.js';
import type { RunEnding, RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { renderScript } from './cluster-script.js';
import { readRecord } from './submission-record.js';
import { submitJobOnce, submitScript, scriptSettings } from './script-submission.js';
import { cancelWith, describeFailure, runCommand, type SchedulerCommand } from './scheduler-command.js';
import { createAccountingLookups, statusesOfLeftRuns } from './accounting-lookups.js';
import { clusterPolling } from './status-poller.js';
import {
  TERMINAL_STATES,
  describeSlurmEnding,
  parseJobcomp,
  parseSbatch,
  parseScancel,
  parseScontrolJobs,
  parseSqueue,
  sbatchCommand,
  scancelCommand,
  scontrolShowJobCommand,
  slurmBaseId,
  slurmRunnerId,
  squeueByNameCommand,
  squeueCommand,
  type QueueRow,
} from './slurm-commands.js';

export { slurmBaseId, slurmRunnerId } from './slurm-commands.js';

export const SLURM_SCRIPT = 'slurm-script.sh';

/** Job ids per squeue call: a command line stays short, and a thousand runs cost five calls. */
const IDS_PER_QUERY = 200;

export interface SlurmRunnerOptions {
  /** How long a poll waits for new accounting lookups before answering. @defaultValue 300 ms */
  accountingWaitMs?: number;
  /** Accounting lookups at once. @defaultValue 4 */
  accountingConcurrency?: number;
  /** A scheduler command taking longer is a failed query. @defaultValue 60 s */
  commandTimeoutMs?: number;
}

export function createSlurmRunner(
  config: SlurmConfig,
  options: SlurmRunnerOptions = {},
): RunnerBackend<ClusterScriptSpec> {
  const { commandTimeoutMs = 60_000 } = options;
  const run = (command: SchedulerCommand) => runCommand(command, { timeoutMs: commandTimeoutMs });

  async function queue(command: SchedulerCommand): Promise<QueueRow[]> {
    const result = await run(command);
    const parsed = parseSqueue(result);
    if (!parsed.ok) throw new RunnerError(`${describeFailure(command, result)}; ${parsed.error}`);
    return parsed.value;
  }

  async function jobcomp(): Promise<string> {
    return config.jobcomp ? fs.readFile(config.jobcomp, 'utf8').catch(() => '') : '';
  }

  /** Every task's ending, by the run's unique name: job ids restart when slurmctld's state is reset. */
  async function endings(handle: RunHandle): Promise<RunEnding[] | undefined> {
    const name = (await readRecord(handle.directory, 'slurm', handle.cycle))?.name;
    const command = scontrolShowJobCommand(config, slurmBaseId(handle.id));
    const result = await run(command);
    const shown = parseScontrolJobs(result);
    if (!shown.ok) throw new RunnerError(`${describeFailure(command, result)}; ${shown.error}`);
    const ours = shown.value.filter((ending) => name === undefined || ending.name === name);
    if (ours.length > 0 && ours.every((ending) => ending.state && TERMINAL_STATES.has(ending.state))) {
      return ours.map(({ name: _name, arrayJobId: _array, ...ending }) => ending);
    }
    if (name === undefined) return undefined;
    const lines = parseJobcomp(await jobcomp(), name);
    return lines.length > 0 ? lines.map(({ name: _name, arrayJobId: _array, ...ending }) => ending) : undefined;
  }

  const lookups = createAccountingLookups(endings, options);

  return {
    ...clusterPolling('SLURM', 'slurm' as const, config),

    async submit(job: RunJob, spec: ClusterScriptSpec) {
      const { options, interpreter, baseName } = scriptSettings(spec, job);
      return submitJobOnce('slurm', job, baseName, {
        findByName: async (name) => {
          const rows = await queue(squeueByNameCommand(config, name));
          if (rows[0]) return slurmRunnerId(rows[0].base, options);
          const [line] = parseJobcomp(await jobcomp(), name);
          const base = line?.arrayJobId ?? line?.jobId;
          return base ? slurmRunnerId(base, options) : undefined;
        },
        submit: (name) =>
          submitScript({
            job,
            what: 'sbatch',
            scriptFile: SLURM_SCRIPT,
            script: renderScript({
              interpreter,
              prefix: '#SBATCH',
              directives: [`-J ${name}`, `--chdir=${job.directory}`, ...(options ? [options] : [])],
              body: spec.script,
            }),
            command: sbatchCommand(config, SLURM_SCRIPT, job.directory),
            run,
            parse: (result) => parseSbatch(result, options),
          }),
      });
    },

    async status(handles: readonly RunHandle[]) {
      const bases = [...new Set(handles.map((handle) => slurmBaseId(handle.id)))];
      const byBase = new Map<string, QueueRow[]>();
      for (let i = 0; i < bases.length; i += IDS_PER_QUERY) {
        for (const row of await queue(squeueCommand(config, bases.slice(i, i + IDS_PER_QUERY)))) {
          byBase.set(row.base, [...(byBase.get(row.base) ?? []), row]);
        }
      }
      // Pending again after a requeue counts as running: the same id runs once more.
      const queued = (handle: RunHandle) =>
        (byBase.get(slurmBaseId(handle.id)) ?? []).some((row) => !TERMINAL_STATES.has(row.state));
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles) if (queued(handle)) statuses.set(handle.id, { state: 'running' });
      const left = await statusesOfLeftRuns(
        lookups,
        handles.filter((handle) => !statuses.has(handle.id)),
        (handle, waiting) => `SLURM job ${slurmBaseId(handle.id)} ended without writing DONE; ${waiting}`,
        describeSlurmEnding,
      );
      return new Map([...statuses, ...left]);
    },

    cancel: (handle: RunHandle) =>
      cancelWith(run, scancelCommand(config, handle.id), (result) => parseScancel(result).ok),
  };
}
