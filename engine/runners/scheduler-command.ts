/**
 * A scheduler command as data, and what it printed: the SGE and SLURM
 * runners build commands and parse results with pure functions
 * (sge-commands.ts, slurm-commands.ts), and only `runCommand` touches a
 * process, so the parsers are tested on recorded output and the runners on a
 * fake scheduler.
 */
import { execa } from 'execa';
import { RunnerError } from '../../core/errors.js';

export interface SchedulerCommand {
  command: string;
  args: string[];
  cwd?: string;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** undefined when the command did not exit by itself (timed out, killed, not found). */
  exitCode: number | undefined;
  timedOut?: boolean;
}

export async function runCommand(
  { command, args, cwd }: SchedulerCommand,
  { env, timeoutMs = 60_000 }: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const result = await execa(command, args, {
    ...(env ? { env } : {}),
    ...(cwd ? { cwd } : {}),
    reject: false,
    timeout: timeoutMs,
  });
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  return {
    stdout,
    // A command that could not start (ENOENT) or was killed says so only in the message.
    stderr: stderr || (result.exitCode === undefined ? (result.message ?? '') : ''),
    exitCode: result.exitCode,
    ...(result.timedOut ? { timedOut: true } : {}),
  };
}

/** `qstat -xml -u x` on one line, for error messages. */
export function describeCommand({ command, args }: SchedulerCommand): string {
  return [command, ...args].map((word) => (/^[\w@%+=:,./|-]+$/.test(word) ? word : JSON.stringify(word))).join(' ');
}

/** What a failed command said, short and on one line. */
export function describeFailure(command: SchedulerCommand, result: CommandResult): string {
  const how = result.timedOut ? 'timed out' : `exit ${result.exitCode ?? 'none'}`;
  const said = (result.stderr || result.stdout).replace(/\s+/g, ' ').trim().slice(0, 300);
  return `${describeCommand(command)} failed (${how})${said ? `: ${said}` : ''}`;
}

/** Runs `each` over `items` with at most `limit` at a time. */
export async function mapLimit<T>(items: readonly T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Cancels a run with the scheduler's command (qdel, scancel); a refusal `accepted` does not take is an error. */
export async function cancelWith(
  run: (command: SchedulerCommand) => Promise<CommandResult>,
  command: SchedulerCommand,
  accepted: (result: CommandResult) => boolean,
): Promise<void> {
  const result = await run(command);
  if (!accepted(result)) throw new RunnerError(describeFailure(command, result));
}
