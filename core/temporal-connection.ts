/**
 * Connection options for Temporal from the service config, shared by the
 * worker's NativeConnection and the clients' Connection so both honour TLS
 * client certificates and API keys alike.
 */
import fs from 'node:fs/promises';
import { describeTemporalTarget, type ServiceConfig } from './config/index.js';
import { ConnectionError, describeThrown } from './errors.js';

export interface TemporalConnectionOptions {
  address: string;
  tls?:
    | boolean
    | {
        clientCertPair?: { crt: Buffer; key: Buffer };
        serverRootCACertificate?: Buffer;
        serverNameOverride?: string;
      };
  apiKey?: string;
}

export async function temporalConnectionOptions(config: ServiceConfig): Promise<TemporalConnectionOptions> {
  const { address, tls, apiKey } = config.temporal;
  if (tls) {
    return {
      address,
      tls: {
        // Without a client certificate: server-only TLS (the CA given, or the system's).
        ...(tls.clientCertPath && tls.clientKeyPath
          ? {
              clientCertPair: {
                crt: await fs.readFile(tls.clientCertPath),
                key: await fs.readFile(tls.clientKeyPath),
              },
            }
          : {}),
        ...(tls.serverRootCaCertPath ? { serverRootCACertificate: await fs.readFile(tls.serverRootCaCertPath) } : {}),
        ...(tls.serverNameOverride ? { serverNameOverride: tls.serverNameOverride } : {}),
      },
      ...(apiKey ? { apiKey } : {}),
    };
  }
  // An API key means Temporal Cloud (or a proxy like it): TLS with the system CAs.
  return apiKey ? { address, tls: true, apiKey } : { address };
}

/** Why a connection to Temporal failed, naming the address, the namespace and where they were set. */
export function temporalConnectionError(config: ServiceConfig, error: unknown): ConnectionError {
  const target = describeTemporalTarget(config.temporal, config.sections.findSection('temporal'));
  // The SDK's Core says why in Rust's debug format; the OS's message in it is what a person needs.
  const raw = describeThrown(error).split('\n')[0] ?? '';
  const cause = /message: "([^"]+)"/.exec(raw)?.[1] ?? raw;
  return new ConnectionError(
    `cannot connect to Temporal at ${target}: ${cause}; check that the Temporal server runs and is reachable ` +
      `from this host, and [temporal] address in ${config.configFile} (or TEMPORAL_ADDRESS)`,
    { cause: error },
  );
}
