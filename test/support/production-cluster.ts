/**
 * The production-like Temporal (scripts/production.ts: PostgreSQL, one
 * process per service, mutual TLS) for test/production/: brought up if it
 * is not running, with helpers to configure services on it, connect, and
 * kill and restart its server processes. MySQL stays the dev stack's.
 */
import { Client, Connection } from '@temporalio/client';
import type { ServiceConfig } from '../../core/config/index.js';
import { temporalConnectionOptions } from '../../core/temporal-connection.js';
import { startProduction } from '../../scripts/production.js';
import { ensureTemporalBinaries } from '../../scripts/production/build.js';
import { SERVER_NAME, type ProductionSettings, type ServiceName } from '../../scripts/production/settings.js';
import { killService, servicePid, startService } from '../../scripts/production/temporal-cluster.js';
import { stackSettings, type StackSettings } from '../../scripts/stack/settings.js';

export type TlsMode = 'mtls' | 'tls';

export interface ProductionCluster {
  settings: ProductionSettings;
  /** The dev stack's MySQL with this cluster's frontend and namespace, for createServiceFixture's `stack`. */
  stack(mode?: TlsMode): StackSettings;
  /** `[temporal]` keys for a service config: the frontend's CA and name, and the client certificate for mutual TLS. */
  temporalSection(mode?: TlsMode): Record<string, string>;
  /** SIGKILL one server process (history, matching, …) and wait until it is gone. */
  kill(service: ServiceName): Promise<void>;
  /** Start it again on the same ports and database; resolves once it listens. */
  restart(service: ServiceName): Promise<void>;
  pid(service: ServiceName): number | undefined;
}

const quiet = () => undefined;

export async function productionCluster(): Promise<ProductionCluster> {
  const { settings } = await startProduction({ ui: false, log: quiet });
  const binaries = await ensureTemporalBinaries(settings, quiet);
  const { certs } = settings;
  return {
    settings,
    stack(mode = 'mtls') {
      const dev = stackSettings();
      return {
        ...dev,
        temporal: {
          ...dev.temporal,
          address: mode === 'mtls' ? settings.mtlsAddress : settings.tlsAddress,
          namespace: settings.namespace,
        },
      };
    },
    temporalSection(mode = 'mtls') {
      return {
        tls_server_ca: certs.ca,
        tls_server_name: SERVER_NAME,
        ...(mode === 'mtls' ? { tls_client_cert: certs.clientCert, tls_client_key: certs.clientKey } : {}),
      };
    },
    kill: (service) => killService(settings, service),
    async restart(service) {
      await startService(settings, binaries, service);
    },
    pid: (service) => servicePid(settings, service),
  };
}

/** A Temporal client with the service config's own connection settings (its TLS). */
export async function clientFor(config: ServiceConfig): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect(await temporalConnectionOptions(config));
  return { client: new Client({ connection, namespace: config.temporal.namespace }), close: () => connection.close() };
}
