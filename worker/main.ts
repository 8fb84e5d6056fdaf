/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 */
import { loadServiceConfig } from '../core/config/index.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import { Client, Connection } from '@temporalio/client';
import { createServiceWorker } from './create-worker.js';
import { ensureSchedules } from './schedules.js';
import { checkConsistency } from './consistency-check.js';
import { listenForFrontends } from './frontend-socket.js';
import { createPool } from '../activities/database.js';
import { loadService } from './load-service.js';

export async function runWorker(options: {
  config: string;
  service: string;
  skipConsistencyCheck?: boolean;
}): Promise<void> {
  const config = loadServiceConfig(options.config);
  const service = await loadService(options.service);
  if (!options.skipConsistencyCheck) {
    const pool = createPool(config);
    try {
      await checkConsistency(config, pool);
    } finally {
      await pool.end();
    }
  }
  const worker = await createServiceWorker({ config, service });
  const connection = await Connection.connect(await temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace });
  await ensureSchedules(client, config);
  const pool = createPool(config);
  const socket = await listenForFrontends(config, pool, client);
  console.log(
    `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}, ` +
      `frontend socket ${config.general.socket}`,
  );
  try {
    await worker.run();
  } finally {
    await socket.close();
    await pool.end();
    await connection.close();
    await worker.close();
  }
}
