/**
 * A worker in a process of its own, so a test can kill it with SIGKILL:
 *   node --import tsx test/support/worker-process.ts <config file> <service module> [--as-saliflow-worker]
 * Without the flag: just the Temporal worker (short test timings). With it:
 * what `saliflow worker` runs (consistency check at start, the reconcile and
 * old-jobs Schedules, the frontend socket, production timings).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadServiceConfig } from '../../core/config/index.js';
import { createServiceWorker } from '../../worker/create-worker.js';
import { loadService } from '../../worker/load-service.js';
import { runWorker } from '../../worker/main.js';

const [configFile, serviceModule, mode] = process.argv.slice(2);
// `saliflow worker` installs its own Runtime (JSON logs, metrics).
if (mode !== '--as-saliflow-worker') Runtime.install({ logger: new DefaultLogger('ERROR') });
if (!configFile || !serviceModule) {
  throw new Error('usage: worker-process.ts <config file> <service module> [--as-saliflow-worker]');
}
if (mode === '--as-saliflow-worker') {
  await runWorker({ config: configFile, service: serviceModule }); // logs "saliflow worker for …" when ready
} else {
  const config = loadServiceConfig(configFile);
  const worker = await createServiceWorker({
    config,
    service: await loadService(serviceModule, { configFile }),
    run: { jobStateGraceMs: 2000, heartbeatEveryMs: 1000 },
  });
  console.log('worker ready');
  await worker.run();
}
