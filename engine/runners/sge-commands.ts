/**
 * Every Son of Grid Engine command the SGE runner runs, as pure builders,
 * and pure parsers of what they print (tested on output recorded from a real
 * SGE 8.1.9 in test/fixtures/sge/, re-recorded by
 * scripts/cluster/record-fixtures.sh).
 */
import type { RunEnding } from './runner.js';
import type { CommandResult, SchedulerCommand } from './scheduler-command.js';
import { RunnerError } from '../../core/errors.js';

export interface SgeCommands {
  qsub: string;
  qstat: string;
  qacct: string;
  qdel: string;
}

/** `123.1-10:1` → `123`. */
export function sgeBaseId(id: string): string {
  return id.split('.')[0]!;
}

/**
 * saliweb submits with `-w n -b no`: no verification of the `-l` requests
 * against the cell (a site's resources may be unknown to the submit host's
 * view), and the script is a script, never a binary. On the command line,
 * they override the same options in the script.
 */
export const qsubCommand = (c: SgeCommands, script: string, cwd: string): SchedulerCommand => ({
  command: c.qsub,
  args: ['-terse', '-w', 'n', '-b', 'no', script],
  cwd,
});

/**
 * Lists the jobs of one user: qstat cannot select by job id in its list
 * form, so saliflow's runs are named by the account that submitted them.
 */
export const qstatCommand = (c: SgeCommands, user: string): SchedulerCommand => ({
  command: c.qstat,
  args: ['-xml', '-u', user],
});

export function qacctCommand(c: SgeCommands, idOrName: string): SchedulerCommand {
  // `qacct -j ""` dumps every job the cell ever ran.
  if (idOrName.trim() === '') throw new RunnerError('refusing to build qacct -j with an empty job id or name');
  return { command: c.qacct, args: ['-j', idOrName] };
}

export const qdelCommand = (c: SgeCommands, id: string): SchedulerCommand => ({
  command: c.qdel,
  args: [sgeBaseId(id)],
});

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 300);

/** qsub -terse prints the id (`7`, or `7.1-3:1` for an array). */
export function parseQsub(result: CommandResult): { id: string } | { refused: string } | { unreachable: string } {
  const id = result.stdout.trim().split('\n').pop()?.trim() ?? '';
  if (result.exitCode === 0 && /^\d+(\.\d+-\d+:\d+)?$/.test(id)) return { id };
  const said = oneLine(result.stderr || result.stdout) || `no id printed (exit ${result.exitCode ?? 'none'})`;
  // Refusals name the job's own problem (resource, queue, option); anything
  // about reaching or initialising the cell may pass.
  const unreachable =
    result.exitCode !== 0 &&
    (result.timedOut ||
      result.exitCode === undefined ||
      /unable to (contact|send|initialize)|commlib error|timeout|timed out|cell directory|can't connect/i.test(said));
  return unreachable || result.exitCode === 0 ? { unreachable: said } : { refused: said };
}

export interface QstatJob {
  number: string;
  name: string;
  owner: string;
  /** qstat's state letters: `r`, `t`, `qw`, `hqw`, `Eqw`, `dr`, … */
  state: string;
  /** The task range (pending array) or task number (running task). */
  tasks?: string;
}

/** The jobs in `qstat -xml` output; an error when the command failed or the document is not whole. */
export function parseQstatXml(result: CommandResult): Parsed<QstatJob[]> {
  if (result.exitCode !== 0) return { ok: false, error: oneLine(result.stderr || result.stdout) || 'no output' };
  const xml = result.stdout.trim();
  // A reply cut short would silently drop the jobs after the cut.
  if (!xml.startsWith('<?xml') || !/<\/job_info>$/.test(xml)) {
    return { ok: false, error: `not a whole qstat -xml document: ${JSON.stringify(oneLine(xml).slice(0, 120))}` };
  }
  const jobs: QstatJob[] = [];
  for (const block of xml.matchAll(/<job_list[^>]*>([\s\S]*?)<\/job_list>/g)) {
    const field = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block[1]!)?.[1];
    const number = field('JB_job_number');
    if (!number || !/^\d+$/.test(number)) return { ok: false, error: `a job_list without a job number in qstat -xml` };
    const tasks = field('tasks');
    jobs.push({
      number,
      name: field('JB_name') ?? '',
      owner: field('JB_owner') ?? '',
      state: field('state') ?? '',
      ...(tasks ? { tasks } : {}),
    });
  }
  return { ok: true, value: jobs };
}

export interface QacctRecord extends RunEnding {
  source: 'qacct';
  jobName: string;
}

/** `3.434MB` → bytes (qacct's units are powers of 1024). */
export function parseSgeMemory(text: string): number | undefined {
  const match = /^([\d.]+)\s*([KMGTP]?)B?$/i.exec(text.trim());
  if (!match) return undefined;
  const power = ' KMGTP'.indexOf(match[2]!.toUpperCase() || ' ');
  return Math.round(Number(match[1]) * 1024 ** power);
}

/** `2`, `0:0:2` or `1:00:00` → seconds. */
export function parseSgeTime(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const match = /^(\d+):(\d+):(\d+)$/.exec(text);
  return match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : undefined;
}

/** The `h_rt` and `h_vmem` a job asked for, from qacct's `category` (`-l h_rt=2,h_vmem=1G`). */
export function requestedLimits(
  category: string,
): Pick<QacctRecord, 'requestedWallclockSeconds' | 'requestedMemoryBytes'> {
  const resource = (name: string) => new RegExp(`(?:^|[\\s,])${name}=([^\\s,]+)`).exec(category)?.[1];
  const time = parseSgeTime(resource('h_rt') ?? '');
  const memory = parseSgeMemory(resource('h_vmem') ?? '');
  return {
    ...(time !== undefined ? { requestedWallclockSeconds: time } : {}),
    ...(memory !== undefined ? { requestedMemoryBytes: memory } : {}),
  };
}

/**
 * The records of `qacct -j`: one per job or array task. "not found" is no
 * record yet (accounting is flushed a moment after a job ends), not an error.
 */
export function parseQacct(result: CommandResult): Parsed<QacctRecord[]> {
  if (result.exitCode !== 0) {
    if (/not found/i.test(result.stderr)) return { ok: true, value: [] };
    return { ok: false, error: oneLine(result.stderr || result.stdout) || `exit ${result.exitCode ?? 'none'}` };
  }
  const records: QacctRecord[] = [];
  for (const chunk of result.stdout.split(/^=+$/m)) {
    const field = (key: string) => new RegExp(`^${key}\\s+(.*?)\\s*$`, 'm').exec(chunk)?.[1];
    const jobId = field('jobnumber');
    if (!jobId) continue;
    const exit = /^(\d+)/.exec(field('exit_status') ?? '');
    const failed = /^(\d+)\s*(?::\s*(.*))?$/.exec(field('failed') ?? '');
    const task = field('taskid');
    const wallclock = /^([\d.]+)/.exec(field('ru_wallclock') ?? '');
    const maxvmem = parseSgeMemory(field('maxvmem') ?? '');
    const exitCode = exit ? Number(exit[1]) : undefined;
    records.push({
      source: 'qacct',
      jobId,
      jobName: field('jobname') ?? '',
      ...(task && task !== 'undefined' ? { task } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
      ...(exitCode !== undefined && exitCode > 128 ? { signal: exitCode - 128 } : {}),
      ...(failed ? { failedCode: Number(failed[1]), ...(failed[2] ? { failedText: failed[2].trim() } : {}) } : {}),
      ...(maxvmem !== undefined ? { maxVmemBytes: maxvmem } : {}),
      ...(wallclock ? { wallclockSeconds: Number(wallclock[1]) } : {}),
      ...requestedLimits(field('category') ?? ''),
    });
  }
  if (records.length === 0 && result.stdout.trim() !== '') {
    return {
      ok: false,
      error: `no job record in qacct output: ${JSON.stringify(oneLine(result.stdout).slice(0, 120))}`,
    };
  }
  return { ok: true, value: records };
}

/** A record that is not a clean exit 0, described for the job's failure text. */
export function describeQacct(record: QacctRecord): string | undefined {
  if (record.exitCode === 0 && !record.failedCode) return undefined;
  const task = record.task ? ` task ${record.task}` : '';
  const signal = record.signal
    ? ` (killed by signal ${record.signal}${record.signal === 9 ? ', e.g. by qdel' : ''})`
    : '';
  const failed = record.failedCode
    ? `, failed ${record.failedCode}${record.failedText ? ` : ${record.failedText}` : ''}`
    : '';
  return `SGE job ${record.jobId}${task}: exit status ${record.exitCode ?? '?'}${signal}${failed}`;
}

/** qdel: deleted, or already gone (both fine for a cancel); anything else is an error. */
export function parseQdel(result: CommandResult): Parsed<'deleted' | 'absent'> {
  const said = `${result.stdout}\n${result.stderr}`;
  if (/does not exist/i.test(said)) return { ok: true, value: 'absent' };
  if (result.exitCode === 0) return { ok: true, value: 'deleted' };
  return { ok: false, error: oneLine(said) || `exit ${result.exitCode ?? 'none'}` };
}

/** Seconds for `-l h_rt=` (SGE takes plain seconds). */
const sgeSeconds = (seconds: number) => String(Math.ceil(seconds));
/** Bytes as whole MiB for `-l h_vmem=` (rounded up, so a retry never asks for less). */
const sgeMemory = (bytes: number) => `${Math.ceil(bytes / 1024 ** 2)}M`;

/**
 * The service's qsub options with a retry's resources applied: an `h_rt`
 * or `h_vmem` (or `mem_free` when that is how the service asks for memory)
 * already there gets the new value, a missing one is added with `-l`.
 */
export function sgeOptionsWithResources(
  options: string,
  resources: { memoryBytes?: number; wallclockSeconds?: number },
): string {
  let result = options;
  const added: string[] = [];
  const set = (names: readonly string[], value: string) => {
    for (const name of names) {
      const pattern = new RegExp(`((?:^|[\\s,])${name}=)[^\\s,]+`);
      if (pattern.test(result)) {
        result = result.replace(pattern, `$1${value}`);
        return;
      }
    }
    added.push(`${names[0]}=${value}`);
  };
  if (resources.wallclockSeconds !== undefined) set(['h_rt'], sgeSeconds(resources.wallclockSeconds));
  if (resources.memoryBytes !== undefined) set(['h_vmem', 'mem_free'], sgeMemory(resources.memoryBytes));
  return added.length > 0 ? `${result} -l ${added.join(',')}`.trim() : result;
}

/** The `h_rt` and `h_vmem` (or `mem_free`) a job script's `#$` lines ask for. */
export function sgeScriptResources(script: string): { memoryBytes?: number; wallclockSeconds?: number } {
  const requests = script
    .split('\n')
    .filter((line) => line.startsWith('#$ '))
    .flatMap((line) => [...line.matchAll(/(?:^|\s)-l\s+(\S+)/g)].map((match) => match[1]!))
    .join(',');
  const resource = (name: string) => new RegExp(`(?:^|,)${name}=([^,]+)`).exec(requests)?.[1];
  const time = parseSgeTime(resource('h_rt') ?? '');
  const memory = parseSgeMemory(resource('h_vmem') ?? resource('mem_free') ?? '');
  return {
    ...(memory !== undefined ? { memoryBytes: memory } : {}),
    ...(time !== undefined ? { wallclockSeconds: time } : {}),
  };
}
