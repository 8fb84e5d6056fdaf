/**
 * A Temporal worker for one service: its task queue, saliflow's workflows,
 * and activities built from the service's config and module.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import type { Service } from '../core/service.js';
import { createSaliflowActivities, type ActivityDeps } from '../activities/index.js';

// Run from source (tsx) the workflows are .ts; from `npm run build` output, .js.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKFLOWS_PATH = path.resolve(
  HERE,
  '../workflows',
  existsSync(path.join(HERE, '../workflows/index.ts')) ? 'index.ts' : 'index.js',
);

let bundle: Promise<WorkflowBundle> | undefined;

/** Bundles the workflow code once per process (it takes a few seconds). */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export interface ServiceWorkerOptions extends Omit<ActivityDeps, 'config' | 'service'> {
  config: ServiceConfig;
  service: Service;
  /** An existing connection; otherwise one is made from `config.temporal`. */
  connection?: NativeConnection;
  /** Overrides `config.temporal.taskQueue` (tests give each worker its own). */
  taskQueue?: string;
}

export async function connectToTemporal(config: ServiceConfig): Promise<NativeConnection> {
  return NativeConnection.connect(await temporalConnectionOptions(config));
}

/**
 * Waiting for cluster runs gets a task queue of its own: a wait is a cheap
 * heartbeating activity, and a thousand of them must not take the activity
 * slots that service steps and submissions need.
 */
export function waitQueue(taskQueue: string): string {
  return `${taskQueue}-waits`;
}

/** Most runs one worker waits for at once (each is a timer and a slot in a shared status query). */
const MAX_CONCURRENT_WAITS = 10_000;

export interface ServiceWorker {
  /** Polls until shut down (SIGINT/SIGTERM or `shutdown()`). */
  run(): Promise<void>;
  /** Runs until `promise` settles, then shuts down; returns its value. */
  runUntil<T>(promise: Promise<T>): Promise<T>;
  shutdown(): void;
  statusQueries(): Record<string, number>;
  /** Releases the MySQL pool and, if this module opened it, the connection. */
  close(): Promise<void>;
}

export async function createServiceWorker(options: ServiceWorkerOptions): Promise<ServiceWorker> {
  const { config, service } = options;
  const connection = options.connection ?? (await connectToTemporal(config));
  const parts = createSaliflowActivities({ ...options, config, service });
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  const main = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: parts.activities,
  });
  const waits = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: waitQueue(taskQueue),
    activities: { waitForRun: parts.activities.waitForRun },
    maxConcurrentActivityTaskExecutions: MAX_CONCURRENT_WAITS,
  });
  const shutdown = () => {
    for (const worker of [main, waits]) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    async run() {
      await Promise.all([main.run(), waits.run()]);
    },
    async runUntil<T>(promise: Promise<T>): Promise<T> {
      const both = Promise.all([main.run(), waits.run()]);
      try {
        return await promise;
      } finally {
        shutdown();
        await both;
      }
    },
    shutdown,
    statusQueries: parts.statusQueries,
    async close() {
      await parts.close();
      if (!options.connection) await connection.close();
    },
  };
}
