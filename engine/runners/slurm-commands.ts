/**
 * Every SLURM command the SLURM runner runs or reads, as pure builders, and
 * pure parsers of what they print (tested on output recorded from a real
 * SLURM 22.05 in test/fixtures/slurm/, re-recorded by
 * scripts/cluster/record-fixtures.sh).
 */
import type { RunEnding } from './runner.js';
import type { CommandResult, SchedulerCommand } from './scheduler-command.js';
import { arrayRange, optionValue } from './cluster-script.js';
import { RunnerError } from '../../core/errors.js';

export interface SlurmCommands {
  sbatch: string;
  squeue: string;
  scontrol: string;
  scancel: string;
  sacct?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 300);

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

// States after which SLURM will not run the job (or task) again.
export const TERMINAL_STATES = new Set([
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

export const sbatchCommand = (c: SlurmCommands, script: string, cwd: string): SchedulerCommand => ({
  command: c.sbatch,
  args: ['--parsable', script],
  cwd,
});

const QUEUE_FORMAT = '%i|%F|%T|%j|%r';

/** The queue rows of these jobs only (ids are base ids; SLURM lists each array task). */
export function squeueCommand(c: SlurmCommands, ids: readonly string[]): SchedulerCommand {
  if (ids.length === 0)
    throw new RunnerError('squeue needs at least one job id (without -j it lists every user’s jobs)');
  return { command: c.squeue, args: ['-h', '-t', 'all', '-o', QUEUE_FORMAT, '-j', ids.join(',')] };
}

export const squeueByNameCommand = (c: SlurmCommands, name: string): SchedulerCommand => ({
  command: c.squeue,
  args: ['-h', '-t', 'all', '-o', QUEUE_FORMAT, '-n', name],
});

export const scontrolShowJobCommand = (c: SlurmCommands, id: string): SchedulerCommand => ({
  command: c.scontrol,
  args: ['-o', 'show', 'job', id],
});

export const scancelCommand = (c: SlurmCommands, id: string): SchedulerCommand => ({
  command: c.scancel,
  args: [slurmBaseId(id)],
});

export function sacctCommand(c: SlurmCommands, ids: readonly string[]): SchedulerCommand {
  if (!c.sacct) throw new RunnerError('no sacct configured');
  return {
    command: c.sacct,
    args: ['-n', '-P', '-j', ids.join(','), '-o', 'JobID,JobName,State,ExitCode,Reason,MaxRSS,ElapsedRaw'],
  };
}

/** sbatch --parsable prints the id; a refusal of the script is told apart from a passing fault. */
export function parseSbatch(
  result: CommandResult,
  options: string,
): { id: string } | { refused: string } | { unreachable: string } {
  const printed = result.stdout.trim().split('\n').pop()?.trim() ?? '';
  if (result.exitCode === 0 && /^\d+(;\S+)?$/.test(printed)) return { id: slurmRunnerId(printed, options) };
  const said = oneLine(result.stderr || result.stdout) || `no id printed (exit ${result.exitCode ?? 'none'})`;
  // sbatch refusing the script (bad option, partition) is the service's problem; anything
  // else (controller down, DNS, timeouts) is a passing fault, and may even have queued the job.
  const refusal =
    result.exitCode !== 0 &&
    /Batch job submission failed|unrecognized option|invalid option|invalid partition/i.test(said);
  return refusal ? { refused: said } : { unreachable: said };
}

export interface QueueRow {
  /** `%i`: job id, `123_4` for an array task, `123_[1-3]` for pending tasks. */
  id: string;
  /** `%F`: the array's job id, or the job id itself. */
  base: string;
  state: string;
  name: string;
  reason: string;
}

/**
 * squeue rows. "Invalid job id specified" is every asked id being unknown
 * to the controller (gone longer than MinJobAge): no rows, not an error.
 */
export function parseSqueue(result: CommandResult): Parsed<QueueRow[]> {
  if (result.exitCode !== 0) {
    if (/Invalid job id specified/i.test(result.stderr)) return { ok: true, value: [] };
    return { ok: false, error: oneLine(result.stderr || result.stdout) || `exit ${result.exitCode ?? 'none'}` };
  }
  const rows: QueueRow[] = [];
  for (const line of result.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split('|');
    const [id = '', base = '', state = '', name = '', reason = ''] = fields;
    if (fields.length !== 5 || !/^\d+/.test(id) || !/^\d+$/.test(base) || !/^[A-Z_]+/.test(state)) {
      return { ok: false, error: `not a squeue row: ${JSON.stringify(line.slice(0, 120))}` };
    }
    rows.push({ id, base, state: state.split(' ')[0]!, name, reason });
  }
  return { ok: true, value: rows };
}

/** `Key=value` fields of one scontrol/jobcomp line; anchored so `DerivedExitCode=` is not `ExitCode=`. */
function lineField(line: string, key: string): string | undefined {
  return new RegExp(`(?:^| )${key}=(\\S*)`).exec(line)?.[1];
}

/** `ExitCode=3:0` → exit 3, signal 0. */
function exitFields(code: string | undefined): Pick<RunEnding, 'exitCode' | 'signal'> {
  const match = /^(\d+):(\d+)$/.exec(code ?? '');
  if (!match) return {};
  const signal = Number(match[2]);
  return { exitCode: Number(match[1]), ...(signal ? { signal } : {}) };
}

/** `00:01:07`, `1-02:00:00` or `5` (minutes) → seconds; UNLIMITED and the like → undefined. */
export function parseSlurmDuration(text: string | undefined): number | undefined {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text ?? '');
  if (match)
    return Number(match[1] ?? 0) * 86400 + Number(match[2] ?? 0) * 3600 + Number(match[3]) * 60 + Number(match[4]);
  return /^\d+$/.test(text ?? '') ? Number(text) * 60 : undefined;
}

function endingFromLine(
  source: 'scontrol' | 'jobcomp',
  line: string,
): RunEnding & { name: string; arrayJobId?: string } {
  const task = lineField(line, 'ArrayTaskId');
  const arrayJobId = lineField(line, 'ArrayJobId');
  const reason = lineField(line, 'Reason');
  const state = lineField(line, 'JobState');
  const limit = parseSlurmDuration(lineField(line, 'TimeLimit'));
  const ran = parseSlurmDuration(lineField(line, 'RunTime'));
  return {
    source,
    jobId: lineField(line, 'JobId') ?? '',
    name: lineField(line, 'Name') ?? lineField(line, 'JobName') ?? '',
    ...(arrayJobId ? { arrayJobId } : {}),
    ...(task ? { task } : {}),
    ...(state ? { state } : {}),
    ...(reason && reason !== 'None' ? { reason } : {}),
    ...exitFields(lineField(line, 'ExitCode')),
    ...(ran !== undefined ? { wallclockSeconds: ran } : {}),
    ...(limit !== undefined ? { requestedWallclockSeconds: limit } : {}),
  };
}

/**
 * `scontrol -o show job ID`: one line per job (or array task). An unknown
 * id (ended longer than MinJobAge ago) is no record, not an error.
 */
export function parseScontrolJobs(result: CommandResult): Parsed<ReturnType<typeof endingFromLine>[]> {
  if (result.exitCode !== 0) {
    if (/Invalid job id specified/i.test(result.stderr)) return { ok: true, value: [] };
    return { ok: false, error: oneLine(result.stderr || result.stdout) || `exit ${result.exitCode ?? 'none'}` };
  }
  const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
  if (lines.some((line) => !/^JobId=\d+ /.test(line))) {
    return {
      ok: false,
      error: `not scontrol -o show job output: ${JSON.stringify(oneLine(result.stdout).slice(0, 120))}`,
    };
  }
  return { ok: true, value: lines.map((line) => endingFromLine('scontrol', line)) };
}

/** The jobcomp/filetxt lines of the run named `name` (its unique cluster job name). */
export function parseJobcomp(text: string, name: string): ReturnType<typeof endingFromLine>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('JobId=') && lineField(line, 'Name') === name)
    .map((line) => endingFromLine('jobcomp', line));
}

/** sacct -n -P: one row per job step; "accounting storage is disabled" is said plainly, not thrown. */
export function parseSacct(result: CommandResult): Parsed<RunEnding[]> | { ok: false; disabled: true; error: string } {
  const said = oneLine(result.stderr || result.stdout);
  if (/accounting storage is disabled/i.test(said)) return { ok: false, disabled: true, error: said };
  if (result.exitCode !== 0) return { ok: false, error: said || `exit ${result.exitCode ?? 'none'}` };
  const endings: RunEnding[] = [];
  for (const line of result.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [id = '', , state = '', exitCode = '', reason = ''] = line.split('|');
    // Steps (123.batch, 123.0) repeat the job's outcome; the job line is the one to read.
    if (id.includes('.')) continue;
    const [jobId = id, task] = id.split('_');
    endings.push({
      source: 'sacct',
      jobId,
      ...(task ? { task } : {}),
      state: state.split(' ')[0]!,
      ...(reason && reason !== 'None' ? { reason } : {}),
      ...exitFields(exitCode),
    });
  }
  return { ok: true, value: endings };
}

/** An ending that is not COMPLETED with 0:0, described for the job's failure text. */
export function describeSlurmEnding(ending: RunEnding): string | undefined {
  if (ending.state === 'COMPLETED' && !ending.exitCode && !ending.signal) return undefined;
  const meaning = ending.state === 'CANCELLED' ? ' (cancelled, e.g. by scancel)' : '';
  const reason = ending.reason ? ` Reason=${ending.reason}` : '';
  const code =
    ending.exitCode !== undefined
      ? ` ExitCode=${ending.exitCode}:${ending.signal ?? 0} (exit status ${ending.exitCode})`
      : '';
  return `SLURM job ${ending.jobId}: JobState=${ending.state ?? '?'}${meaning}${reason}${code}`;
}

/** scancel: an unknown or already ended job is fine for a cancel. */
export function parseScancel(result: CommandResult): Parsed<'cancelled' | 'absent'> {
  if (/Invalid job id|already completing or completed/i.test(result.stderr)) return { ok: true, value: 'absent' };
  if (result.exitCode === 0) return { ok: true, value: 'cancelled' };
  return { ok: false, error: oneLine(result.stderr || result.stdout) || `exit ${result.exitCode ?? 'none'}` };
}

/** Seconds as `D-HH:MM:SS` for `--time` (SLURM enforces whole minutes, rounding up). */
export function slurmDuration(seconds: number): string {
  const total = Math.ceil(seconds);
  const days = Math.floor(total / 86400);
  const two = (n: number) => String(n).padStart(2, '0');
  const clock = `${two(Math.floor((total % 86400) / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}

/**
 * The service's sbatch options with a retry's resources applied: `--time`
 * (or `-t`) and `--mem` (or `--mem-per-cpu`, when that is how the service asks)
 * already there get the new value, missing ones are added.
 */
export function slurmOptionsWithResources(
  options: string,
  resources: { memoryBytes?: number; wallclockSeconds?: number },
): string {
  let result = options;
  const set = (flags: readonly string[], value: string) => {
    for (const flag of flags) {
      const pattern = new RegExp(`((?:^|\\s)${flag}(?:=|\\s+))\\S+`);
      if (pattern.test(result)) {
        result = result.replace(pattern, `$1${value}`);
        return;
      }
    }
    result = `${result} ${flags[0]}=${value}`.trim();
  };
  if (resources.wallclockSeconds !== undefined) set(['--time', '-t'], slurmDuration(resources.wallclockSeconds));
  if (resources.memoryBytes !== undefined) {
    set(['--mem', '--mem-per-cpu'], `${Math.ceil(resources.memoryBytes / 1024 ** 2)}M`);
  }
  return result;
}

/** `500M`, `2G` or `1024` (MiB, SLURM's default unit) → bytes. */
function parseSlurmMemory(text: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text ?? '');
  if (!match) return undefined;
  return Math.round(Number(match[1]) * 1024 ** ' KMGT'.indexOf(match[2]!.toUpperCase() || 'M'));
}

/** The `--time` and `--mem` (or `--mem-per-cpu`) a job script's `#SBATCH` lines ask for. */
export function slurmScriptResources(script: string): { memoryBytes?: number; wallclockSeconds?: number } {
  const options = script
    .split('\n')
    .filter((line) => line.startsWith('#SBATCH '))
    .map((line) => line.slice('#SBATCH '.length))
    .join(' ');
  const time = parseSlurmDuration(optionValue(options, ['--time', '-t']));
  const memory = parseSlurmMemory(optionValue(options, ['--mem', '--mem-per-cpu']));
  return {
    ...(memory !== undefined ? { memoryBytes: memory } : {}),
    ...(time !== undefined ? { wallclockSeconds: time } : {}),
  };
}
