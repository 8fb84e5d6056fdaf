/**
 * `[temporal]`, saliflow's own section: where the worker and clients
 * connect. The variables Temporal's own tools read (TEMPORAL_ADDRESS, …)
 * override the file, so one config serves a laptop and production alike.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { envString } from './env.js';
import type { SectionReader } from './section-reader.js';

/**
 * TLS to the frontend. A client certificate and key make it mutual TLS;
 * without them the server alone is verified, against `serverRootCaCertPath`
 * (a private CA) or the system's CAs.
 */
export interface TemporalTlsConfig {
  clientCertPath?: string;
  clientKeyPath?: string;
  serverRootCaCertPath?: string;
  serverNameOverride?: string;
}

export interface TemporalConfig {
  /** @defaultValue `localhost:7233` */
  address: string;
  /** @defaultValue `default` */
  namespace: string;
  /** @defaultValue `saliflow-<service_name lower-cased, spaces as dashes>` */
  taskQueue: string;
  tls?: TemporalTlsConfig;
  apiKey?: string;
  /**
   * Base URL of the Temporal Web UI, for the links operators' commands print.
   * @defaultValue `http://<host>:8233` for a dev server on this machine (localhost:7233), else unset
   */
  webUi?: string;
}

export const TEMPORAL_KEYS = [
  'address',
  'namespace',
  'task_queue',
  'tls',
  'tls_client_cert',
  'tls_client_key',
  'tls_server_ca',
  'tls_server_name',
  'api_key',
  'web_ui',
] as const;

type TemporalKey = (typeof TEMPORAL_KEYS)[number];

interface Setting {
  value: string;
  /** For messages: the key, or the variable that overrode it. */
  source: string;
}

export function defaultTaskQueue(serviceName: string): string {
  // service_name is human-readable ("Peptide Docking"); a task queue is typed in CLIs.
  return `saliflow-${serviceName.trim().toLowerCase().replace(/\s+/g, '-')}`;
}

export function readTemporalConfig(
  section: SectionReader,
  configDir: string,
  serviceName: string,
  env: NodeJS.ProcessEnv,
): TemporalConfig {
  const setting = (key: TemporalKey, envName: string): Setting | undefined => {
    const fromEnv = envString(env, envName);
    if (fromEnv !== undefined) return { value: fromEnv, source: `${envName} (environment)` };
    const fromFile = section.optional(key);
    return fromFile === undefined ? undefined : { value: fromFile, source: key };
  };
  // Paths from the environment are relative to the working folder, like any command-line path.
  const file = (key: TemporalKey, envName: string): Setting | undefined => {
    const found = setting(key, envName);
    if (found === undefined) return undefined;
    const path = found.source === key ? resolve(configDir, found.value) : resolve(found.value);
    if (!existsSync(path)) throw section.error(key, `${path} (from ${found.source}) does not exist`);
    return { value: path, source: found.source };
  };

  const cert = file('tls_client_cert', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = file('tls_client_key', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  const ca = file('tls_server_ca', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  const serverName = setting('tls_server_name', 'TEMPORAL_TLS_SERVER_NAME');

  if (cert !== undefined && key === undefined) {
    throw section.error('tls_client_key', `missing: ${cert.source} sets a client certificate, which needs its key too`);
  }
  if (key !== undefined && cert === undefined) {
    throw section.error('tls_client_cert', `missing: ${key.source} sets a client key, which needs its certificate too`);
  }
  const tlsSwitch = setting('tls', 'TEMPORAL_TLS');
  const tlsOn = tlsSwitch === undefined ? undefined : parseSwitch(tlsSwitch.value);
  if (tlsSwitch !== undefined && tlsOn === undefined) {
    throw section.error('tls', `${tlsSwitch.source} is ${JSON.stringify(tlsSwitch.value)}; use true or false`);
  }
  const tlsDetail = cert ?? ca ?? serverName;
  if (tlsOn === false && tlsDetail !== undefined) {
    throw section.error(
      'tls',
      `${tlsSwitch!.source} turns TLS off but ${tlsDetail.source} is a TLS setting; remove one of them`,
    );
  }
  const useTls = tlsOn === true || tlsDetail !== undefined;

  const apiKey = setting('api_key', 'TEMPORAL_API_KEY')?.value;
  const address = setting('address', 'TEMPORAL_ADDRESS')?.value ?? 'localhost:7233';
  const webUi = setting('web_ui', 'SALIFLOW_WEB_UI')?.value ?? devServerWebUi(address);
  return {
    address,
    namespace: setting('namespace', 'TEMPORAL_NAMESPACE')?.value ?? 'default',
    taskQueue: setting('task_queue', 'SALIFLOW_TASK_QUEUE')?.value ?? defaultTaskQueue(serviceName),
    ...(useTls
      ? {
          tls: {
            ...(cert !== undefined && key !== undefined
              ? { clientCertPath: cert.value, clientKeyPath: key.value }
              : {}),
            ...(ca !== undefined ? { serverRootCaCertPath: ca.value } : {}),
            ...(serverName !== undefined ? { serverNameOverride: serverName.value } : {}),
          },
        }
      : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(webUi !== undefined ? { webUi: webUi.replace(/\/+$/, '') } : {}),
  };
}

function parseSwitch(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(lower)) return true;
  if (['false', 'no', '0', 'off'].includes(lower)) return false;
  return undefined;
}

/**
 * A dev server on this machine (`temporal server start-dev`) serves its Web UI
 * on 8233 beside the frontend's 7233; any other server's UI is wherever its
 * operator put it, so `web_ui` must say.
 */
function devServerWebUi(address: string): string | undefined {
  const match = /^(localhost|127\.0\.0\.1|\[::1\]):7233$/.exec(address);
  return match ? `http://${match[1]}:8233` : undefined;
}

/**
 * Where the worker and clients connect, and where each value came from, for the
 * start-up line and connection errors: a default taken because a section is
 * missing (or misspelt) is said out loud.
 */
export function describeTemporalTarget(
  temporal: TemporalConfig,
  section: { values: ReadonlyMap<string, string> } | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const origin = (key: TemporalKey, envName: string) =>
    envString(env, envName) !== undefined ? envName : section?.values.get(key) ? `[temporal] ${key}` : 'default';
  return (
    `${temporal.address} (${origin('address', 'TEMPORAL_ADDRESS')}), ` +
    `namespace ${temporal.namespace} (${origin('namespace', 'TEMPORAL_NAMESPACE')}), ` +
    `task queue ${temporal.taskQueue} (${origin('task_queue', 'SALIFLOW_TASK_QUEUE')})`
  );
}
