/**
 * Submitting a cluster script, alike for SGE and SLURM: the script is written
 * into the job directory (an admin can resubmit it by hand), then the
 * scheduler's submit command runs there.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import type { RunJob } from './runner.js';
import { describeFailure, type CommandResult, type SchedulerCommand } from './scheduler-command.js';
import { clusterJobName, takeJobName } from './cluster-script.js';
import { submitExactlyOnce, type ExactlyOnce } from './submission-record.js';
import { removeJobStateFile } from './job-state-file.js';

/**
 * The spec's scheduler options (without a job name: takeJobName), interpreter and cluster job name, with their
 * defaults. saliweb writes `-N name` after the options, so the spec's `name` wins over one in the options.
 */
export function scriptSettings(
  spec: ClusterScriptSpec,
  job: RunJob,
): { options: string; interpreter: string; baseName: string } {
  const { options, name } = takeJobName(spec.kind, spec.options ?? '');
  return {
    options,
    interpreter: spec.interpreter ?? '/bin/sh',
    baseName: clusterJobName(spec.name ?? name ?? job.name),
  };
}

/** The job's cycle submitted once under its cluster name (submission-record.ts), however often this is called. */
export function submitJobOnce(
  kind: 'sge' | 'slurm',
  job: RunJob,
  baseName: string,
  scheduler: Pick<ExactlyOnce, 'findByName' | 'submit'>,
): Promise<string> {
  return submitExactlyOnce({ kind, directory: job.directory, cycle: job.cycle, baseName, ...scheduler });
}

export interface ScriptSubmission {
  job: RunJob;
  /** `qsub`, `sbatch`: how the error names the step. */
  what: string;
  scriptFile: string;
  script: string;
  command: SchedulerCommand;
  run: (command: SchedulerCommand) => Promise<CommandResult>;
  parse: (result: CommandResult) => { id: string } | { refused: string } | { unreachable: string };
}

/**
 * The scheduler's id for the submitted script. A refusal is final (RunFailedError); any other failure passes
 * (RunnerError) and is retried, and the retry looks for the job by name first: the scheduler may have queued it
 * before reporting the error.
 */
export async function submitScript({ job, what, scriptFile, script, command, run, parse }: ScriptSubmission) {
  await fs.writeFile(path.join(job.directory, scriptFile), script, { mode: 0o755 });
  // Only reached when no job of this run's name exists (submitExactlyOnce): nothing of this run wrote it yet.
  await removeJobStateFile(job.directory);
  const result = await run(command);
  const parsed = parse(result);
  if ('id' in parsed) return parsed.id;
  const message = `${what} of ${scriptFile} for job ${job.name}: ${describeFailure(command, result)}`;
  throw 'refused' in parsed ? new RunFailedError(message) : new RunnerError(message);
}
