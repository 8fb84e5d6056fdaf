/**
 * The long-running worker for one service:
 *   saliflow worker --config service.conf --service service.ts
 *
 * Everything that can stop it from working is checked before it takes any
 * work, in the order an operator fixes things: the service module, the
 * config (strictly, with the service's own sections), MySQL (account,
 * address, database, tables), the files against the rows, the metrics
 * port, Temporal. Each failure is one error naming what to fix.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { describeTemporalTarget, loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { StartupError } from '../core/errors.js';
import { connectToTemporal, createServiceWorker } from './create-worker.js';
import { ensureSchedules } from './schedules.js';
import { checkConsistency } from './consistency-check.js';
import { listenForFrontends } from './frontend-socket.js';
import { describeDaemonState, saliwebDaemonState } from './saliweb-daemon.js';
import { checkDatabase, createPool } from '../activities/database.js';
import { createJobMetrics, histogramBuckets, type JobMetrics } from '../activities/job-metrics.js';
import { startJobCountGauge } from '../activities/job-count-gauge.js';
import { loadService } from './load-service.js';
import { createWorkerLogger } from './logger.js';
import { mallocTuned, UNTUNED_WARNING } from './malloc-tuning.js';
import { handleStopSignals } from './stop-signals.js';
import { publishLimits } from '../activities/service-control.js';
import { drainOnSignal, reloadLimitsOnHangup } from './operator-signals.js';

/**
 * The Temporal Runtime, once per process and before any connection (its
 * telemetry is fixed when it starts): our logger for the SDK's lines, the
 * Core's lines forwarded to it, and the Prometheus endpoint if configured.
 * Stop signals are ours (worker/stop-signals.ts), not the SDK's.
 */
function installRuntime(config: ServiceConfig): void {
  const { temporal } = createWorkerLogger({ service: config.general.serviceName, level: config.logging.level });
  const { prometheus } = config.metrics;
  const options: RuntimeOptions = {
    logger: temporal,
    // Stop signals are ours (stop-signals.ts); SIGUSR2, in the SDK's list, drains instead (operator-signals.ts).
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: config.logging.level === 'error' ? 'ERROR' : 'WARN', other: 'ERROR' }, forward: {} },
      ...(prometheus
        ? { metrics: { prometheus: { bindAddress: prometheus, histogramBucketOverrides: histogramBuckets() } } }
        : {}),
    },
  };
  Runtime.install(options);
}

/** The Runtime binds the metrics address in its own thread, where a taken port is only logged: try it first. */
async function checkMetricsAddress(config: ServiceConfig): Promise<void> {
  const address = config.metrics.prometheus;
  if (address === undefined) return;
  const split = address.lastIndexOf(':');
  const host = address.slice(0, split).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(split + 1));
  const server = net.createServer();
  try {
    server.listen({ host, port, exclusive: true });
    await once(server, 'listening');
  } catch (error) {
    const source = process.env.SALIFLOW_METRICS_ADDRESS
      ? 'SALIFLOW_METRICS_ADDRESS'
      : `[metrics] prometheus in ${config.configFile}`;
    throw new StartupError(
      `cannot serve metrics on ${address} (${source}): ${(error as Error).message}; ` +
        'another process (perhaps another worker of this service) holds it: stop it or give this worker another address',
      { cause: error },
    );
  } finally {
    server.close();
  }
}

export async function runWorker(options: {
  config: string;
  service: string;
  skipConsistencyCheck?: boolean;
}): Promise<void> {
  const service = await loadService(options.service);
  const config = loadServiceConfig(options.config, process.env, { serviceSections: service.configSections ?? {} });
  // Two backends must never drive the same jobs (nor share the frontend socket): a saliweb daemon holding its
  // state file's lock is alive. (A PID alone may be stale, so only the lock refuses here; `adopt` says more.)
  const saliweb = await saliwebDaemonState(config.backend.stateFile);
  if (saliweb.state === 'alive' && saliweb.how === 'lock') {
    throw new StartupError(`not starting: ${describeDaemonState(config.backend.stateFile, saliweb)}`);
  }
  await checkDatabase(config);
  if (!options.skipConsistencyCheck) {
    const pool = createPool(config);
    try {
      // Before the Runtime (and its logger) exists: straight to stderr, where the worker says why it did not start.
      await checkConsistency(config, pool, (message) => process.stderr.write(`[worker] ${message}\n`));
    } finally {
      await pool.end();
    }
  }
  await checkMetricsAddress(config);
  installRuntime(config);
  const connection = await connectToTemporal(config);
  const log = Runtime.instance().logger;
  if (!mallocTuned()) log.warn(UNTUNED_WARNING);
  const metricsAddress = config.metrics.prometheus;
  const metrics: JobMetrics | undefined = metricsAddress
    ? createJobMetrics(Runtime.instance().metricMeter, config.general.serviceName)
    : undefined;
  const worker = await createServiceWorker({ config, service, log, connection, ...(metrics ? { metrics } : {}) });
  const stopSignals = handleStopSignals({ worker, log, graceSeconds: config.worker.shutdownSeconds });
  const client = worker.client;
  const pool = createPool(config);
  // The config file is the source of the limits: a start reads it as SIGHUP does (activities/service-control.ts).
  await publishLimits(
    pool,
    config.limits,
    `${config.configFile}, at the start of worker ${process.pid}@${worker.hostId}`,
  );
  const stopHangup = reloadLimitsOnHangup({ config, pool, log, wake: () => worker.wakeAdmission() });
  const stopDrain = drainOnSignal(worker, log);
  try {
    await ensureSchedules(client, config);
    const stopGauge = metrics ? startJobCountGauge(pool, metrics, log) : () => undefined;
    const socket = await listenForFrontends(config, pool, client);
    log.info(
      `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}, ` +
        `frontend socket ${config.general.socket}${metricsAddress ? `, metrics http://${metricsAddress}/metrics` : ''}; ` +
        // Where each came from: a default taken for a missing (or misspelt) setting is said out loud.
        `Temporal ${describeTemporalTarget(config.temporal, config.sections.findSection('temporal'))}`,
      { logLevel: config.logging.level },
    );
    try {
      await worker.run();
    } finally {
      stopGauge();
      await socket.close();
    }
  } finally {
    stopSignals.dispose();
    stopHangup();
    stopDrain();
    await pool.end();
    await worker.close();
    await connection.close();
  }
}
