/** One verb's connections to the service named by `--config`, opened when first needed and always closed. */
import type { Client } from '@temporalio/client';
import { loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { createPool, describeDatabaseError, type Pool } from '../store/pool.js';
import { temporalClient, validateJobName } from './support.js';

export interface Session {
  config: ServiceConfig;
  /** The backend user's pool. */
  pool(): Pool;
  client(): Promise<Client>;
}

export async function withSession<T>(configFile: string, work: (session: Session) => Promise<T>): Promise<T> {
  const config = loadServiceConfig(configFile);
  let pool: Pool | undefined;
  let temporal: ReturnType<typeof temporalClient> | undefined;
  try {
    return await work({
      config,
      pool: () => (pool ??= createPool(config)),
      client: async () => (await (temporal ??= temporalClient(config))).client,
    });
  } catch (error) {
    throw describeDatabaseError(config, error);
  } finally {
    await pool?.end();
    if (temporal) await (await temporal.catch(() => undefined))?.close();
  }
}

/** A session for a command on named jobs, once every name is valid. */
export function withJobsSession<T>(
  jobs: readonly string[],
  configFile: string,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  jobs.forEach(validateJobName);
  return withSession(configFile, work);
}
