/** The runner backends a worker offers, keyed by spec kind. */
import type { RunnerKind, RunnerSpec } from '../../core/runner-spec.js';
import { RunnerError } from '../../core/errors.js';
import type { RunnerBackend } from './runner.js';
import { createDoNothingRunner } from './do-nothing.js';
import { createLocalRunner } from './local.js';
import { createSgeRunner } from './sge.js';
import { createSlurmRunner } from './slurm.js';
import { createWebServiceRunner } from './web-service.js';
import type { ClustersConfig } from '../../core/config/index.js';

export type RunnerRegistry = Partial<Record<RunnerKind, RunnerBackend>>;

/** Do-nothing, local and web service always; SGE and SLURM when the config has their sections. */
export function defaultRunners(
  clusters: ClustersConfig = {},
  options: { localPollIntervalMs?: number; hostId?: string } = {},
): RunnerRegistry {
  return {
    'do-nothing': createDoNothingRunner() as RunnerBackend,
    local: createLocalRunner({
      pollIntervalMs: options.localPollIntervalMs ?? 1000,
      ...(options.hostId ? { hostId: options.hostId } : {}),
    }) as RunnerBackend,
    'web-service': createWebServiceRunner() as RunnerBackend,
    ...(clusters.sge ? { sge: createSgeRunner(clusters.sge) as RunnerBackend } : {}),
    ...(clusters.slurm ? { slurm: createSlurmRunner(clusters.slurm) as RunnerBackend } : {}),
  };
}

export function runnerFor(registry: RunnerRegistry, spec: RunnerSpec | RunnerKind): RunnerBackend {
  const kind = typeof spec === 'string' ? spec : spec.kind;
  const backend = registry[kind];
  if (!backend) {
    throw new RunnerError(`this worker has no "${kind}" runner configured; add its section to the service config`);
  }
  return backend;
}

export type { RunnerBackend, RunHandle, RunJob, RunStatus } from './runner.js';
