/**
 * The production-like Temporal topology (`npm run production -- start`):
 * versions, ports, paths and the environment each Temporal service process
 * renders `temporal-server.yaml` with. docker-compose.yml describes the same
 * deployment; test/unit/compose-file.test.ts holds the two together, so
 * every value both need is exported from here.
 *
 * The ports sit away from the dev stack's (7233, 8233, 3306, SGE, SLURM) and
 * below Linux's ephemeral range, so nothing picked at random takes them.
 */
import path from 'node:path';
import { REPO_ROOT } from '../stack/settings.js';

/** What `go install` builds, and with which Go (1.32 needs a newer Go than Debian's). */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.32.2';
export const UI_SERVER_MODULE = 'github.com/temporalio/ui-server/v2';
export const UI_SERVER_VERSION = 'v2.58.1';
export const GO_TOOLCHAIN = 'go1.27.3';
/**
 * Versions the Go module proxy refuses, and the served ones the UI server's
 * wrapper module builds with instead (`replace` lines).
 */
export const UI_SERVER_REPLACEMENTS: Record<string, { refused: string; served: string }> = {
  'go.temporal.io/api': { refused: 'v1.64.0', served: 'v1.64.3' },
  'github.com/labstack/echo/v4': { refused: 'v4.16.1', served: 'v4.16.0' },
};
export const POSTGRES_MAJOR = 15;

/** The namespace saliflow's jobs run in; the server creates none by itself. */
export const NAMESPACE = 'saliflow';
/** How long closed workflows stay visible (saliflow keeps its own record in MySQL). */
export const NAMESPACE_RETENTION_DAYS = 7;
/** Temporal's SQL plugin for PostgreSQL ≥ 12, and the two databases it uses. */
export const SQL_PLUGIN = 'postgres12';
export const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;
/** The name in the frontend's certificate, which clients verify (no DNS name needed on loopback). */
export const SERVER_NAME = 'temporal.saliflow.internal';
/** Server processes in start order: the frontends last, once the services they call are up. */
export const SERVICES = ['history', 'matching', 'worker', 'frontend', 'frontend-tls'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface ProductionSettings {
  dir: string;
  binDir: string;
  logDir: string;
  runDir: string;
  host: string;
  namespace: string;
  /** The Temporal config template every service process renders. */
  configTemplate: string;
  postgres: {
    port: number;
    dataDir: string;
    user: string;
    password: string;
    logFile: string;
  };
  /** gRPC, membership (ringpop) and Prometheus metrics ports of each server process. */
  ports: Record<ServiceName, { grpc: number; membership: number; metrics: number; http?: number }>;
  /** Mutual TLS (the frontend every saliflow process and the system worker use). */
  mtlsAddress: string;
  /** Server-only TLS with the private CA (a second frontend process of the same cluster). */
  tlsAddress: string;
  ui: { port: number; configDir: string };
  certs: CertificatePaths;
}

export interface CertificatePaths {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** The certificate files in `dir` (docker-compose.yml mounts them at /certs). */
export function certificatePaths(dir: string): CertificatePaths {
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
  };
}

export function productionSettings(env: NodeJS.ProcessEnv = process.env): ProductionSettings {
  const stateDir = path.resolve(env.SALIFLOW_STATE_DIR ?? path.join(REPO_ROOT, '.state'));
  const dir = path.join(stateDir, 'production');
  const host = '127.0.0.1';
  const ports: ProductionSettings['ports'] = {
    frontend: { grpc: 17233, membership: 17933, metrics: 17090, http: 17243 },
    history: { grpc: 17234, membership: 17934, metrics: 17091 },
    matching: { grpc: 17235, membership: 17935, metrics: 17092 },
    worker: { grpc: 17239, membership: 17939, metrics: 17093 },
    'frontend-tls': { grpc: 17253, membership: 17953, metrics: 17094, http: 17263 },
  };
  return {
    dir,
    binDir: path.join(dir, 'bin'),
    logDir: path.join(dir, 'logs'),
    runDir: path.join(dir, 'run'),
    host,
    namespace: NAMESPACE,
    configTemplate: path.join(REPO_ROOT, 'scripts/production/temporal-server.yaml'),
    postgres: {
      port: 17432,
      dataDir: path.join(dir, 'postgres'),
      user: 'temporal',
      password: 'temporal-production-dev',
      logFile: path.join(dir, 'logs', 'postgres.log'),
    },
    ports,
    mtlsAddress: `${host}:${ports.frontend.grpc}`,
    tlsAddress: `${host}:${ports['frontend-tls'].grpc}`,
    ui: { port: 18233, configDir: path.join(dir, 'ui') },
    certs: certificatePaths(path.join(dir, 'certs')),
  };
}

/**
 * The environment `temporal-server.yaml` is rendered with for one server
 * process (`# enable-template`: Go templates, `env "NAME"`). Every process
 * shares the persistence and TLS settings; each has its own metrics port,
 * and the second frontend its own ports and no client-certificate check.
 */
export function serverEnvironment(settings: ProductionSettings, service: ServiceName): Record<string, string> {
  const { ports, postgres, certs, host } = settings;
  const frontend = service === 'frontend-tls' ? ports['frontend-tls'] : ports.frontend;
  return {
    LOG_LEVEL: 'warn',
    NUM_HISTORY_SHARDS: '4',
    POSTGRES_SEEDS: host,
    DB_PORT: String(postgres.port),
    POSTGRES_USER: postgres.user,
    POSTGRES_PWD: postgres.password,
    DBNAME: DATABASES.temporal,
    VISIBILITY_DBNAME: DATABASES.visibility,
    BIND_ON_IP: host,
    BROADCAST_ADDRESS: host,
    FRONTEND_GRPC_PORT: String(frontend.grpc),
    FRONTEND_MEMBERSHIP_PORT: String(frontend.membership),
    FRONTEND_HTTP_PORT: String(frontend.http),
    HISTORY_GRPC_PORT: String(ports.history.grpc),
    HISTORY_MEMBERSHIP_PORT: String(ports.history.membership),
    MATCHING_GRPC_PORT: String(ports.matching.grpc),
    MATCHING_MEMBERSHIP_PORT: String(ports.matching.membership),
    WORKER_GRPC_PORT: String(ports.worker.grpc),
    WORKER_MEMBERSHIP_PORT: String(ports.worker.membership),
    PROMETHEUS_ENDPOINT: `${host}:${ports[service].metrics}`,
    PUBLIC_FRONTEND_ADDRESS: settings.mtlsAddress,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    TEMPORAL_TLS_CA_CERT: certs.ca,
    TEMPORAL_TLS_FRONTEND_CERT: certs.serverCert,
    TEMPORAL_TLS_FRONTEND_KEY: certs.serverKey,
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: service === 'frontend-tls' ? 'false' : 'true',
    TEMPORAL_TLS_SYSTEM_WORKER_CERT: certs.clientCert,
    TEMPORAL_TLS_SYSTEM_WORKER_KEY: certs.clientKey,
  };
}

/** `--service` of a server process (the second frontend is a frontend too). */
export function temporalServiceOf(service: ServiceName): string {
  return service === 'frontend-tls' ? 'frontend' : service;
}

/**
 * saliflow's `[temporal]` settings for this cluster, as environment
 * variables (they override any config file): mutual TLS, or server-only
 * TLS with the private CA.
 */
export function saliflowTemporalEnv(
  settings: ProductionSettings,
  mode: 'mtls' | 'tls' = 'mtls',
): Record<string, string> {
  const { certs } = settings;
  return {
    TEMPORAL_ADDRESS: mode === 'mtls' ? settings.mtlsAddress : settings.tlsAddress,
    TEMPORAL_NAMESPACE: settings.namespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    TEMPORAL_TLS_CLIENT_CERT_PATH: mode === 'mtls' ? certs.clientCert : '',
    TEMPORAL_TLS_CLIENT_KEY_PATH: mode === 'mtls' ? certs.clientKey : '',
    SALIFLOW_WEB_UI: `http://${settings.host}:${settings.ui.port}`,
  };
}
