/**
 * Where the dev stack lives and how to reach it. Every value has an
 * embedded default so `npm run demo` and `npm test` work on a fresh
 * machine; each can be overridden from the environment to point saliflow at
 * an existing Temporal server or MySQL.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOB_SERVICE, JOB_STATE, JOB_USER } from '../../core/job-workflow-contract.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StackSettings {
  stateDir: string;
  temporal: {
    address: string;
    host: string;
    port: number;
    uiPort: number;
    namespace: string;
    cliPath?: string;
    dbFile: string;
    logFile: string;
    pidFile: string;
  };
  mysql: {
    host: string;
    port: number;
    adminUser: string;
    adminPassword: string;
    dataDir: string;
    socket: string;
    logFile: string;
    pidFile: string;
  };
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port; set it to an integer between 1 and 65535`);
  }
  return value;
}

export function stackSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const stateDir = path.resolve(env.SALIFLOW_STATE_DIR ?? path.join(REPO_ROOT, '.state'));
  const address = env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const [host = '127.0.0.1', portText = '7233'] = address.split(':');
  const temporalPort = Number(portText);
  if (!Number.isInteger(temporalPort)) {
    throw new Error(`TEMPORAL_ADDRESS=${address} is not host:port; use e.g. 127.0.0.1:7233`);
  }
  const temporalDir = path.join(stateDir, 'temporal');
  const mysqlDir = path.join(stateDir, 'mariadb');
  return {
    stateDir,
    temporal: {
      address,
      host,
      port: temporalPort,
      uiPort: intFromEnv(env, 'SALIFLOW_TEMPORAL_UI_PORT', temporalPort + 1000),
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      ...(env.TEMPORAL_CLI_PATH ? { cliPath: env.TEMPORAL_CLI_PATH } : {}),
      dbFile: path.join(temporalDir, 'temporal.db'),
      logFile: path.join(temporalDir, 'server.log'),
      pidFile: path.join(temporalDir, 'server.pid'),
    },
    mysql: {
      host: env.SALIFLOW_MYSQL_HOST ?? '127.0.0.1',
      port: intFromEnv(env, 'SALIFLOW_MYSQL_PORT', 3306),
      adminUser: env.SALIFLOW_MYSQL_ADMIN_USER ?? 'saliflow_admin',
      adminPassword: env.SALIFLOW_MYSQL_ADMIN_PASSWORD ?? 'saliflow-admin-dev',
      dataDir: path.join(mysqlDir, 'data'),
      socket: path.join(mysqlDir, 'mysqld.sock'),
      logFile: path.join(mysqlDir, 'mysqld.log'),
      pidFile: path.join(mysqlDir, 'mysqld.pid'),
    },
  };
}

/** The search attributes every saliflow workflow sets (ARCHITECTURE.md #8), all Keyword. */
export const SEARCH_ATTRIBUTES: readonly string[] = [JOB_STATE, JOB_SERVICE, JOB_USER].map((key) => key.name);
