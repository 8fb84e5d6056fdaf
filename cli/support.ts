/**
 * What every `saliflow` verb shares: connections named by the service
 * config, validation of job names and states, confirmation prompts, and the
 * exit codes (0 ok, 1 error, 2 usage, 3 the service needs attention).
 */
import readline from 'node:readline/promises';
import mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { temporalConnectionError, temporalConnectionOptions } from '../core/temporal-connection.js';
import { progressBar } from './progress.js';
import { JOB_NAME } from '../core/job-name.js';
import { AttentionError, NoSuchJobError, SomeJobsFailedError, UsageError } from '../core/errors.js';
import { describeDatabaseError } from '../store/pool.js';

export const EXIT = { ok: 0, error: 1, usage: 2, attention: 3 } as const;

export { AttentionError, NoSuchJobError, SomeJobsFailedError, UsageError };
export { formatTable, formatTime, mysqlAddress, parseState, serviceLink, workflowLink } from '../client/format.js';

export function validateJobName(name: string): string {
  if (!JOB_NAME.test(name)) {
    throw new UsageError(
      `bad job name ${JSON.stringify(name)}: job names have 1 to 40 letters, digits, "_" or "-"; check the name with \`saliflow list\``,
    );
  }
  return name;
}

export async function backendConnection(config: ServiceConfig) {
  const { db, host, port, socket, backend } = config.database;
  return mysql
    .createConnection({
      database: db,
      user: backend.user,
      password: backend.passwd,
      ...(socket ? { socketPath: socket } : { host, port }),
      timezone: 'Z',
    })
    .catch((error: unknown) => {
      throw describeDatabaseError(config, error);
    });
}

export async function temporalClient(config: ServiceConfig) {
  const options = await temporalConnectionOptions(config);
  const connection = await Connection.connect({ ...options, connectTimeout: 10_000 }).catch((error: unknown) => {
    throw temporalConnectionError(config, error);
  });
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    connection,
    close: () => connection.close(),
  };
}

/**
 * Asks `question` on the terminal and says whether the answer is one of
 * `accepted`. Without a terminal there is nobody to ask: the operator must
 * say `--force`, so its absence is a usage error.
 */
export async function confirm(question: string, accepted: readonly string[], what: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new UsageError(`${what}: standard input is not a terminal, so nobody can confirm; pass --force`);
  }
  const prompt = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return accepted.includes((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

/**
 * Runs `work` for each job, going on after a failure (each is printed with
 * the job's name), and throws once at the end if any failed. On a terminal
 * a progress bar on stderr counts the jobs; `work` prints with `print` so
 * its lines go above the bar.
 */
export async function forEachJob(
  jobs: readonly string[],
  verb: string,
  work: (job: string, print: (text: string) => void) => Promise<void>,
) {
  let failed = 0;
  const progress = progressBar({ label: `jobs ${verb}`, total: jobs.length });
  const print = (text: string) => progress.print(text);
  try {
    for (const job of jobs) {
      try {
        await work(job, print);
      } catch (error) {
        failed++;
        progress.print(`saliflow: ${(error as Error).message}`, process.stderr);
      }
      progress.tick();
    }
  } finally {
    progress.stop();
  }
  if (failed > 0) throw new SomeJobsFailedError(`${failed} of ${jobs.length} job(s) not ${verb}`);
}
