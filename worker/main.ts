/**
 * The long-running worker for one service, or for several in one process:
 *   saliflow worker --config service.conf --service service.ts
 *   saliflow worker --config a.conf --service a.ts --config b.conf --service b.ts
 *   saliflow worker --services-dir /etc/saliflow/services   (worker/services-dir.ts)
 *
 * Everything that can stop it from working is checked before it takes any
 * work, in the order an operator fixes things: the service module, the
 * config (strictly, with the service's own sections), MySQL (account,
 * address, database, tables), the files against the rows, the metrics
 * port, Temporal. Each failure is one error naming what to fix.
 */
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { NativeConnection, Runtime, type RuntimeOptions } from '@temporalio/worker';
import type { Logger } from '@temporalio/common';
import {
  describeTemporalTarget,
  loadServiceConfig,
  type LogLevelName,
  type ServiceConfig,
} from '../core/config/index.js';
import type { Service } from '../core/service.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import { StartupError } from '../core/errors.js';
import { connectToTemporal, createServiceWorker, type ServiceWorker } from './create-worker.js';
import { ensureSchedules } from '../activities/schedules.js';
import { checkConsistency } from '../engine/consistency-check.js';
import { listenForFrontends } from './frontend-socket.js';
import { describeDaemonState, saliwebDaemonState } from './saliweb-daemon.js';
import { checkDatabase, createPool } from '../store/pool.js';
import { createJobMetrics, histogramBuckets, type JobMetrics } from '../engine/job-metrics.js';
import { startJobCountGauge } from '../engine/job-count-gauge.js';
import { loadService } from './load-service.js';
import { createWorkerLogger } from './logger.js';
import { mallocTuned, UNTUNED_WARNING } from './malloc-tuning.js';
import { handleStopSignals } from './stop-signals.js';
import { publishLimits } from '../store/service-control.js';
import { DRAIN_SIGNAL, drainOnSignal, reloadLimitsOnHangup, type SignalSource } from './operator-signals.js';
import type { ServiceSpec } from './services-dir.js';

/**
 * The Temporal Runtime, once per process and before any connection (its
 * telemetry is fixed when it starts): our logger for the SDK's lines, the
 * Core's lines forwarded to it, and the Prometheus endpoint if configured.
 * Stop signals are ours (worker/stop-signals.ts), not the SDK's.
 */
function installRuntime(options: { service?: string; level: LogLevelName; prometheus: string | undefined }): void {
  const { level, prometheus } = options;
  const { temporal } = createWorkerLogger({ ...(options.service ? { service: options.service } : {}), level });
  const runtimeOptions: RuntimeOptions = {
    logger: temporal,
    // Stop signals are ours (stop-signals.ts); SIGUSR2, in the SDK's list, drains instead (operator-signals.ts).
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: level === 'error' ? 'ERROR' : 'WARN', other: 'ERROR' }, forward: {} },
      ...(prometheus
        ? { metrics: { prometheus: { bindAddress: prometheus, histogramBucketOverrides: histogramBuckets() } } }
        : {}),
    },
  };
  Runtime.install(runtimeOptions);
}

/** The Runtime binds the metrics address in its own thread, where a taken port is only logged: try it first. */
async function checkMetricsAddress(config: ServiceConfig, address: string): Promise<void> {
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

/** A service checked and ready to run: everything an operator must fix was found before this. */
interface PreparedService {
  config: ServiceConfig;
  service: Service;
}

/**
 * Phase one for a service: its module, its config (strictly, with its own
 * sections), no saliweb daemon on its jobs, MySQL, the files against the rows.
 */
async function prepareService(spec: ServiceSpec, skipConsistencyCheck: boolean): Promise<PreparedService> {
  if (spec.service === undefined) throw new StartupError(spec.missing ?? `no service module for ${spec.label}`);
  const service = await loadService(spec.service, { configFile: spec.config });
  const config = loadServiceConfig(spec.config, process.env, { serviceSections: service.configSections ?? {} });
  // Two backends must never drive the same jobs (nor share the frontend socket): a saliweb daemon holding its
  // state file's lock is alive. (A PID alone may be stale, so only the lock refuses here; `adopt` says more.)
  const saliweb = await saliwebDaemonState(config.backend.stateFile);
  if (saliweb.state === 'alive' && saliweb.how === 'lock') {
    throw new StartupError(`not starting: ${describeDaemonState(config.backend.stateFile, saliweb)}`);
  }
  await checkDatabase(config);
  if (!skipConsistencyCheck) {
    const pool = createPool(config);
    try {
      // Before the Runtime (and its logger) exists: straight to stderr, where the worker says why it did not start.
      await checkConsistency(config, pool, (message) => process.stderr.write(`[worker] ${message}\n`));
    } finally {
      await pool.end();
    }
  }
  return { config, service };
}

/** What one service of the process shares with the others. */
interface Shared {
  connection: NativeConnection;
  /** The process's log (the Runtime's), or this service's own when the process hosts several. */
  log: Logger;
  metricsAddress: string | undefined;
  signals: SignalSource;
  workflowsOnMainThread: boolean;
  /** Whether a stop signal came. */
  stopping: () => boolean;
}

/** Phase two for a service: its worker, limits, Schedules, frontend socket; resolves when its worker stops. */
async function runService(
  { config, service }: PreparedService,
  shared: Shared,
  started: (worker: ServiceWorker) => void,
): Promise<void> {
  const { connection, log, metricsAddress, signals, workflowsOnMainThread } = shared;
  const metrics: JobMetrics | undefined = metricsAddress
    ? createJobMetrics(Runtime.instance().metricMeter, config.general.serviceName)
    : undefined;
  const worker = await createServiceWorker({
    config,
    service,
    log,
    connection,
    workflowsOnMainThread,
    ...(metrics ? { metrics } : {}),
  });
  started(worker);
  const client = worker.client;
  const pool = createPool(config);
  const stopHangup = reloadLimitsOnHangup({ config, pool, log, wake: () => worker.wakeAdmission(), signals });
  const stopDrain = drainOnSignal(worker, log, signals);
  try {
    // The config file is the source of the limits: a start reads it as SIGHUP does (store/service-control.ts).
    await publishLimits(
      pool,
      config.limits,
      `${config.configFile}, at the start of worker ${process.pid}@${worker.hostId}`,
    );
    await ensureSchedules(client, config);
    const stopGauge = metrics ? startJobCountGauge(pool, metrics, log) : () => undefined;
    try {
      const socket = await listenForFrontends(config, pool, client);
      try {
        log.info(
          `saliflow worker for ${config.general.serviceName}: task queue ${config.temporal.taskQueue} on ${config.temporal.address}, ` +
            `frontend socket ${config.general.socket}${metricsAddress ? `, metrics http://${metricsAddress}/metrics` : ''}; ` +
            // Where each came from: a default taken for a missing (or misspelt) setting is said out loud.
            `Temporal ${describeTemporalTarget(config.temporal, config.sections.findSection('temporal'))}`,
          { logLevel: config.logging.level },
        );
        // A stop signal that came while this service was starting: its SDK Workers were not running to hear it.
        if (!shared.stopping()) await worker.run();
      } finally {
        await socket.close();
      }
    } finally {
      stopGauge();
    }
  } finally {
    // A service that failed before its worker ran leaves nothing polling.
    worker.shutdown();
    stopHangup();
    stopDrain();
    await pool.end();
    await worker.close();
  }
}

/** The worker for one service, as `saliflow worker --config … --service …` runs it: any failure is thrown. */
export async function runWorker(options: {
  config: string;
  service: string;
  skipConsistencyCheck?: boolean;
}): Promise<void> {
  await runWorkers({
    services: [{ config: options.config, service: options.service, label: options.config }],
    ...(options.skipConsistencyCheck ? { skipConsistencyCheck: true } : {}),
  });
}

/** The key of a Temporal connection: services with the same address, namespace and credentials share one. */
async function connectionKey(config: ServiceConfig): Promise<string> {
  return JSON.stringify([await temporalConnectionOptions(config), config.temporal.namespace]);
}

/**
 * Where the workflow code runs: a worker thread per service (the SDK's way, and a single service's default), or
 * the main thread for all (the default with several: ~40 MiB less per service, bench/results/many-services.md).
 */
function workflowThreads(env: NodeJS.ProcessEnv, single: boolean): 'main' | 'per-service' {
  const value = env.SALIFLOW_WORKFLOW_THREADS || (single ? 'per-service' : 'main');
  if (value !== 'main' && value !== 'per-service') {
    throw new StartupError(`SALIFLOW_WORKFLOW_THREADS=${value}: expected main or per-service`);
  }
  return value;
}

const LEVELS: LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * One process for several services: each is prepared on its own (a failure
 * is logged with its name, and the others go on), then all run on one
 * Temporal Runtime and one connection per Temporal identity. Stop, SIGHUP
 * and drain signals reach every service. A service whose worker fails while
 * running is logged, and the others go on. It fails only when no service
 * could start or run; with one service, its failure is thrown as is.
 */
export async function runWorkers(options: { services: ServiceSpec[]; skipConsistencyCheck?: boolean }): Promise<void> {
  const specs = options.services;
  const single = specs.length === 1;
  const workflowsOnMainThread = workflowThreads(process.env, single) === 'main';
  const outcomes = await Promise.allSettled(
    specs.map((spec) => prepareService(spec, options.skipConsistencyCheck ?? false)),
  );
  const first = outcomes[0]!;
  if (single && first.status === 'rejected') throw first.reason;
  const prepared = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failures: { label: string; error: Error }[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome.status === 'rejected') failures.push({ label: specs[index]!.label, error: outcome.reason as Error });
  });

  // The process's metrics endpoint: the first service's (in the order given) that asks for one.
  const metricsFrom = prepared.find(({ config }) => config.metrics.prometheus !== undefined);
  const metricsAddress = metricsFrom?.config.metrics.prometheus;
  if (metricsFrom && metricsAddress) await checkMetricsAddress(metricsFrom.config, metricsAddress);
  const level = single
    ? prepared[0]!.config.logging.level
    : (LEVELS.find((name) => prepared.some(({ config }) => config.logging.level === name)) ?? 'info');
  installRuntime({
    ...(single ? { service: prepared[0]!.config.general.serviceName } : {}),
    level,
    prometheus: metricsAddress,
  });
  const log = Runtime.instance().logger;
  if (!mallocTuned()) log.warn(UNTUNED_WARNING);
  const serviceLog = (service: string, serviceLevel: LogLevelName) =>
    single ? log : createWorkerLogger({ service, level: serviceLevel }).temporal;
  for (const { label, error } of failures) {
    serviceLog(label, 'error').error(`service ${label}: cannot start: ${error.message}`);
  }
  if (prepared.length === 0) {
    throw new StartupError(`no service could start (${failures.map(({ label }) => label).join(', ')}): see above`);
  }
  for (const { config } of prepared) {
    const asked = config.metrics.prometheus;
    if (asked !== undefined && asked !== metricsAddress) {
      log.warn(
        `service ${config.general.serviceName}: [metrics] prometheus ${asked} in ${config.configFile} is not served: ` +
          `this process serves every service's metrics on ${metricsAddress} (labelled service="…")`,
      );
    }
  }

  // Signals for every service: one handler on the process, heard by each service's.
  const signals = new EventEmitter().setMaxListeners(0);
  const forward = (signal: string) => () => signals.emit(signal);
  const forwarders = ['SIGHUP', DRAIN_SIGNAL].map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of forwarders) process.on(signal, handler);
  const workers: ServiceWorker[] = [];
  let stopping = false;
  const stopSignals = handleStopSignals({
    worker: {
      shutdown() {
        stopping = true;
        for (const worker of workers) worker.shutdown();
      },
    },
    log,
    graceSeconds: Math.max(...prepared.map(({ config }) => config.worker.shutdownSeconds)),
  });
  const connections = new Map<string, Promise<NativeConnection>>();
  try {
    const runs = await Promise.allSettled(
      prepared.map(async (one) => {
        const name = one.config.general.serviceName;
        try {
          const key = await connectionKey(one.config);
          if (!connections.has(key)) connections.set(key, connectToTemporal(one.config));
          const connection = await connections.get(key)!;
          await runService(
            one,
            {
              connection,
              log: serviceLog(name, one.config.logging.level),
              metricsAddress,
              signals,
              workflowsOnMainThread,
              stopping: () => stopping,
            },
            (worker) => workers.push(worker),
          );
        } catch (error) {
          if (single) throw error;
          serviceLog(name, one.config.logging.level).error(
            `service ${name}: stopped: ${(error as Error).message}; the other services go on`,
          );
          throw error;
        }
      }),
    );
    const only = runs[0]!;
    if (single && only.status === 'rejected') throw only.reason;
    if (runs.every((run) => run.status === 'rejected')) {
      throw new StartupError(
        `every service stopped with an error (${prepared.map(({ config }) => config.general.serviceName).join(', ')}): see above`,
      );
    }
  } finally {
    stopSignals.dispose();
    for (const [signal, handler] of forwarders) process.off(signal, handler);
    for (const connection of connections.values())
      await connection.then(
        (c) => c.close(),
        () => undefined,
      );
  }
}
