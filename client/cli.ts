/**
 * The `saliflow` command line: operators' verbs on one service, named by its
 * config file (`--config`, or SALIFLOW_CONFIG).
 */
import { Command, Option } from 'commander';
import mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import { loadServiceConfig, type ServiceConfig } from '../core/config/index.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import { createTables, dropTables, provisionServiceDatabase } from './database-admin.js';
import { submitJob } from './submit.js';
import { cancelJob, resubmitJob } from './admin.js';
import { DEFAULT_LIST_STATES, formatJobs, listJobs } from './list-jobs.js';

const configOption = new Option('-c, --config <file>', 'the service config file (saliweb INI format)')
  .env('SALIFLOW_CONFIG')
  .makeOptionMandatory();

async function backendConnection(config: ServiceConfig) {
  const { db, host, port, socket, backend } = config.database;
  return mysql.createConnection({
    database: db,
    user: backend.user,
    password: backend.passwd,
    ...(socket ? { socketPath: socket } : { host, port }),
    timezone: 'Z',
  });
}

async function temporalClient(config: ServiceConfig) {
  const connection = await Connection.connect(await temporalConnectionOptions(config));
  return { client: new Client({ connection, namespace: config.temporal.namespace }), close: () => connection.close() };
}

export function buildCli(): Command {
  const program = new Command('saliflow').description('saliweb-style job backend on Temporal').showHelpAfterError();

  program
    .command('worker')
    .description('run the worker for a service (polls its Temporal task queue)')
    .addOption(configOption)
    .requiredOption('-s, --service <module>', 'the service module (default export: defineService({...}))')
    .option('--skip-consistency-check', 'start even if job directories and the jobs table disagree')
    .action(async (options: { config: string; service: string; skipConsistencyCheck?: boolean }) => {
      const { runWorker } = await import('../worker/main.js');
      await runWorker(options);
    });

  const db = program.command('db').description('the service tables');
  db.command('create-tables')
    .description("create the jobs and dependencies tables (with the service's own columns)")
    .addOption(configOption)
    .option('-s, --service <module>', 'the service module, for its own columns')
    .action(async (options: { config: string; service?: string }) => {
      const config = loadServiceConfig(options.config);
      const columns = options.service
        ? ((await (await import('../worker/load-service.js')).loadService(options.service)).columns ?? [])
        : [];
      const connection = await backendConnection(config);
      try {
        await createTables(connection, { columns, trackHostname: config.general.trackHostname });
      } finally {
        await connection.end();
      }
      console.log(`created tables jobs and dependencies in ${config.database.db}`);
    });
  db.command('provision')
    .description('create the database, its frontend and backend users (with their rights) and the tables, as an admin')
    .addOption(configOption)
    .option('-s, --service <module>', 'the service module, for its own columns')
    .addOption(
      new Option('--admin-user <user>', 'a MySQL account that may create databases and users')
        .env('SALIFLOW_MYSQL_ADMIN_USER')
        .default('root'),
    )
    .addOption(new Option('--admin-password <password>').env('SALIFLOW_MYSQL_ADMIN_PASSWORD').default(''))
    .action(async (options: { config: string; service?: string; adminUser: string; adminPassword: string }) => {
      const config = loadServiceConfig(options.config);
      const columns = options.service
        ? ((await (await import('../worker/load-service.js')).loadService(options.service)).columns ?? [])
        : [];
      const { db: database, host, port, backend, frontend } = config.database;
      await provisionServiceDatabase(
        { host, port, user: options.adminUser, password: options.adminPassword },
        { db: database, backend, frontend, columns, trackHostname: config.general.trackHostname },
      );
      console.log(`database ${database} ready: users ${backend.user} (backend), ${frontend.user} (frontend)`);
    });
  db.command('drop-tables')
    .description('drop the jobs and dependencies tables (all job records are lost)')
    .addOption(configOption)
    .action(async (options: { config: string }) => {
      const config = loadServiceConfig(options.config);
      const connection = await backendConnection(config);
      try {
        await dropTables(connection);
      } finally {
        await connection.end();
      }
      console.log(`dropped tables jobs and dependencies in ${config.database.db}`);
    });

  program
    .command('submit')
    .description('submit a job as a frontend would (files are copied into its directory)')
    .addOption(configOption)
    .requiredOption('-n, --name <name>', 'requested job name')
    .option('-u, --user <user>')
    .option('-e, --email <address>')
    .argument('[files...]', 'input files')
    .action(async (files: string[], options: { config: string; name: string; user?: string; email?: string }) => {
      const config = loadServiceConfig(options.config);
      const fs = await import('node:fs/promises');
      const path = await import('node:path');
      const inputs = Object.fromEntries(
        await Promise.all(files.map(async (file) => [path.basename(file), await fs.readFile(file)] as const)),
      );
      const { frontend, db: database, host, port } = config.database;
      const pool = mysql.createPool({
        database,
        user: frontend.user,
        password: frontend.passwd,
        host,
        port,
        timezone: 'Z',
      });
      const { client, close } = await temporalClient(config);
      try {
        const job = await submitJob({
          config,
          db: pool,
          client,
          name: options.name,
          user: options.user ?? null,
          contactEmail: options.email ?? null,
          files: inputs,
        });
        console.log(`${job.name}\t${job.workflowId}\t${job.url}`);
      } finally {
        await pool.end();
        await close();
      }
    });

  program
    .command('resubmit')
    .description('run FAILED jobs again (each becomes a new run of its workflow)')
    .addOption(configOption)
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string }) => {
      const config = loadServiceConfig(options.config);
      const connection = await backendConnection(config);
      const { client, close } = await temporalClient(config);
      try {
        for (const job of jobs) {
          const outcome = await resubmitJob({ config, db: connection, client, job });
          console.log(
            outcome.started
              ? `resubmitted ${job}: new run ${outcome.runId} of ${outcome.workflowId}`
              : `not resubmitted ${job}: ${outcome.reason}`,
          );
        }
      } finally {
        await connection.end();
        await close();
      }
    });

  program
    .command('list')
    .description(
      'list jobs in the given states (default: FAILED INCOMING PREPROCESSING POSTPROCESSING FINALIZING RUNNING)',
    )
    .addOption(configOption)
    .argument('[states...]')
    .action(async (states: string[], options: { config: string }) => {
      const config = loadServiceConfig(options.config);
      const connection = await backendConnection(config);
      try {
        console.log(formatJobs(await listJobs(connection, states.length > 0 ? states : DEFAULT_LIST_STATES)));
      } finally {
        await connection.end();
      }
    });

  program
    .command('cancel')
    .description('cancel jobs: their cluster jobs are deleted and they end FAILED')
    .addOption(configOption)
    .option('-r, --reason <text>', 'the reason stored in the failure column', 'cancelled by administrator')
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string; reason: string }) => {
      const config = loadServiceConfig(options.config);
      const { client, close } = await temporalClient(config);
      try {
        for (const job of jobs) {
          await cancelJob({ config, client, job, reason: options.reason });
          console.log(`cancel requested for ${job}`);
        }
      } finally {
        await close();
      }
    });

  return program;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // An empty variable counts as unset, as everywhere else in saliflow's config.
  if (process.env.SALIFLOW_CONFIG === '') delete process.env.SALIFLOW_CONFIG;
  buildCli()
    .parseAsync()
    .catch((error: Error) => {
      console.error(`saliflow: ${error.message}`);
      process.exit(1);
    });
}
