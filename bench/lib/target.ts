/**
 * Which Temporal the benchmark runs against: the dev stack's single-process
 * dev server (`dev`, the default) or the production-like cluster of
 * `npm run production` (`production`: PostgreSQL, one process per service,
 * mutual TLS). Chosen by `--temporal` and passed to the benchmark's child
 * processes (the floor's worker) as SALIFLOW_BENCH_TEMPORAL.
 */
import fs from 'node:fs';
import type { TemporalConnectionOptions } from '../../core/temporal-connection.js';
import { productionSettings, SERVER_NAME, SERVICES } from '../../scripts/production/settings.js';
import { servicePid } from '../../scripts/production/temporal-cluster.js';
import { stackSettings, type StackSettings } from '../../scripts/stack/settings.js';

export type TemporalTarget = 'dev' | 'production';

export const TARGET_VARIABLE = 'SALIFLOW_BENCH_TEMPORAL';

export function benchTarget(): TemporalTarget {
  const value = process.env[TARGET_VARIABLE] || 'dev';
  if (value !== 'dev' && value !== 'production') {
    throw new Error(`${TARGET_VARIABLE}=${value}: expected dev or production`);
  }
  return value;
}

/** Connection options and namespace for the target's frontend (mutual TLS on production). */
export function targetConnection(): { options: TemporalConnectionOptions; namespace: string } {
  if (benchTarget() === 'dev') {
    const { address, namespace } = stackSettings().temporal;
    return { options: { address }, namespace };
  }
  const settings = productionSettings();
  const { certs } = settings;
  return {
    options: {
      address: settings.mtlsAddress,
      tls: {
        serverRootCACertificate: fs.readFileSync(certs.ca),
        serverNameOverride: SERVER_NAME,
        clientCertPair: { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) },
      },
    },
    namespace: settings.namespace,
  };
}

/** What createServiceFixture needs to put a service on the target: the stack, and `[temporal]` TLS keys. */
export function targetFixture(): { stack?: StackSettings; temporalSection: Record<string, string> } {
  if (benchTarget() === 'dev') return { temporalSection: {} };
  const settings = productionSettings();
  const dev = stackSettings();
  return {
    stack: { ...dev, temporal: { ...dev.temporal, address: settings.mtlsAddress, namespace: settings.namespace } },
    temporalSection: {
      tls_server_ca: settings.certs.ca,
      tls_server_name: SERVER_NAME,
      tls_client_cert: settings.certs.clientCert,
      tls_client_key: settings.certs.clientKey,
    },
  };
}

/** The Temporal server processes running here (one for the dev server, one per service for production). */
export function targetTemporalPids(devServerPid: number | undefined): number[] {
  if (benchTarget() === 'dev') return devServerPid === undefined ? [] : [devServerPid];
  const settings = productionSettings();
  return SERVICES.map((service) => servicePid(settings, service)).filter((pid) => pid !== undefined);
}
