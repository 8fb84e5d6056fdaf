/**
 * Son of Grid Engine runner: writes `sge-script.sh`, submits it with `qsub
 * -terse`, and answers the status of every waiting run with one `qstat -xml`
 * of saliflow's own account per poll. How a run that left the queue ended
 * comes from `qacct`, looked up by the run's unique name outside the poll
 * (accounting-lookups.ts). Commands and parsers: sge-commands.ts.
 */
import os from 'node:os';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import type { SgeConfig } from '../../core/config/index.js';
import { RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { arrayRange, optionValue, renderScript } from './cluster-script.js';
import { readRecord } from './submission-record.js';
import { submitJobOnce, submitScript, scriptSettings } from './script-submission.js';
import { cancelWith, describeFailure, runCommand, type SchedulerCommand } from './scheduler-command.js';
import { createAccountingLookups, statusesOfLeftRuns } from './accounting-lookups.js';
import { clusterPolling } from './status-poller.js';
import {
  describeQacct,
  parseQacct,
  parseQdel,
  parseQstatXml,
  parseQsub,
  qacctCommand,
  qdelCommand,
  qstatCommand,
  qsubCommand,
  sgeBaseId,
  type QacctRecord,
  type QstatJob,
} from './sge-commands.js';

export { sgeBaseId } from './sge-commands.js';

export const SGE_SCRIPT = 'sge-script.sh';

export interface SgeRunnerOptions {
  /** The account whose jobs qstat lists: the one saliflow submits as. @defaultValue the worker's user */
  user?: string;
  /** How long a poll waits for new accounting lookups before answering. @defaultValue 300 ms */
  accountingWaitMs?: number;
  /** Accounting lookups at once. @defaultValue 4 */
  accountingConcurrency?: number;
  /** A scheduler command taking longer is a failed query. @defaultValue 60 s */
  commandTimeoutMs?: number;
}

/** The worker's account; every user's jobs (`*`) only when it has no name (a uid without a passwd entry). */
function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '*';
  }
}

export function createSgeRunner(config: SgeConfig, options: SgeRunnerOptions = {}): RunnerBackend<ClusterScriptSpec> {
  const { user = currentUser(), commandTimeoutMs = 60_000 } = options;
  const env = {
    ...(config.sgeRoot ? { SGE_ROOT: config.sgeRoot } : {}),
    ...(config.sgeCell ? { SGE_CELL: config.sgeCell } : {}),
  };
  const run = (command: SchedulerCommand) => runCommand(command, { env, timeoutMs: commandTimeoutMs });

  async function qstat(): Promise<QstatJob[]> {
    const command = qstatCommand(config, user);
    const result = await run(command);
    const parsed = parseQstatXml(result);
    if (!parsed.ok) throw new RunnerError(`${describeFailure(command, result)}; ${parsed.error}`);
    return parsed.value;
  }

  /** qacct records for a job number or name; [] while accounting has not been flushed yet. */
  async function qacct(idOrName: string): Promise<QacctRecord[]> {
    const command = qacctCommand(config, idOrName);
    const result = await run(command);
    const parsed = parseQacct(result);
    if (!parsed.ok) throw new RunnerError(`${describeFailure(command, result)}; ${parsed.error}`);
    return parsed.value;
  }

  // By the run's unique name: job numbers repeat after a cell is reinstalled, names do not.
  const lookups = createAccountingLookups(async (handle: RunHandle) => {
    const name = (await readRecord(handle.directory, 'sge', handle.cycle))?.name ?? sgeBaseId(handle.id);
    const records = await qacct(name);
    return records.length > 0 ? records : undefined;
  }, options);

  return {
    ...clusterPolling('SGE', 'sge' as const, config),

    async submit(job: RunJob, spec: ClusterScriptSpec) {
      const { options, interpreter, baseName } = scriptSettings(spec, job);
      const arraySpec = optionValue(options, ['-t']);
      const withTasks = (number: string) => (arraySpec ? `${number}.${arrayRange(arraySpec)}` : number);
      return submitJobOnce('sge', job, baseName, {
        findByName: async (name) => {
          const queued = (await qstat()).find((candidate) => candidate.name === name);
          if (queued) return withTasks(queued.number);
          const [record] = await qacct(name);
          return record ? withTasks(record.jobId) : undefined;
        },
        submit: (name) =>
          submitScript({
            job,
            what: 'qsub',
            scriptFile: SGE_SCRIPT,
            script: renderScript({
              interpreter,
              prefix: '#$',
              directives: [`-S ${interpreter}`, '-cwd', `-N ${name}`, ...(options ? [options] : [])],
              body: spec.script,
            }),
            command: qsubCommand(config, SGE_SCRIPT, job.directory),
            run,
            parse: parseQsub,
          }),
      });
    },

    async status(handles: readonly RunHandle[]) {
      const present = new Set((await qstat()).map((job) => job.number));
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles)
        if (present.has(sgeBaseId(handle.id))) statuses.set(handle.id, { state: 'running' });
      const left = await statusesOfLeftRuns(
        lookups,
        handles.filter((handle) => !statuses.has(handle.id)),
        (handle, waiting) => `SGE job ${sgeBaseId(handle.id)} left the queue without writing DONE; ${waiting}`,
        describeQacct,
      );
      return new Map([...statuses, ...left]);
    },

    cancel: (handle: RunHandle) => cancelWith(run, qdelCommand(config, handle.id), (result) => parseQdel(result).ok),
  };
}
