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
import os from 'node:os';
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
import { checkSocketPath, listenForFrontends } from './frontend-socket.js';
import { takeStateFile, type StateFileLock } from './state-file.js';
import { checkDatabase, createPool, describeDatabaseError, pingDatabase } from '../store/pool.js';
import { migrate } from '../store/migrations.js';
import { jobsTableProblems, privilegeProblems, readJobsTable, readPrivileges } from '../store/schema-check.js';
import { BUILD_INFO_HELP, createJobMetrics, histogramBuckets, type JobMetrics } from '../engine/job-metrics.js';
import { startJobCountGauge } from '../engine/job-count-gauge.js';
import { loadService } from './load-service.js';
import { createWorkerLogger } from './logger.js';
import { mallocTuned, UNTUNED_WARNING } from './malloc-tuning.js';
import { handleStopSignals } from './stop-signals.js';
import { listenToWrapper, onSignal } from './wrapper-signals.js';
import { saliflowVersion } from './version.js';
import { publishLimits } from '../store/service-control.js';
import { DRAIN_SIGNAL, drainOnSignal, reloadLimitsOnHangup, type SignalSource } from './operator-signals.js';
import type { ServiceSpec } from './services-dir.js';
import { startHealthEndpoint, type ServiceHealth } from './health-endpoint.js';

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

/**
 * saliweb's `[backend] user` is the Unix user its daemon ran as, who owns the job directories. A worker run
 * as another user is said once at start rather than refused: tests and containers often run as root.
 */
function warnOfAnotherUser(config: ServiceConfig, log: Logger): void {
  let actual: string;
  try {
    actual = os.userInfo().username;
  } catch {
    actual = String(process.getuid?.() ?? '?'); // a uid without a passwd entry
  }
  if (actual === config.backend.user) return;
  log.warn(
    `this worker runs as ${actual}, not as [backend] user ${config.backend.user} of ${config.configFile}: ` +
      `the job directories and the files local runs write are ${actual}'s; run the worker as ` +
      `${config.backend.user} (systemd's User=), or set [backend] user to ${actual}`,
  );
}

/** The jobs table has saliweb's columns and the service's (a missing one would fail every job that writes it). */
export async function jobsTableProblemsOf(config: ServiceConfig, service: Pick<Service, 'columns'>): Promise<string[]> {
  const pool = createPool(config);
  try {
    const { table, indexed } = await readJobsTable(pool);
    return jobsTableProblems({
      table,
      indexed,
      columns: service.columns ?? [],
      trackHostname: config.general.trackHostname,
    });
  } finally {
    await pool.end();
  }
}

/** The privileges a MySQL user of the service lacks (`saliflow db check`; a worker warns of the backend's). */
export async function privilegeProblemsOf(config: ServiceConfig, role: 'backend' | 'frontend'): Promise<string[]> {
  const pool = createPool(config, role);
  try {
    return privilegeProblems(role, config.database[role].user, config.database.db, await readPrivileges(pool));
  } finally {
    await pool.end();
  }
}

async function checkJobsTable(config: ServiceConfig, service: Service): Promise<void> {
  // Warned of, not refused: a privilege that comes through a MySQL role is not seen in information_schema.
  for (const problem of await privilegeProblemsOf(config, 'backend').catch(() => []))
    process.stderr.write(`[worker] warning: ${problem}\n`);
  const problems = await jobsTableProblemsOf(config, service);
  if (problems.length === 0) {
    // saliflow's own tables: what `saliflow db migrate` applies, applied here too (each migration is idempotent).
    const pool = createPool(config);
    try {
      for (const { version, name } of await migrate(pool))
        process.stderr.write(`[worker] ${config.database.db}: applied migration ${version}, ${name}\n`);
    } catch (error) {
      throw describeDatabaseError(config, error);
    } finally {
      await pool.end();
    }
    return;
  }
  throw new StartupError(
    `the jobs table in database ${config.database.db} does not fit the service (\`saliflow db check\` says the same):\n` +
      problems.map((problem) => `  ${problem}`).join('\n'),
  );
}

/** A service checked and ready to run: everything an operator must fix was found before this. */
interface PreparedService {
  config: ServiceConfig;
  service: Service;
  /** saliweb's state file, held (or waited for) while the worker lives. */
  stateFile: StateFileLock;
  /** Where later news of the state file goes: stderr until the worker's log exists. */
  report: (message: string) => void;
}

/**
 * Runs clean-up steps in order, each whatever the others did. Their errors are thrown only when nothing else
 * is: a failed start's own error must never be hidden by what closing after it says (issue 32: "Cannot close
 * connection while Workers hold a reference to it" once replaced a socket's real error).
 */
async function cleanUp(failure: { error?: unknown }, log: (message: string) => void, steps: (() => unknown)[]) {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      if (failure.error !== undefined) log(`while stopping after an error: ${(error as Error).message}`);
      else first ??= error;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Phase one for a service: its module, its config (strictly, with its own
 * sections), no saliweb daemon on its jobs, MySQL, the files against the rows.
 */
async function prepareService(spec: ServiceSpec, skipConsistencyCheck: boolean): Promise<PreparedService> {
  if (spec.service === undefined) throw new StartupError(spec.missing ?? `no service module for ${spec.label}`);
  const service = await loadService(spec.service, { configFile: spec.config });
  const config = loadServiceConfig(spec.config, process.env, { serviceSections: service.configSections ?? {} });
  // Before the Runtime (and its logger) exists: straight to stderr, where the worker says why it did not start.
  const toStderr = (message: string) => void process.stderr.write(`[worker] ${message}\n`);
  const prepared = { config, service, report: toStderr } as PreparedService;
  // Two backends must never drive the same jobs (nor share the frontend socket): saliweb's daemon holding its
  // state file's lock is alive, and refused; otherwise this worker takes the lock as saliweb's daemon does.
  // (A PID alone may be stale, so only the lock refuses here; `adopt` says more.)
  prepared.stateFile = await takeStateFile(config.general.serviceName, config.backend.stateFile, (message) =>
    prepared.report(message),
  );
  try {
    await checkSocketPath(config);
    await checkDatabase(config);
    await checkJobsTable(config, service);
    if (!skipConsistencyCheck) {
      const pool = createPool(config);
      try {
        await checkConsistency(config, pool, toStderr);
      } finally {
        await pool.end();
      }
    }
  } catch (error) {
    await prepared.stateFile.release();
    throw error;
  }
  return prepared;
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
  /** What the health endpoint asks, by service, while each runs. */
  health: Map<string, ServiceHealth>;
}

/** Phase two for a service: its worker, limits, Schedules, frontend socket; resolves when its worker stops. */
async function runService(
  prepared: PreparedService,
  shared: Shared,
  started: (worker: ServiceWorker) => void,
): Promise<void> {
  const { config, service } = prepared;
  const { connection, log, metricsAddress, signals, workflowsOnMainThread } = shared;
  prepared.report = (message) => log.info(message);
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
  const name = config.general.serviceName;
  shared.health.set(name, { name, workerState: () => worker.state(), pingDatabase: () => pingDatabase(pool) });
  const failure: { error?: unknown } = {};
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
            `Temporal ${describeTemporalTarget(config.temporal, config.sections.findSection('temporal'))}; ` +
            `saliflow ${saliflowVersion()}`,
          { logLevel: config.logging.level },
        );
        warnOfAnotherUser(config, log);
        // A stop signal that came while this service was starting: its SDK Workers were not running to hear it.
        if (!shared.stopping()) await worker.run();
      } finally {
        await socket.close();
      }
    } finally {
      stopGauge();
    }
  } catch (error) {
    failure.error = error;
    throw error;
  } finally {
    // A service that failed before its worker ran leaves nothing polling, and nothing holding the connection.
    shared.health.delete(name);
    await cleanUp(failure, (message) => log.warn(message), [
      () => worker.shutdown(),
      stopHangup,
      stopDrain,
      () => pool.end(),
      () => worker.close(),
      // A service of several that stopped must not look running to saliweb's tools.
      () => prepared.stateFile.release(),
    ]);
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
  // At once: a stop the wrapper passes on while the services load must not be lost.
  listenToWrapper();
  const specs = options.services;
  const single = specs.length === 1;
  const workflowsOnMainThread = workflowThreads(process.env, single) === 'main';
  const outcomes = await Promise.allSettled(
    specs.map((spec) => prepareService(spec, options.skipConsistencyCheck ?? false)),
  );
  const prepared = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failure: { error?: unknown } = {};
  try {
    await runPrepared(specs, outcomes, prepared, workflowsOnMainThread);
  } catch (error) {
    failure.error = error;
    throw error;
  } finally {
    // saliweb's daemon removes its state file on a clean stop; the lock goes with its holder.
    await cleanUp(
      failure,
      (message) => process.stderr.write(`[worker] ${message}\n`),
      prepared.map(
        ({ stateFile }) =>
          () =>
            stateFile.release(),
      ),
    );
  }
}

async function runPrepared(
  specs: ServiceSpec[],
  outcomes: PromiseSettledResult<PreparedService>[],
  prepared: PreparedService[],
  workflowsOnMainThread: boolean,
): Promise<void> {
  const single = specs.length === 1;
  const first = outcomes[0]!;
  if (single && first.status === 'rejected') throw first.reason;
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
  if (metricsAddress) {
    // One series per process, whatever its services: `saliflow_build_info{version="0.1.0"} 1`.
    Runtime.instance()
      .metricMeter.createGauge('saliflow_build_info', 'int', '', BUILD_INFO_HELP)
      .set(1, { version: saliflowVersion() });
  }
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
  const forwarders = (['SIGHUP', DRAIN_SIGNAL] as const).map((signal) => onSignal(signal, forward(signal)));
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
  const health = new Map<string, ServiceHealth>();
  const healthFrom = prepared.find(({ config }) => config.metrics.health !== undefined);
  const healthSource = process.env.SALIFLOW_HEALTH_ADDRESS
    ? 'SALIFLOW_HEALTH_ADDRESS'
    : `[metrics] health in ${healthFrom?.config.configFile}`;
  const healthEndpoint = healthFrom
    ? await startHealthEndpoint(healthFrom.config.metrics.health!, () => health.values(), healthSource)
    : undefined;
  if (healthEndpoint) log.info(`health endpoint http://${healthEndpoint.address}/healthz`);
  const failure: { error?: unknown } = {};
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
              health,
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
  } catch (error) {
    failure.error = error;
    throw error;
  } finally {
    await cleanUp(failure, (message) => log.warn(message), [
      () => healthEndpoint?.close(),
      () => stopSignals.dispose(),
      () => {
        for (const remove of forwarders) remove();
      },
      ...[...connections.values()].map(
        (connection) => () =>
          connection.then(
            (c) => c.close(),
            () => undefined,
          ),
      ),
    ]);
  }
}
