/**
 * Son of Grid Engine runner: writes `sge-script.sh`, submits it with `qsub
 * -terse`, and answers the status of every waiting run with one `qstat -xml`
 * of saliflow's own account per poll. How a run that left the queue ended
 * comes from `qacct`, looked up by the run's unique name outside the poll
 * (accounting-lookups.ts). Commands and parsers: sge-commands.ts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import type { SgeConfig } from '../../core/config/index.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { arrayRange, clusterJobName, optionValue, renderScript } from './cluster-script.js';
import { readRecord, submitExactlyOnce } from './submission-record.js';
import { readJobStateFile } from './job-state-file.js';
import { describeFailure, runCommand, type SchedulerCommand } from './scheduler-command.js';
import { createAccountingLookups } from './accounting-lookups.js';
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
  const lookups = createAccountingLookups(
    async (handle: RunHandle) => {
      const name = (await readRecord(handle.directory, 'sge', handle.cycle))?.name ?? sgeBaseId(handle.id);
      const records = await qacct(name);
      return records.length > 0 ? records : undefined;
    },
    {
      ...(options.accountingWaitMs !== undefined ? { waitMs: options.accountingWaitMs } : {}),
      ...(options.accountingConcurrency !== undefined ? { concurrency: options.accountingConcurrency } : {}),
    },
  );

  return {
    name: 'SGE',
    kind: 'sge',
    pollIntervalMs: config.pollSeconds * 1000,
    unknownGraceMs: config.unknownGraceSeconds * 1000,

    async submit(job: RunJob, spec: ClusterScriptSpec) {
      const options = spec.options ?? '';
      const interpreter = spec.interpreter ?? '/bin/sh';
      const arraySpec = optionValue(options, ['-t']);
      const withTasks = (number: string) => (arraySpec ? `${number}.${arrayRange(arraySpec)}` : number);
      return submitExactlyOnce({
        kind: 'sge',
        directory: job.directory,
        cycle: job.cycle,
        baseName: clusterJobName(spec.name ?? job.name),
        findByName: async (name) => {
          const queued = (await qstat()).find((candidate) => candidate.name === name);
          if (queued) return withTasks(queued.number);
          const [record] = await qacct(name);
          return record ? withTasks(record.jobId) : undefined;
        },
        submit: async (name) => {
          const script = renderScript({
            interpreter,
            prefix: '#$',
            directives: [`-S ${interpreter}`, '-cwd', `-N ${name}`, ...(options ? [options] : [])],
            body: spec.script,
          });
          await fs.writeFile(path.join(job.directory, SGE_SCRIPT), script, { mode: 0o755 });
          const command = qsubCommand(config, SGE_SCRIPT, job.directory);
          const result = await run(command);
          const parsed = parseQsub(result);
          if ('id' in parsed) return parsed.id;
          const message = `qsub of ${SGE_SCRIPT} for job ${job.name}: ${describeFailure(command, result)}`;
          // A passing fault is retried, and the retry looks for the job by name first: qsub may have queued it.
          throw 'refused' in parsed ? new RunFailedError(message) : new RunnerError(message);
        },
      });
    },

    async status(handles: readonly RunHandle[]) {
      const present = new Set((await qstat()).map((job) => job.number));
      const statuses = new Map<string, RunStatus>();
      const gone: RunHandle[] = [];
      for (const handle of handles) {
        if (present.has(sgeBaseId(handle.id))) statuses.set(handle.id, { state: 'running' });
        // A run that wrote DONE needs no post-mortem: no qacct (and no wait for its flush).
        else if ((await readJobStateFile(handle.directory)) === 'DONE') statuses.set(handle.id, { state: 'finished' });
        else gone.push(handle);
      }
      for (const [handle, answer] of await lookups.answers(gone)) {
        if ('waiting' in answer) {
          const reason = `SGE job ${sgeBaseId(handle.id)} left the queue without writing DONE; ${answer.waiting}`;
          statuses.set(handle.id, { state: 'unknown', reason });
          continue;
        }
        const detail = answer.found.map(describeQacct).filter(Boolean).join('; ');
        statuses.set(handle.id, { state: 'finished', endings: answer.found, ...(detail ? { detail } : {}) });
      }
      return statuses;
    },

    async cancel(handle: RunHandle) {
      const command = qdelCommand(config, handle.id);
      const result = await run(command);
      const parsed = parseQdel(result);
      if (!parsed.ok) throw new RunnerError(describeFailure(command, result));
    },
  };
}
