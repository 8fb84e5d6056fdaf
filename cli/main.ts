/**
 * The `saliflow` command line: operators' verbs on one service, named by its
 * config file (`--config`, or SALIFLOW_CONFIG).
 *
 * Exit codes: 0 done; 1 an error (unknown job, wrong state, MySQL or
 * Temporal unreachable, some of several jobs not handled); 2 a usage error
 * (unknown verb or option, bad state or job name, no terminal and no
 * --force); 3 the service needs an operator (`status`: no worker polls;
 * `check`: problems left).
 */
import { saliflowVersion } from '../worker/version.js';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { createPool, describeDatabaseError } from '../store/pool.js';
import { loadServiceConfig } from '../core/config/index.js';
import { createTables, DEFAULT_ACCOUNT_HOSTS, dropTables, provisionServiceDatabase } from '../store/database-admin.js';
import { submitJob } from '../client/submit.js';
import { AttentionError, backendConnection, EXIT, temporalClient, UsageError } from './support.js';
import { addJobCommands } from './job-commands.js';
import { addInfoCommands } from './info-commands.js';
import { addControlCommands } from './control-commands.js';
import { addSaliwebCommands } from './saliweb-commands.js';
import { addNewServiceCommand } from './new-service.js';

/** A fresh Option per command: commander keeps per-command state on it. */
/** A repeatable option's values, in the order given. */
const collect = (value: string, previous: string[]) => [...previous, value];

const configOption = () =>
  new Option('-c, --config <file>', 'the service config file (saliweb INI format)')
    .env('SALIFLOW_CONFIG')
    .makeOptionMandatory();

/** The config, checked against the service's own sections when `--service` names it, and the service's columns. */
async function configWithService(options: { config: string; service?: string }) {
  if (options.service === undefined) return { config: loadServiceConfig(options.config), columns: [] };
  const { loadService } = await import('../worker/load-service.js');
  const service = await loadService(options.service, { configFile: options.config });
  const config = loadServiceConfig(options.config, process.env, { serviceSections: service.configSections ?? {} });
  return { config, columns: service.columns ?? [] };
}

export function buildCli(): Command {
  const program = new Command('saliflow')
    .description('saliweb-style job backend on Temporal')
    .version(saliflowVersion(), '-V, --version', "print saliflow's version")
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 error, 2 usage error, 3 the service needs an operator (status: no worker; check: problems).',
    )
    .showHelpAfterError()
    // Throw instead of exiting, so that usage errors exit 2 (see the end of this file); set before any
    // command is added, since subcommands copy it.
    .exitOverride();

  // --service and --python-service in the order given, so each pairs with its --config.
  const serviceArgs: string[] = [];
  const collectService =
    (prefix: string) =>
    (value: string, previous: string[]): string[] => {
      serviceArgs.push(prefix + value);
      return [...previous, value];
    };
  program
    .command('worker')
    .description(
      'run the worker for a service (polls its Temporal task queue); several --config/--service pairs, ' +
        'or --services-dir, run several services in one process',
    )
    .option(
      '-c, --config <file>',
      'a service config file (saliweb INI format); repeat it, each with its --service (env: SALIFLOW_CONFIG)',
      collect,
      [],
    )
    .option(
      '-s, --service <module>',
      'the service module (default export: defineService({...})), or a saliweb Python service (a .py file or ' +
        'package folder); one per --config',
      collectService(''),
      [],
    )
    .option(
      '--python-service <module>',
      'a saliweb Python service: the module or package (name on PYTHONPATH, .py file or folder) defining its Job ' +
        'and get_web_service(config_file); counts as a --service',
      collectService('python:'),
      [],
    )
    .option(
      '--services-dir <dir>',
      'one subdirectory per service, each holding service.conf and service.js (or service.ts): README "Several services per worker"',
    )
    .option('--skip-consistency-check', 'start even if job directories and the jobs table disagree')
    .action(async (options: { config: string[]; servicesDir?: string; skipConsistencyCheck?: boolean }) => {
      const configs =
        options.config.length === 0 && process.env.SALIFLOW_CONFIG ? [process.env.SALIFLOW_CONFIG] : options.config;
      if (configs.length !== serviceArgs.length) {
        throw new UsageError(
          `saliflow worker: ${configs.length} --config and ${serviceArgs.length} --service given: ` +
            'give each service its --config and its --service, in pairs',
        );
      }
      if (configs.length === 0 && options.servicesDir === undefined) {
        throw new UsageError('saliflow worker: give --config and --service, or --services-dir');
      }
      const { runWorker, runWorkers } = await import('../worker/main.js');
      const { servicesInDirectory } = await import('../worker/services-dir.js');
      const pairs = configs.map((config, index) => ({ config, service: serviceArgs[index]!, label: config }));
      const fromDir = options.servicesDir === undefined ? [] : servicesInDirectory(options.servicesDir);
      const skip = options.skipConsistencyCheck ? { skipConsistencyCheck: true } : {};
      if (pairs.length === 1 && fromDir.length === 0) await runWorker({ ...pairs[0]!, ...skip });
      else await runWorkers({ services: [...pairs, ...fromDir], ...skip });
    });

  program
    .command('python-path')
    .description(
      "print the folder holding saliflow's saliweb Python package: PYTHONPATH=$(saliflow python-path) python3 -m unittest",
    )
    .action(async () => {
      const { saliflowPythonDir } = await import('../engine/python-service.js');
      console.log(saliflowPythonDir());
    });

  const db = program.command('db').description('the service tables');
  db.command('create-tables')
    .description("create the jobs and dependencies tables (with the service's own columns)")
    .addOption(configOption())
    .option('-s, --service <module>', 'the service module, for its own columns')
    .action(async (options: { config: string; service?: string }) => {
      const { config, columns } = await configWithService(options);
      const connection = await backendConnection(config);
      let outcome: 'created' | 'existed';
      try {
        outcome = await createTables(connection, { columns, trackHostname: config.general.trackHostname });
      } catch (error) {
        throw describeDatabaseError(config, error);
      } finally {
        await connection.end();
      }
      console.log(
        outcome === 'created'
          ? `created tables jobs and dependencies in ${config.database.db}`
          : `tables jobs and dependencies already exist in ${config.database.db}: nothing to do`,
      );
    });
  db.command('provision')
    .description('create the database, its frontend and backend users (with their rights) and the tables, as an admin')
    .addOption(configOption())
    .option('-s, --service <module>', 'the service module, for its own columns')
    .addOption(
      new Option('--admin-user <user>', 'a MySQL account that may create databases and users')
        .env('SALIFLOW_MYSQL_ADMIN_USER')
        .default('root'),
    )
    .addOption(new Option('--admin-password <password>').env('SALIFLOW_MYSQL_ADMIN_PASSWORD').default(''))
    .option(
      '--account-host <host...>',
      `the host part of both accounts (saliweb's: localhost); add the workers' and frontends' hosts, or %, when they ` +
        `connect from elsewhere (default: ${DEFAULT_ACCOUNT_HOSTS.join(' ')})`,
    )
    .action(
      async (options: {
        config: string;
        service?: string;
        adminUser: string;
        adminPassword: string;
        accountHost?: string[];
      }) => {
        const { config, columns } = await configWithService(options);
        const { db: database, host, port, backend, frontend } = config.database;
        const accountHosts = options.accountHost ?? DEFAULT_ACCOUNT_HOSTS;
        await provisionServiceDatabase(
          { host, port, user: options.adminUser, password: options.adminPassword },
          { db: database, backend, frontend, columns, trackHostname: config.general.trackHostname, accountHosts },
        );
        console.log(
          `database ${database} ready: users ${backend.user} (backend), ${frontend.user} (frontend), ` +
            `at ${accountHosts.map((account) => `'${account}'`).join(', ')}`,
        );
      },
    );
  db.command('check')
    .description(
      "check the jobs table against saliweb's columns and the service's (types, indexes), as a worker does at start",
    )
    .addOption(configOption())
    .option('-s, --service <module>', 'the service module, for its own columns')
    .action(async (options: { config: string; service?: string }) => {
      const { config, columns } = await configWithService(options);
      const { jobsTableProblemsOf, privilegeProblemsOf } = await import('../worker/main.js');
      const { pendingMigrations } = await import('../store/migrations.js');
      const pool = createPool(config);
      const problems = await Promise.all([
        jobsTableProblemsOf(config, { columns }),
        pendingMigrations(pool),
        privilegeProblemsOf(config, 'backend'),
        privilegeProblemsOf(config, 'frontend').catch((error: unknown) => {
          throw describeDatabaseError(config, error, 'frontend');
        }),
      ])
        .then(([table, pending, backend, frontend]) => [
          ...table,
          ...backend,
          ...frontend,
          ...(pending.length > 0
            ? [
                `saliflow's tables lack migration(s) ${pending.map(({ version, name }) => `${version} (${name})`).join(', ')}: ` +
                  'run `saliflow db migrate` (a worker applies them at start)',
              ]
            : []),
        ])
        .catch((error: unknown) => {
          throw describeDatabaseError(config, error);
        })
        .finally(() => pool.end());
      if (problems.length > 0) throw new AttentionError(`database ${config.database.db}:\n  ${problems.join('\n  ')}`);
      console.log(
        `database ${config.database.db}: the jobs table fits ${options.service ? 'the service' : "saliweb's columns (give --service for the service's own)"}`,
      );
    });
  db.command('migrate')
    .description("apply the numbered migrations of saliflow's own tables this database lacks (a worker does at start)")
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      const config = loadServiceConfig(options.config);
      const { migrate, MIGRATIONS } = await import('../store/migrations.js');
      const pool = createPool(config);
      try {
        const applied = await migrate(pool);
        for (const { version, name } of applied) console.log(`applied migration ${version}: ${name}`);
        console.log(`database ${config.database.db}: saliflow's tables at migration ${MIGRATIONS.at(-1)!.version}`);
      } catch (error) {
        throw describeDatabaseError(config, error);
      } finally {
        await pool.end();
      }
    });
  db.command('drop-tables')
    .description(
      'drop the jobs, dependencies and saliflow_control tables (all job records, the pause and published limits are lost)',
    )
    .addOption(configOption())
    .action(async (options: { config: string }) => {
      const config = loadServiceConfig(options.config);
      const connection = await backendConnection(config);
      try {
        await dropTables(connection);
      } finally {
        await connection.end();
      }
      console.log(`dropped tables jobs, dependencies and saliflow_control in ${config.database.db}`);
    });

  program
    .command('submit')
    .description('submit a job as a frontend would (files are copied into its directory)')
    .addOption(configOption())
    .requiredOption('-n, --name <name>', 'requested job name')
    .option('-u, --user <user>')
    .option('-e, --email <address>')
    .argument('[files...]', 'input files')
    .action(async (files: string[], options: { config: string; name: string; user?: string; email?: string }) => {
      const config = loadServiceConfig(options.config);
      const fs = await import('node:fs/promises');
      const path = await import('node:path');
      const inputs = Object.fromEntries(
        await Promise.all(
          files.map(async (file) => {
            try {
              return [path.basename(file), await fs.readFile(file)] as const;
            } catch (error) {
              const reason =
                (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
              const where = path.resolve(file) === file ? file : `${file} (${path.resolve(file)})`;
              throw new UsageError(`input file ${where}: ${reason}; nothing was submitted`);
            }
          }),
        ),
      );
      // What a frontend does: insert as the frontend's MySQL user.
      const pool = createPool(config, 'frontend');
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
      } catch (error) {
        throw describeDatabaseError(config, error, 'frontend');
      } finally {
        await pool.end();
        await close();
      }
    });

  addJobCommands(program, configOption);
  addInfoCommands(program, configOption);
  addControlCommands(program, configOption);
  addSaliwebCommands(program, configOption);
  addNewServiceCommand(program);

  return program;
}

/**
 * Runs the CLI on `argv` (as process.argv). Exit codes are set, not forced, so piped
 * output is never cut short; except for `worker`, whose Temporal Runtime would keep
 * a process that has stopped (or could not start) alive.
 */
export async function main(argv: readonly string[]): Promise<void> {
  // An empty variable counts as unset, as everywhere else in saliflow's config.
  if (process.env.SALIFLOW_CONFIG === '') delete process.env.SALIFLOW_CONFIG;
  // Started by bin/saliflow.js with an IPC channel (worker/stop-signals.ts watches it): it must not keep us alive.
  process.channel?.unref();
  // `saliflow list | head` closes our output early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw error;
  });
  const isWorker = argv[2] === 'worker';
  try {
    await buildCli().parseAsync(argv);
    process.exitCode = EXIT.ok;
  } catch (error) {
    // Commander has printed its own message (or the help) already.
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      const message = (error as Error).message;
      // Some messages name the command already ("saliflow worker: give --config …"): never twice.
      const prefix = isWorker ? 'saliflow worker: ' : 'saliflow: ';
      console.error(
        message.startsWith(prefix) ? message : isWorker ? `${prefix}cannot work: ${message}` : `${prefix}${message}`,
      );
      if (error instanceof UsageError) process.exitCode = EXIT.usage;
      else process.exitCode = error instanceof AttentionError ? EXIT.attention : EXIT.error;
    }
  }
  if (isWorker) process.exit();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv);
