/**
 * The single-node SGE and SLURM clusters brought up by scripts/cluster/.
 * In CI they must be up (.ci/run starts them); elsewhere a test file for a
 * cluster that is down, or any with SALIFLOW_SKIP_CLUSTERS=1, is skipped with the reason.
 */
import { execa } from 'execa';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

export type ClusterKind = 'sge' | 'slurm';

export interface ClusterUnderTest {
  kind: ClusterKind;
  /** The `[sge]` / `[slurm]` config section for a fixture. */
  section: Record<string, string>;
  env: Record<string, string>;
  /** Why it cannot be used, when it is down outside CI. */
  skip?: string;
}

async function clusterEnv(kind: ClusterKind): Promise<Record<string, string>> {
  const { stdout } = await execa('bash', [path.join(REPO_ROOT, 'scripts/cluster', `${kind}.sh`), 'env']);
  const env: Record<string, string> = {};
  for (const match of stdout.matchAll(/^export (\w+)=(.*)$/gm)) env[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  return env;
}

export async function clusterUnderTest(kind: ClusterKind, pollSeconds = 0.5): Promise<ClusterUnderTest> {
  const status = await execa('bash', [path.join(REPO_ROOT, 'scripts/cluster', `${kind}.sh`), 'status'], {
    reject: false,
  });
  const env = await clusterEnv(kind);
  const section: Record<string, string> =
    kind === 'sge'
      ? {
          qsub: env.SALIFLOW_SGE_QSUB!,
          qstat: env.SALIFLOW_SGE_QSTAT!,
          qacct: env.SALIFLOW_SGE_QACCT!,
          qdel: env.SALIFLOW_SGE_QDEL!,
          sge_root: env.SGE_ROOT!,
          sge_cell: env.SGE_CELL!,
          poll_seconds: String(pollSeconds),
        }
      : {
          sbatch: env.SALIFLOW_SLURM_SBATCH!,
          squeue: env.SALIFLOW_SLURM_SQUEUE!,
          scontrol: env.SALIFLOW_SLURM_SCONTROL!,
          scancel: env.SALIFLOW_SLURM_SCANCEL!,
          jobcomp: env.SALIFLOW_SLURM_JOBCOMP!,
          poll_seconds: String(pollSeconds),
        };
  // Asked to skip, skip: whether a cluster happens to be up is not the question.
  if (process.env.SALIFLOW_SKIP_CLUSTERS === '1') {
    return { kind, section, env, skip: `${kind} tests skipped (SALIFLOW_SKIP_CLUSTERS=1)` };
  }
  if (status.exitCode !== 0) {
    const reason = `${kind} cluster is down: ${status.stdout || status.stderr}`.trim();
    if (process.env.CI) throw new Error(`${reason} (.ci/run should have started it)`);
    return { kind, section, env, skip: reason };
  }
  return { kind, section, env };
}

/** Runs a scheduler command with the cluster's environment. */
export function schedulerCommand(cluster: ClusterUnderTest, command: string, args: string[]) {
  return execa(command, args, { env: cluster.env, reject: false });
}

/** Whether the scheduler still holds cluster job `id` (queued, running or finishing): false once it has ended. */
export async function schedulerStillHas(cluster: ClusterUnderTest, id: string): Promise<boolean> {
  const base = id.split(/[._]/)[0]!;
  if (cluster.kind === 'sge')
    return (await schedulerCommand(cluster, cluster.section.qstat!, ['-j', base])).exitCode === 0;
  const result = await schedulerCommand(cluster, cluster.section.squeue!, ['-h', '-j', base, '-o', '%T']);
  return result.stdout
    .split('\n')
    .some((state) => ['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING'].includes(state.trim()));
}
