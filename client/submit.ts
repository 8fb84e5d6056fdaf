/**
 * What a frontend does to submit a job, as saliweb's frontend does it:
 * choose a unique name, create the directory under INCOMING with the input
 * files, insert the row, then start the job's workflow.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { JOB_SERVICE, JOB_STATE, JOB_USER } from '../workflows/search-attributes.js';
import type { JobWorkflowInput } from '../workflows/job-workflow.js';
import { candidateJobName, randomToken, sanitizeJobName } from './job-names.js';
import { jobWorkflowId } from './workflow-ids.js';

export interface SubmitJobOptions {
  config: ServiceConfig;
  /** A pool or connection with (at least) the frontend user's rights. */
  db: Pick<mysql.Pool, 'query'>;
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
  throw new Error(`could not find a free job name starting with ${base} in ${incoming}`);
}

function safeRelativePath(directory: string, relative: string): string {
  const full = path.resolve(directory, relative);
  if (!full.startsWith(directory + path.sep)) {
    throw new Error(`input file "${relative}" would be written outside the job directory; use a relative path`);
  }
  return full;
}

export async function startJobWorkflow(
  client: Client,
  config: ServiceConfig,
  job: string,
  user: string | null,
  input: JobWorkflowInput = { job },
) {
  return client.workflow.start('jobWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: jobWorkflowId(config.general.serviceName, job),
    args: [input],
    // A second start of a live job is a no-op; a closed one (failed) may run again.
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: JOB_SERVICE, value: config.general.serviceName },
      { key: JOB_STATE, value: input.resubmit ? 'FAILED' : 'INCOMING' },
      ...(user ? [{ key: JOB_USER, value: user }] : []),
    ],
    staticSummary: `${config.general.serviceName} job ${job}${user ? ` for ${user}` : ''}`,
  });
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
        await db.query(
          'INSERT INTO jobs (name, passwd, user, contact_email, directory, url, submit_time) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())',
          [claimed.name, passwd, user, options.contactEmail ?? null, claimed.directory, url],
        );
        for (const parent of options.parents ?? []) {
          await db.query('INSERT INTO dependencies (child, parent) VALUES (?, ?)', [claimed.name, parent]);
        }
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
      await startJobWorkflow(options.client, config, claimed.name, user);
      started = true;
    } catch {
      // As saliweb ignores a dead backend socket: the row is in, reconcile starts it.
    }
  }
  return { name: claimed.name, directory: claimed.directory, passwd, url, workflowId, started };
}
