/**
 * What a frontend does to submit a job, as saliweb's frontend does it:
 * choose a unique name, create the directory under INCOMING with the input
 * files, insert the row, then start the job's workflow. The package's
 * `saliflow/client` entry point: with `connectFrontend` (the config read, the
 * frontend user's MySQL pool and a Temporal client made) a frontend needs
 * nothing else from saliflow, nor mysql2 or Temporal packages of its own.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import { loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { temporalConnectionError, temporalConnectionOptions } from '../core/temporal-connection.js';
import { createPool, type Pool } from '../store/pool.js';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import { startJob } from '../activities/job-start.js';
import { insertJob } from '../store/job-submission.js';
import { candidateJobName, randomToken, sanitizeJobName } from './job-names.js';
import { SubmissionError } from '../core/errors.js';

export interface SubmitJobOptions {
  config: ServiceConfig;
  /** A pool with (at least) the frontend user's rights; the row and its dependencies go in one transaction. */
  db: Pick<mysql.Pool, 'getConnection'>;
  /** Temporal client; when absent or unreachable the job is left for the reconcile schedule to start. */
  client?: Client;
  /** Requested name; sanitised and made unique. */
  name: string;
  user?: string | null;
  contactEmail?: string | null;
  /** Input files, relative path → content. */
  files?: Readonly<Record<string, string | Uint8Array>>;
  /** Results URL; default `<urltop>/job/<name>?passwd=<passwd>`. */
  url?: string;
  /** Jobs that must complete before this one starts (rows in `dependencies`). */
  parents?: readonly string[];
}

export interface SubmittedJob {
  name: string;
  directory: string;
  passwd: string;
  url: string;
  workflowId: string;
  /** False when Temporal could not be reached; the reconcile schedule starts it later. */
  started: boolean;
}

const MAX_NAME_ATTEMPTS = 20;

async function claimDirectory(incoming: string, base: string): Promise<{ name: string; directory: string }> {
  await fs.mkdir(incoming, { recursive: true });
  for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
    const name = candidateJobName(base, attempt);
    const directory = path.join(incoming, name);
    try {
      await fs.mkdir(directory);
      return { name, directory };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new SubmissionError(`could not find a free job name starting with ${base} in ${incoming}`);
}

function safeRelativePath(directory: string, relative: string): string {
  const full = path.resolve(directory, relative);
  if (!full.startsWith(directory + path.sep)) {
    throw new SubmissionError(
      `input file "${relative}" would be written outside the job directory; use a relative path`,
    );
  }
  return full;
}

export async function submitJob(options: SubmitJobOptions): Promise<SubmittedJob> {
  const { config, db } = options;
  const base = sanitizeJobName(options.name);
  let claimed = await claimDirectory(config.directories.INCOMING, base);
  const passwd = randomToken(10);
  const user = options.user ?? null;
  let url: string;
  try {
    for (const [relative, content] of Object.entries(options.files ?? {})) {
      const target = safeRelativePath(claimed.directory, relative);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, content);
    }
    for (let attempt = 0; ; attempt++) {
      url = options.url ?? `${config.general.urltop}/job/${claimed.name}?passwd=${passwd}`;
      try {
        await insertJob(db, {
          name: claimed.name,
          passwd,
          user,
          contactEmail: options.contactEmail ?? null,
          directory: claimed.directory,
          url,
          parents: options.parents ?? [],
        });
        break;
      } catch (error) {
        // A row without a directory (an expired job) can hold the name: pick another.
        if ((error as { code?: string }).code !== 'ER_DUP_ENTRY' || attempt >= MAX_NAME_ATTEMPTS) throw error;
        const next = await claimDirectory(config.directories.INCOMING, base);
        await fs.rm(next.directory, { recursive: true });
        await fs.rename(claimed.directory, next.directory);
        claimed = next;
      }
    }
  } catch (error) {
    // Nothing half-made is left behind: no row was inserted, so remove the directory.
    await fs.rm(claimed.directory, { recursive: true, force: true });
    throw error;
  }
  const workflowId = jobWorkflowId(config.general.serviceName, claimed.name);
  let started = false;
  if (options.client) {
    try {
      // The row is read again only if an earlier job of this name left a completed run.
      const connection = await db.getConnection();
      try {
        started = (await startJob(options.client, config, { job: claimed.name, user, db: connection })).started;
      } finally {
        connection.release();
      }
    } catch {
      // As saliweb ignores a dead backend socket: the row is in, reconcile starts it.
    }
  }
  return { name: claimed.name, directory: claimed.directory, passwd, url, workflowId, started };
}

export { loadServiceConfig };
export type { ServiceConfig };

/** What `connectFrontend` opened: the service's config, its connections, and `submitJob` over them. */
export interface Frontend {
  readonly config: ServiceConfig;
  /** The frontend MySQL user's pool (`[database] frontend_config`). */
  readonly db: Pool;
  /** Temporal's client; undefined when `temporal: 'optional'` was asked for and Temporal could not be reached. */
  readonly client: Client | undefined;
  /** {@link submitJob} with this frontend's config and connections. */
  submitJob(options: Omit<SubmitJobOptions, 'config' | 'db' | 'client'>): Promise<SubmittedJob>;
  /** Ends the pool and the Temporal connection; call it once, when the frontend stops. */
  close(): Promise<void>;
}

/**
 * Opens what a frontend needs to submit jobs to the service whose saliweb config file is
 * `config` (a path, read with {@link loadServiceConfig}, or a config already read): a MySQL
 * pool as the frontend user and a Temporal client, with the config's TLS and API key.
 *
 * ```ts
 * import { connectFrontend } from 'saliflow/client';
 * const frontend = await connectFrontend('/srv/modfoo/conf/live.conf');
 * try {
 *   const job = await frontend.submitJob({ name: 'my-job', files: { 'input.pdb': pdbText } });
 *   console.log(job.name, job.url);
 * } finally {
 *   await frontend.close();
 * }
 * ```
 *
 * @param options.temporal `'required'` (the default) throws a `ConnectionError` naming the
 *   address when Temporal cannot be reached; `'optional'` goes on without it, and jobs are then
 *   started by the worker's reconcile schedule (as saliweb ignored a dead backend socket).
 * @throws ConfigError for a malformed config file, ConnectionError when Temporal is required and unreachable
 */
export async function connectFrontend(
  config: string | ServiceConfig,
  options: { temporal?: 'required' | 'optional' } = {},
): Promise<Frontend> {
  const serviceConfig = typeof config === 'string' ? loadServiceConfig(config) : config;
  let connection: Connection | undefined;
  try {
    const connectOptions = await temporalConnectionOptions(serviceConfig);
    connection = await Connection.connect({ ...connectOptions, connectTimeout: 10_000 });
  } catch (error) {
    if (options.temporal !== 'optional') throw temporalConnectionError(serviceConfig, error);
  }
  const client = connection ? new Client({ connection, namespace: serviceConfig.temporal.namespace }) : undefined;
  const db = createPool(serviceConfig, 'frontend');
  return {
    config: serviceConfig,
    db,
    client,
    submitJob: (submit) => submitJob({ ...submit, config: serviceConfig, db, ...(client ? { client } : {}) }),
    async close() {
      await db.end();
      await connection?.close();
    },
  };
}
