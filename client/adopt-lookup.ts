/**
 * Finding the run of a RUNNING job whose runner_id saliweb never wrote (it
 * commits RUNNING before it submits): queued or running cluster jobs named
 * as saliweb names them (the job's name, sanitised as for `-N`/`-J`). Only
 * SGE and SLURM can be asked by name; a local process or a web-service
 * run cannot, and is left for the operator.
 */
import { execa } from 'execa';
import type { ServiceConfig } from '../core/config/index.js';
import { RunnerError } from '../core/errors.js';
import { clusterJobName } from '../engine/runners/cluster-script.js';
import { parseQstatXml } from '../engine/runners/sge-commands.js';

/** saliweb-style runner ids (`SGE:12`, `SLURM:34`) of the live cluster jobs named for `job`. */
export async function findRunsByName(config: ServiceConfig, job: string): Promise<string[]> {
  const name = clusterJobName(job);
  const found: string[] = [];
  const { sge, slurm } = config.clusters;
  if (sge) {
    const env = {
      ...(sge.sgeRoot ? { SGE_ROOT: sge.sgeRoot } : {}),
      ...(sge.sgeCell ? { SGE_CELL: sge.sgeCell } : {}),
    };
    const result = await execa(sge.qstat, ['-xml', '-u', '*'], { env, reject: false, timeout: 60_000 });
    const parsed = parseQstatXml({
      exitCode: result.exitCode,
      stdout: result.stdout,
      stderr: result.stderr,
      timedOut: result.timedOut,
    });
    if (!parsed.ok) throw new RunnerError(`${sge.qstat} -xml: ${parsed.error}`);
    for (const queued of parsed.value) if (queued.name === name) found.push(`SGE:${queued.number}`);
  }
  if (slurm) {
    const result = await execa(slurm.squeue, ['-h', '-n', name, '-o', '%F'], { reject: false, timeout: 60_000 });
    if (result.exitCode !== 0) throw new RunnerError(`${slurm.squeue} failed: ${result.stderr.trim()}`);
    for (const id of new Set(result.stdout.split('\n').filter(Boolean))) found.push(`SLURM:${id.trim()}`);
  }
  return [...new Set(found)];
}
