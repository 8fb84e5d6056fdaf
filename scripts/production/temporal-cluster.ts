/**
 * The Temporal cluster itself: schemas in PostgreSQL (the server's SQL
 * tool), one process per service (`--service history|matching|worker|
 * frontend`, plus a second frontend with server-only TLS), the namespace
 * and saliflow's search attributes. Processes found alive are reused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { StackError } from '../../core/errors.js';
import { SEARCH_ATTRIBUTES } from '../stack/settings.js';
import { portIsOpen, processIsAlive, readPid, sleep, spawnDetached, stopProcess, tailOf } from '../stack/processes.js';
import type { TemporalBinaries } from './build.js';
import { databaseExists, tableExists } from './postgres.js';
import {
  DATABASES,
  NAMESPACE_RETENTION_DAYS,
  SERVER_NAME,
  SERVICES,
  SQL_PLUGIN,
  serverEnvironment,
  temporalServiceOf,
  type ProductionSettings,
  type ServiceName,
} from './settings.js';

type Log = (message: string) => void;

/** Creates both databases and brings their schemas to the version the server was built with. */
export async function ensureSchemas(settings: ProductionSettings, binaries: TemporalBinaries, log: Log): Promise<void> {
  const { host, postgres } = settings;
  const base = [
    '--plugin',
    SQL_PLUGIN,
    '--ep',
    host,
    '--port',
    String(postgres.port),
    '--user',
    postgres.user,
    '--password',
    postgres.password,
  ];
  const tool = async (database: string, args: string[]) => {
    const result = await execa(binaries.sqlTool, [...base, '--db', database, ...args], { reject: false, all: true });
    if (result.exitCode !== 0) {
      throw new StackError(`temporal sql tool ${args[0]} on ${database} failed:\n${String(result.all).slice(-1500)}`);
    }
  };
  for (const [schema, database] of Object.entries(DATABASES)) {
    if (!(await tableExists(settings, database, 'schema_version'))) {
      log(`creating the ${database} database and its schema…`);
      if (!(await databaseExists(settings, database))) await tool(database, ['create-database']);
      await tool(database, ['setup-schema', '-v', '0.0']);
    }
    // Applies only the versions the database lacks: a no-op when it is current.
    await tool(database, ['update-schema', '-d', path.join(binaries.schemaDir, schema, 'versioned')]);
  }
}

const pidFile = (settings: ProductionSettings, service: ServiceName) => path.join(settings.runDir, `${service}.pid`);
export const logFile = (settings: ProductionSettings, service: ServiceName) =>
  path.join(settings.logDir, `${service}.log`);

/** Starts one server process (or finds it running) and waits until its gRPC port listens. */
export async function startService(
  settings: ProductionSettings,
  binaries: Pick<TemporalBinaries, 'server'>,
  service: ServiceName,
): Promise<'started' | 'reused'> {
  const port = settings.ports[service].grpc;
  const pid = readPid(pidFile(settings, service));
  const ours = pid !== undefined && processIsAlive(pid);
  if (!ours && (await portIsOpen(settings.host, port))) {
    throw new StackError(`port ${port} (Temporal ${service}) is taken by another program; stop it and start again`);
  }
  let child = pid;
  if (!ours) {
    fs.mkdirSync(settings.runDir, { recursive: true });
    fs.mkdirSync(settings.logDir, { recursive: true });
    child = spawnDetached(
      binaries.server,
      ['--config-file', settings.configTemplate, '--allow-no-auth', 'start', '--service', temporalServiceOf(service)],
      logFile(settings, service),
      pidFile(settings, service),
      { ...process.env, ...serverEnvironment(settings, service) },
    );
  }
  for (const deadline = Date.now() + 60_000; !(await portIsOpen(settings.host, port)); await sleep(200)) {
    if (!processIsAlive(child!) || Date.now() > deadline) {
      throw new StackError(
        `Temporal ${service} did not come up on port ${port}. Its log (${logFile(settings, service)}) ends with:\n` +
          tailOf(logFile(settings, service)),
      );
    }
  }
  return ours ? 'reused' : 'started';
}

/** SIGKILL one server process and wait until it is gone (for fault tests). */
export async function killService(settings: ProductionSettings, service: ServiceName): Promise<void> {
  const pid = readPid(pidFile(settings, service));
  if (pid === undefined || !processIsAlive(pid)) return;
  process.kill(pid, 'SIGKILL');
  for (const deadline = Date.now() + 10_000; processIsAlive(pid); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`Temporal ${service} (pid ${pid}) survived SIGKILL for 10 s`);
  }
}

export function servicePid(settings: ProductionSettings, service: ServiceName): number | undefined {
  const pid = readPid(pidFile(settings, service));
  return pid !== undefined && processIsAlive(pid) ? pid : undefined;
}

export async function stopServices(settings: ProductionSettings): Promise<ServiceName[]> {
  const stopped: ServiceName[] = [];
  // Frontends first, so no new work arrives while history and matching stop.
  for (const service of [...SERVICES].reverse()) {
    if (await stopProcess(pidFile(settings, service), 20_000)) stopped.push(service);
  }
  return stopped;
}

/** A client connection to the cluster: mutual TLS, or server-only TLS on the second frontend. */
export async function connectToCluster(
  settings: ProductionSettings,
  mode: 'mtls' | 'tls' = 'mtls',
  connectTimeout = 3000,
): Promise<Connection> {
  const { certs } = settings;
  return Connection.connect({
    address: mode === 'mtls' ? settings.mtlsAddress : settings.tlsAddress,
    connectTimeout,
    tls: {
      serverRootCACertificate: fs.readFileSync(certs.ca),
      serverNameOverride: SERVER_NAME,
      ...(mode === 'mtls'
        ? { clientCertPair: { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) } }
        : {}),
    },
  });
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  let last = '';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(300)) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
  }
  throw new StackError(`${what} did not happen within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
}

const KEYWORD = 2; // INDEXED_VALUE_TYPE_KEYWORD

/**
 * The namespace (the server makes none) and saliflow's Keyword search
 * attributes. A just-registered namespace or attribute can be refused for a
 * moment while the frontends' caches catch up, so each step is retried
 * until a visibility query that uses every attribute succeeds.
 */
export async function ensureNamespace(settings: ProductionSettings, log: Log): Promise<void> {
  const connection = await until('the frontend answering over mutual TLS', () => connectToCluster(settings));
  const { namespace } = settings;
  try {
    const service = connection.workflowService;
    await until('the frontend reaching history and matching', () =>
      service.getSystemInfo({}).then(() => true as const),
    );
    const exists = await service.describeNamespace({ namespace }).then(
      () => true,
      () => false,
    );
    if (!exists) {
      log(`registering the namespace ${namespace}…`);
      await until(`registering the namespace ${namespace}`, () =>
        service
          .registerNamespace({
            namespace,
            description: 'saliflow jobs',
            workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_DAYS} days`),
          })
          .then(
            () => true as const,
            (error: { code?: number }) => {
              if (error.code === 6 /* ALREADY_EXISTS */) return true as const;
              throw error;
            },
          ),
      );
    }
    await until(`the namespace ${namespace} being usable`, () =>
      service.describeNamespace({ namespace }).then(() => true as const),
    );
    await until(`registering saliflow's search attributes`, async () => {
      const existing = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
      if (missing.length === 0) return true as const;
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
      });
      return undefined;
    });
    const query = SEARCH_ATTRIBUTES.map((name) => `${name} = 'probe'`).join(' AND ');
    await until('the search attributes being queryable', () =>
      service.countWorkflowExecutions({ namespace, query }).then(() => true as const),
    );
  } finally {
    await connection.close();
  }
}

/** One line per server process for `status`. */
export async function servicesStatus(settings: ProductionSettings): Promise<string[]> {
  return Promise.all(
    SERVICES.map(async (service) => {
      const pid = servicePid(settings, service);
      const port = settings.ports[service].grpc;
      const listening = await portIsOpen(settings.host, port);
      return `temporal ${service}: ${pid && listening ? `up (pid ${pid}) on ${settings.host}:${port}` : pid ? `starting (pid ${pid})` : 'down'}`;
    }),
  );
}

/** The log files of the server processes, for messages about a failed start. */
export function serviceLogs(settings: ProductionSettings): string {
  return SERVICES.map((service) => logFile(settings, service)).join(', ');
}
