/**
 * A Temporal worker for one service: its task queue, saliflow's workflows,
 * and activities built from the service's config and module.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
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
  const { address, tls, apiKey } = config.temporal;
  const fs = await import('node:fs/promises');
  return NativeConnection.connect({
    address,
    ...(tls
      ? {
          tls: {
            clientCertPair: { crt: await fs.readFile(tls.clientCertPath), key: await fs.readFile(tls.clientKeyPath) },
            ...(tls.serverRootCaCertPath
              ? { serverRootCACertificate: await fs.readFile(tls.serverRootCaCertPath) }
              : {}),
            ...(tls.serverNameOverride ? { serverNameOverride: tls.serverNameOverride } : {}),
          },
        }
      : apiKey
        ? { tls: true }
        : {}),
    ...(apiKey ? { apiKey } : {}),
  });
}

export async function createServiceWorker(options: ServiceWorkerOptions) {
  const { config, service } = options;
  const connection = options.connection ?? (await connectToTemporal(config));
  const parts = createSaliflowActivities({ ...options, config, service });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: parts.activities,
  });
  return {
    worker,
    statusQueries: parts.statusQueries,
    /** Releases the MySQL pool and, if this module opened it, the connection. */
    async close() {
      await parts.close();
      if (!options.connection) await connection.close();
    },
  };
}
