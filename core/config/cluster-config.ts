/**
 * `[sge]` and `[slurm]`, saliflow's own sections: where the scheduler's
 * commands are and how often to ask it. A cluster is configured when its
 * section exists (or, for the dev stack, its SALIFLOW_SGE_* /
 * SALIFLOW_SLURM_* variables as `scripts/cluster/*.sh env` prints them).
 */
import { envString } from './env.js';
import type { SectionReader } from './section-reader.js';

export interface SgeConfig {
  qsub: string;
  qstat: string;
  qacct: string;
  qdel: string;
  /** Passed to the commands as SGE_ROOT / SGE_CELL when set. */
  sgeRoot?: string;
  sgeCell?: string;
  /** @defaultValue 5 */
  pollSeconds: number;
  /** How long a run no queue, job-state file or accounting can place is waited for before it is `vanished`. @defaultValue 600 */
  unknownGraceSeconds: number;
}

export interface SlurmConfig {
  sbatch: string;
  squeue: string;
  scontrol: string;
  scancel: string;
  /** The `JobCompLoc` file of `jobcomp/filetxt`: exit codes without slurmdbd. */
  jobcomp?: string;
  /** @defaultValue 5 */
  pollSeconds: number;
  /** As for SGE. @defaultValue 600 */
  unknownGraceSeconds: number;
}

export interface ClustersConfig {
  sge?: SgeConfig;
  slurm?: SlurmConfig;
}

export const SGE_KEYS = [
  'qsub',
  'qstat',
  'qacct',
  'qdel',
  'sge_root',
  'sge_cell',
  'poll_seconds',
  'unknown_grace_seconds',
] as const;
export const SLURM_KEYS = [
  'sbatch',
  'squeue',
  'scontrol',
  'scancel',
  'jobcomp',
  'poll_seconds',
  'unknown_grace_seconds',
] as const;

/** Accounting flushed late (qacct), a slurmctld restart: ten minutes covers what was seen here many times over. */
const DEFAULT_UNKNOWN_GRACE_SECONDS = 600;

function value(section: SectionReader, env: NodeJS.ProcessEnv, key: string, envName: string): string | undefined {
  return envString(env, envName) ?? section.optional(key);
}

export function readSgeConfig(section: SectionReader, env: NodeJS.ProcessEnv): SgeConfig | undefined {
  if (!section.exists && envString(env, 'SALIFLOW_SGE_QSUB') === undefined) return undefined;
  const sgeRoot = envString(env, 'SGE_ROOT') ?? section.optional('sge_root');
  const sgeCell = envString(env, 'SGE_CELL') ?? section.optional('sge_cell');
  return {
    ...commandPaths(section, env, 'SGE', ['qsub', 'qstat', 'qacct', 'qdel']),
    ...(sgeRoot !== undefined ? { sgeRoot } : {}),
    ...(sgeCell !== undefined ? { sgeCell } : {}),
    ...pollSettings(section),
  };
}

/** Each scheduler command: its key in the section, else `SALIFLOW_<CLUSTER>_<KEY>`, else the command's own name. */
function commandPaths<Name extends string>(
  section: SectionReader,
  env: NodeJS.ProcessEnv,
  cluster: 'SGE' | 'SLURM',
  names: readonly Name[],
): Record<Name, string> {
  const path = (name: Name) => value(section, env, name, `SALIFLOW_${cluster}_${name.toUpperCase()}`) ?? name;
  return Object.fromEntries(names.map((name) => [name, path(name)])) as Record<Name, string>;
}

/** `poll_seconds` and `unknown_grace_seconds`, read alike for every cluster. */
function pollSettings(section: SectionReader) {
  return {
    pollSeconds: section.positiveNumber('poll_seconds') ?? 5,
    unknownGraceSeconds: section.positiveNumber('unknown_grace_seconds') ?? DEFAULT_UNKNOWN_GRACE_SECONDS,
  };
}

export function readSlurmConfig(section: SectionReader, env: NodeJS.ProcessEnv): SlurmConfig | undefined {
  if (!section.exists && envString(env, 'SALIFLOW_SLURM_SBATCH') === undefined) return undefined;
  const jobcomp = value(section, env, 'jobcomp', 'SALIFLOW_SLURM_JOBCOMP');
  return {
    ...commandPaths(section, env, 'SLURM', ['sbatch', 'squeue', 'scontrol', 'scancel']),
    ...(jobcomp !== undefined ? { jobcomp } : {}),
    ...pollSettings(section),
  };
}
