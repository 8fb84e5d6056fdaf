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
import { clusterJobName } from './cluster-script.js';
import { submitExactlyOnce, type ExactlyOnce } from './submission-record.js';

/** The spec's scheduler options and interpreter, with their defaults. */
export function scriptSettings(spec: ClusterScriptSpec): { options: string; interpreter: string } {
  return { options: spec.options ?? '', interpreter: spec.interpreter ?? '/bin/sh' };
}

/** The job's cycle submitted once under its cluster name (submission-record.ts), however often this is called. */
export function submitJobOnce(
  kind: 'sge' | 'slurm',
  job: RunJob,
  spec: ClusterScriptSpec,
  scheduler: Pick<ExactlyOnce, 'findByName' | 'submit'>,
): Promise<string> {
  const baseName = clusterJobName(spec.name ?? job.name);
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
  const result = await run(command);
  const parsed = parse(result);
  if ('id' in parsed) return parsed.id;
  const message = `${what} of ${scriptFile} for job ${job.name}: ${describeFailure(command, result)}`;
  throw 'refused' in parsed ? new RunFailedError(message) : new RunnerError(message);
}
