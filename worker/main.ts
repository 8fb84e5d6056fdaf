/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 */
import { loadServiceConfig } from '../core/config/index.js';
import { createServiceWorker } from './create-worker.js';
import { loadService } from './load-service.js';

export async function runWorker(options: { config: string; service: string }): Promise<void> {
  const config = loadServiceConfig(options.config);
  const service = await loadService(options.service);
  const { worker, close } = await createServiceWorker({ config, service });
  console.log(
    `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}`,
  );
  try {
    await worker.run();
  } finally {
    await close();
  }
}
