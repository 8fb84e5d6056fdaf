/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 */
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { createServiceWorker } from './create-worker.js';
import { ensureSchedules } from './schedules.js';
import { checkConsistency } from './consistency-check.js';
import { listenForFrontends } from './frontend-socket.js';
import { createPool } from '../activities/database.js';
import { createJobMetrics, histogramBuckets, type JobMetrics } from '../activities/job-metrics.js';
import { startJobCountGauge } from '../activities/job-count-gauge.js';
import { loadService } from './load-service.js';
import { createWorkerLogger } from './logger.js';
import { mallocTuned, UNTUNED_WARNING } from './malloc-tuning.js';
import { publishLimits } from '../activities/service-control.js';
import { drainOnSignal, reloadLimitsOnHangup } from './operator-signals.js';

/**
 * The Temporal Runtime, once per process and before any connection (its
 * telemetry is fixed when it starts): our logger for the SDK's lines, the
 * Core's lines forwarded to it, and the Prometheus endpoint if configured.
 */
function installRuntime(config: ServiceConfig): void {
  const { temporal } = createWorkerLogger({ service: config.general.serviceName, level: config.logging.level });
  const { prometheus } = config.metrics;
  const options: RuntimeOptions = {
    logger: temporal,
    // The SDK's default list includes SIGUSR2, which drains a saliflow worker instead (operator-signals.ts).
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'],
    telemetryOptions: {
      logging: { filter: { core: config.logging.level === 'error' ? 'ERROR' : 'WARN', other: 'ERROR' }, forward: {} },
      ...(prometheus
        ? { metrics: { prometheus: { bindAddress: prometheus, histogramBucketOverrides: histogramBuckets() } } }
        : {}),
    },
  };
  Runtime.install(options);
}

export async function runWorker(options: {
  config: string;
  service: string;
  skipConsistencyCheck?: boolean;
}): Promise<void> {
  const config = loadServiceConfig(options.config);
  const service = await loadService(options.service);
  installRuntime(config);
  const log = Runtime.instance().logger;
  if (!mallocTuned()) log.warn(UNTUNED_WARNING);
  const metricsAddress = config.metrics.prometheus;
  const metrics: JobMetrics | undefined = metricsAddress
    ? createJobMetrics(Runtime.instance().metricMeter, config.general.serviceName)
    : undefined;
  if (!options.skipConsistencyCheck) {
    const pool = createPool(config);
    try {
      await checkConsistency(config, pool);
    } finally {
      await pool.end();
    }
  }
  const worker = await createServiceWorker({ config, service, log, ...(metrics ? { metrics } : {}) });
  const client = worker.client;
  await ensureSchedules(client, config);
  const pool = createPool(config);
  // The config file is the source of the limits: a start reads it as SIGHUP does (activities/service-control.ts).
  await publishLimits(
    pool,
    config.limits,
    `${config.configFile}, at the start of worker ${process.pid}@${worker.hostId}`,
  );
  const stopHangup = reloadLimitsOnHangup({ config, pool, log, wake: () => worker.wakeAdmission() });
  const stopDrain = drainOnSignal(worker, log);
  const stopGauge = metrics ? startJobCountGauge(pool, metrics, log) : () => undefined;
  const socket = await listenForFrontends(config, pool, client);
  log.info(
    `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}, ` +
      `frontend socket ${config.general.socket}${metricsAddress ? `, metrics http://${metricsAddress}/metrics` : ''}`,
    { logLevel: config.logging.level },
  );
  try {
    await worker.run();
  } finally {
    stopHangup();
    stopDrain();
    stopGauge();
    await socket.close();
    await pool.end();
    await worker.close();
  }
}
