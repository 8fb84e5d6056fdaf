/** Child processes and ports for tests that kill workers or need a free port. */
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { MALLOC_TUNING } from '../../worker/malloc-tuning.js';
import { until } from './until.js';

export interface WorkerProcessOptions {
  /**
   * Run what `saliflow worker` runs (consistency check, Schedules, frontend
   * socket, production timings) instead of the bare Temporal worker.
   */
  asSaliflowWorker?: boolean;
}

/**
 * A worker in a process of its own (test/support/worker-process.ts) for the
 * service module `test/support/services/<service>.ts`, so a test can SIGKILL it.
 */
export function spawnWorkerProcess(
  configFile: string,
  service: string,
  env: Record<string, string> = {},
  options: WorkerProcessOptions = {},
) {
  return execa(
    'node',
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'test/support/worker-process.ts'),
      configFile,
      path.join(REPO_ROOT, 'test/support/services', `${service}.ts`),
      ...(options.asSaliflowWorker ? ['--as-saliflow-worker'] : []),
    ],
    // As `saliflow worker` runs (bin/saliflow.js tunes malloc).
    { env: { ...MALLOC_TUNING, ...env }, reject: false },
  );
}

/** What a worker process prints once it polls (either mode; `saliflow worker` logs it as a JSON line). */
export const WORKER_READY = /^worker ready|"msg":"saliflow worker for /m;

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `saliflow …` as an operator types it (bin/saliflow.js), for the service whose config file `configFile()` names. */
export function saliflowFor(configFile: () => string) {
  return (...args: string[]) =>
    execa('node', [path.join(REPO_ROOT, 'bin/saliflow.js'), ...args, '--config', configFile()], {
      reject: false,
      env: { SALIFLOW_CONFIG: '' },
      stdin: 'ignore',
    });
}

/** Waits until a started process's output (as `output()` reads it so far) shows `started`; fails at once if it exits first. */
export async function untilOutputShows(
  process: { exitCode: number | null },
  output: () => string,
  started: string,
): Promise<void> {
  await until(
    'the worker to start',
    async () => {
      if (output().includes(started)) return true;
      if (process.exitCode !== null) throw new Error(`the worker exited before it started:\n${output()}`);
      return undefined;
    },
    { lastSeen: () => `its output:\n${output()}` },
  );
}
