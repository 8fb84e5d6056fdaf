/**
 * Son of Grid Engine runner: writes `sge-script.sh`, submits it with `qsub
 * -terse`, and answers the status of every waiting run with one `qstat -xml`
 * per poll. Exit status and failure reason come from `qacct`, asked once per
 * finished job (never with an empty id: that dumps every job).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { ClusterScriptSpec } from '../../core/runner-spec.js';
import type { SgeConfig } from '../../core/config/index.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { arrayRange, clusterJobName, optionValue, renderScript } from './cluster-script.js';
import { readRecord, submitExactlyOnce } from './submission-record.js';
import { readJobStateFile } from './job-state-file.js';

export const SGE_SCRIPT = 'sge-script.sh';

interface QstatJob {
  number: string;
  name: string;
  state: string;
  tasks?: string;
}

/** `123.1-10:1` → `123`. */
export function sgeBaseId(id: string): string {
  return id.split('.')[0]!;
}

export function parseQstatXml(xml: string): QstatJob[] {
  const jobs: QstatJob[] = [];
  for (const block of xml.matchAll(/<job_list[^>]*>([\s\S]*?)<\/job_list>/g)) {
    const field = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block[1]!)?.[1];
    const number = field('JB_job_number');
    if (!number) continue;
    const tasks = field('tasks');
    jobs.push({ number, name: field('JB_name') ?? '', state: field('state') ?? '', ...(tasks ? { tasks } : {}) });
  }
  return jobs;
}

interface AccountingRecord {
  jobnumber: string;
  taskid: string;
  exitStatus: number;
  failed: string;
}

export function parseQacct(text: string): AccountingRecord[] {
  return text
    .split(/^=+$/m)
    .map((chunk) => {
      const field = (key: string) => new RegExp(`^${key}\\s+(.*?)\\s*$`, 'm').exec(chunk)?.[1];
      const jobnumber = field('jobnumber');
      if (!jobnumber) return undefined;
      return {
        jobnumber,
        taskid: field('taskid') ?? 'undefined',
        exitStatus: Number(field('exit_status') ?? 'NaN'),
        failed: field('failed') ?? '0',
      };
    })
    .filter((record): record is AccountingRecord => record !== undefined);
}

function describeRecord(record: AccountingRecord): string {
  const task = record.taskid !== 'undefined' ? ` task ${record.taskid}` : '';
  const signal =
    record.exitStatus > 128
      ? ` (killed by signal ${record.exitStatus - 128}${record.exitStatus === 137 ? ', e.g. by qdel' : ''})`
      : '';
  const failed = record.failed !== '0' ? `, failed ${record.failed}` : '';
  return `SGE job ${record.jobnumber}${task}: exit status ${record.exitStatus}${signal}${failed}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createSgeRunner(config: SgeConfig, { accountingWaitMs = 3000 } = {}): RunnerBackend<ClusterScriptSpec> {
  const env = {
    ...(config.sgeRoot ? { SGE_ROOT: config.sgeRoot } : {}),
    ...(config.sgeCell ? { SGE_CELL: config.sgeCell } : {}),
  };
  const run = (command: string, args: string[], cwd?: string) =>
    execa(command, args, { env, ...(cwd ? { cwd } : {}), reject: false, timeout: 60_000 });

  async function qstat(): Promise<QstatJob[]> {
    const result = await run(config.qstat, ['-xml', '-u', '*']);
    if (result.exitCode !== 0) {
      throw new RunnerError(`${config.qstat} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
    }
    return parseQstatXml(result.stdout);
  }

  /** qacct records for a job number or name; [] while accounting has not been flushed yet. */
  async function qacct(idOrName: string): Promise<AccountingRecord[]> {
    if (idOrName.trim() === '') throw new RunnerError('refusing to call qacct with an empty job id');
    const result = await run(config.qacct, ['-j', idOrName]);
    return result.exitCode === 0 ? parseQacct(result.stdout) : [];
  }

  /** Asks qacct by the run's unique name: job numbers repeat after a cell is reinstalled, names do not. */
  async function explain(handle: RunHandle): Promise<string | undefined> {
    const base = sgeBaseId(handle.id);
    const key = (await readRecord(handle.directory, 'sge', handle.cycle))?.name ?? base;
    const deadline = Date.now() + accountingWaitMs;
    let records = await qacct(key);
    while (records.length === 0 && Date.now() < deadline) {
      await sleep(250);
      records = await qacct(key);
    }
    if (records.length === 0) return `SGE job ${base} has no accounting record (qacct -j ${key})`;
    const bad = records.filter((record) => record.exitStatus !== 0 || record.failed !== '0');
    return bad.length > 0 ? bad.map(describeRecord).join('; ') : undefined;
  }

  return {
    name: 'SGE',
    kind: 'sge',
    pollIntervalMs: config.pollSeconds * 1000,

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
          return record ? withTasks(record.jobnumber) : undefined;
        },
        submit: async (name) => {
          const script = renderScript({
            interpreter,
            prefix: '#$',
            directives: [`-S ${interpreter}`, '-cwd', `-N ${name}`, ...(options ? [options] : [])],
            body: spec.script,
          });
          await fs.writeFile(path.join(job.directory, SGE_SCRIPT), script, { mode: 0o755 });
          const result = await run(config.qsub, ['-terse', SGE_SCRIPT], job.directory);
          if (result.exitCode !== 0) {
            const unreachable = /unable to (contact|send)|commlib error|timeout/i.test(result.stderr);
            const message = `qsub of ${SGE_SCRIPT} for job ${job.name} failed (exit ${result.exitCode}): ${result.stderr.trim()}`;
            throw unreachable ? new RunnerError(message) : new RunFailedError(message);
          }
          return result.stdout.trim().split('\n').pop()!.trim();
        },
      });
    },

    async status(handles: readonly RunHandle[]) {
      const present = new Set((await qstat()).map((job) => job.number));
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles) {
        const base = sgeBaseId(handle.id);
        if (present.has(base)) {
          statuses.set(handle.id, { state: 'running' });
          continue;
        }
        // A run that wrote DONE needs no post-mortem: skip qacct (and its flush delay).
        const done = (await readJobStateFile(handle.directory)) === 'DONE';
        const detail = done ? undefined : await explain(handle);
        statuses.set(handle.id, detail ? { state: 'finished', detail } : { state: 'finished' });
      }
      return statuses;
    },

    async cancel(handle: RunHandle) {
      const base = sgeBaseId(handle.id);
      const result = await run(config.qdel, [base]);
      if (result.exitCode !== 0 && !/does not exist/i.test(result.stderr + result.stdout)) {
        throw new RunnerError(`qdel ${base} failed: ${result.stderr.trim()}`);
      }
    },
  };
}
