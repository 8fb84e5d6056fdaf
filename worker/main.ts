/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 */
import { loadServiceConfig } from '../core/config/index.js';
import { Client, Connection } from '@temporalio/client';
import { createServiceWorker } from './create-worker.js';
import { ensureSchedules } from './schedules.js';
import { checkConsistency } from './consistency-check.js';
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
  const connection = await Connection.connect({ address: config.temporal.address });
  await ensureSchedules(new Client({ connection, namespace: config.temporal.namespace }), config);
  await connection.close();
  console.log(
    `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}`,
  );
  try {
    await worker.run();
  } finally {
    await worker.close();
  }
}
