/**
 * A Temporal worker for one service: its task queue, saliflow's workflows,
 * and activities built from the service's config and module.
 */
import { workerIdentity } from '../core/worker-identity.js';
import { saliflowVersion } from './version.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
import { temporalConnectionError, temporalConnectionOptions } from '../core/temporal-connection.js';
import type { Service } from '../core/service.js';
import { Client } from '@temporalio/client';
import { createSaliflowActivities, defaultHostId, type ActivityDeps } from '../activities/index.js';
import { hostQueue, waitQueue } from '../core/job-workflow-contract.js';
import { activityLogContext } from './logger.js';
import { drainWorker } from './drain.js';

// Run from source (tsx) the workflows are .ts; from `npm run build` output, .js.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORKFLOWS_PATH = path.resolve(
  HERE,
  '../workflows',
  existsSync(path.join(HERE, '../workflows/index.ts')) ? 'index.ts' : 'index.js',
);

let bundle: Promise<WorkflowBundle> | undefined;

/** Bundles the workflow code once per process (it takes a few seconds); another path (a release's) each time. */
export function workflowBundle(workflowsPath?: string): Promise<WorkflowBundle> {
  if (workflowsPath !== undefined && path.resolve(workflowsPath) !== WORKFLOWS_PATH) {
    return bundleWorkflowCode({ workflowsPath: path.resolve(workflowsPath), logger: quietBundlerLogger });
  }
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}

/** Where the workflow code this installation runs lives. */
export const INSTALLED_WORKFLOWS = WORKFLOWS_PATH;

/** The bundler's progress lines are noise; its warnings and errors go to the worker's log. */
const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => Runtime.instance().logger.warn(message, { component: 'bundler' }),
  error: (message: string) => Runtime.instance().logger.error(message, { component: 'bundler' }),
};

export interface ServiceWorkerOptions extends Omit<ActivityDeps, 'config' | 'service' | 'client'> {
  config: ServiceConfig;
  service: Service;
  /** An existing connection; otherwise one is made from `config.temporal`. */
  connection?: NativeConnection;
  /** Overrides `config.temporal.taskQueue` (tests give each worker its own). */
  taskQueue?: string;
  /**
   * Runs the workflow code on the process's main thread instead of a worker
   * thread of its own: what lets one process host many services (worker/main.ts).
   */
  workflowsOnMainThread?: boolean;
}

export async function connectToTemporal(config: ServiceConfig): Promise<NativeConnection> {
  const options = await temporalConnectionOptions(config);
  return NativeConnection.connect(options).catch((error: unknown) => {
    throw temporalConnectionError(config, error);
  });
}

/** Workflows kept in memory between tasks (a job's history is ~15 events: an evicted one replays in a millisecond). */
const MAX_CACHED_WORKFLOWS = 250;

/** Most runs one worker waits for at once (each is a timer and a slot in a shared status query). */
const MAX_CONCURRENT_WAITS = 10_000;

export interface ServiceWorker {
  /** Polls until shut down (SIGINT/SIGTERM or `shutdown()`). */
  run(): Promise<void>;
  /** Runs until `promise` settles, then shuts down; returns its value. */
  runUntil<T>(promise: Promise<T>): Promise<T>;
  shutdown(): void;
  /** `RUNNING` while every SDK Worker of the service polls; otherwise the first one's state that is not. */
  state(): string;
  statusQueries(): Record<string, number>;
  /** Runs an admission round soon (the limits changed). */
  wakeAdmission(): void;
  /** Stops taking work, waits for this host's local runs to end, then stops (`run()` returns): worker/drain.ts. */
  drain(report: (message: string) => void): Promise<void>;
  /** A client on the worker's own connection (eager starts from the frontend socket land on this worker). */
  readonly client: Client;
  readonly hostId: string;
  /** Releases the MySQL pool and, if this module opened it, the connection. */
  close(): Promise<void>;
}

export async function createServiceWorker(options: ServiceWorkerOptions): Promise<ServiceWorker> {
  const { config, service } = options;
  const connection = options.connection ?? (await connectToTemporal(config));
  const hostId = options.hostId ?? defaultHostId();
  // Signals from this worker (admissions, ended runs) carry its host in the history.
  const client = new Client({ connection, namespace: config.temporal.namespace, identity: `${process.pid}@${hostId}` });
  const log = options.log ?? Runtime.instance().logger;
  const parts = createSaliflowActivities({ ...options, config, service, hostId, log, client: () => client });
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  const common = {
    connection,
    namespace: config.temporal.namespace,
    identity: workerIdentity(process.pid, hostId, saliflowVersion()),
    interceptors: { activity: [activityLogContext] },
  };
  const { waitForRun, cancelRun } = parts.activities;
  const workers = [
    await Worker.create({
      ...common,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: parts.activities,
      // Steps in flight may finish after a stop signal; runs being waited for are picked up by another worker at once.
      shutdownGraceTime: config.worker.shutdownSeconds * 1000,
      // Most jobs rest for long in one wait; replaying a short history is cheaper than keeping thousands in memory.
      maxCachedWorkflows: MAX_CACHED_WORKFLOWS,
      // Each SDK Worker's workflow thread is a V8 isolate of its own, ~40 MiB idle: 20 services cost 3.7× one.
      // The SDK runs workflows on the calling thread only in its debugMode, which also lifts the 5 s bound on
      // an activation; the bound is set again here (bench/results/many-services.md).
      ...(options.workflowsOnMainThread ? { debugMode: true, isolateExecutionTimeout: '5s' } : {}),
    }),
    // Cluster and web-service runs: any worker can wait for them.
    await Worker.create({
      ...common,
      taskQueue: waitQueue(taskQueue),
      activities: { waitForRun, cancelRun },
      maxConcurrentActivityTaskExecutions: MAX_CONCURRENT_WAITS,
    }),
    // Local runs started on this host are waited for and cancelled here only.
    await Worker.create({
      ...common,
      taskQueue: hostQueue(taskQueue, hostId),
      activities: { waitForRun, cancelRun },
      maxConcurrentActivityTaskExecutions: MAX_CONCURRENT_WAITS,
    }),
  ];
  const shutdown = () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  let running: Promise<void>[] = [];
  const runAll = () => {
    parts.watcher.start();
    running = workers.map((worker) => worker.run());
    return Promise.all(running);
  };
  const [jobQueue, waitQueueWorker, hostQueueWorker] = workers as [Worker, Worker, Worker];
  return {
    client,
    hostId,
    async run() {
      await runAll();
    },
    async runUntil<T>(promise: Promise<T>): Promise<T> {
      const all = runAll();
      try {
        return await promise;
      } finally {
        shutdown();
        await all;
      }
    },
    shutdown,
    state: () => workers.map((worker) => worker.getState()).find((state) => state !== 'RUNNING') ?? 'RUNNING',
    statusQueries: parts.statusQueries,
    wakeAdmission: () => parts.admitter.wake(),
    drain: (report) =>
      drainWorker(
        {
          async stopTakingWork() {
            for (const worker of [jobQueue, waitQueueWorker]) if (worker.getState() === 'RUNNING') worker.shutdown();
            await Promise.all(running.slice(0, 2));
          },
          admitter: parts.admitter,
          watcher: parts.watcher,
          pendingSignals: parts.pendingSignals,
          stopHostQueue: () => {
            if (hostQueueWorker.getState() === 'RUNNING') hostQueueWorker.shutdown();
          },
        },
        report,
      ),
    async close() {
      // SDK Workers that never ran (the service failed before) still hold the connection: run them down now.
      await Promise.all(
        workers
          .filter((worker) => worker.getState() === 'INITIALIZED')
          .map((worker) => {
            const done = worker.run();
            worker.shutdown();
            return done;
          }),
      );
      await parts.close();
      if (!options.connection) await connection.close();
    },
  };
}
