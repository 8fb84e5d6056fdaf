/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 */
import { Runtime } from '@temporalio/worker';
import { loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { createServiceWorker } from './create-worker.js';
import { ensureSchedules } from './schedules.js';
import { checkConsistency } from './consistency-check.js';
import { listenForFrontends } from './frontend-socket.js';
import { createPool } from '../activities/database.js';
import { loadService } from './load-service.js';

/** `[metrics] prometheus` (or SALIFLOW_METRICS_ADDRESS): where to serve Prometheus metrics, e.g. 0.0.0.0:9464. */
function metricsAddress(config: ServiceConfig): string | undefined {
  return process.env.SALIFLOW_METRICS_ADDRESS || config.sections.findSection('metrics')?.values.get('prometheus');
}

export async function runWorker(options: {
  config: string;
  service: string;
  skipConsistencyCheck?: boolean;
}): Promise<void> {
  const config = loadServiceConfig(options.config);
  const service = await loadService(options.service);
  // Before any connection: the runtime's telemetry is fixed when it starts.
  const metrics = metricsAddress(config);
  if (metrics) Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: metrics } } } });
  if (!options.skipConsistencyCheck) {
    const pool = createPool(config);
    try {
      await checkConsistency(config, pool);
    } finally {
      await pool.end();
    }
  }
  const worker = await createServiceWorker({ config, service });
  const client = worker.client;
  await ensureSchedules(client, config);
  const pool = createPool(config);
  const socket = await listenForFrontends(config, pool, client);
  console.log(
    `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}, ` +
      `frontend socket ${config.general.socket}${metrics ? `, metrics http://${metrics}/metrics` : ''}`,
  );
  try {
    await worker.run();
  } finally {
    await socket.close();
    await pool.end();
    await worker.close();
  }
}
