/** The verbs that only look: list, show, status, check (check --repair fixes what is safe). */
import type { Command, Option } from 'commander';
import { AttentionError, validateJobName } from './support.js';
import { withSession } from './session.js';
import { addWaitingReasons, DEFAULT_LIST_STATES, formatJobs, formatJobsTable, listJobs } from '../client/list-jobs.js';
import { formatJobDetails, showJob } from '../client/show-job.js';
import { formatServiceStatus, serviceStatus } from '../client/service-status.js';
import { checkService } from '../client/check.js';
import { checkUpgrade, formatUpgradeCheck } from '../worker/upgrade-check.js';

const json = (value: unknown) => JSON.stringify(value, null, 2);

export function addInfoCommands(program: Command, configOption: () => Option): void {
  program
    .command('list')
    .description(`list jobs in the given states (default: ${DEFAULT_LIST_STATES.join(' ')}), oldest first`)
    .addOption(configOption())
    .option('--json', 'one JSON array, for programs')
    .argument('[states...]', 'job states, any case')
    .action(async (states: string[], options: { config: string; json?: boolean }) => {
      await withSession(options.config, async ({ config, pool }) => {
        const jobs = await listJobs(pool(), states.length > 0 ? states : DEFAULT_LIST_STATES);
        await addWaitingReasons(pool(), config, jobs);
        if (options.json) console.log(json(jobs));
        else console.log(process.stdout.isTTY ? formatJobsTable(jobs) : formatJobs(jobs));
      });
    });

  program
    .command('show')
    .description('one job: its row, workflow, current step and why it waits, failure, when it entered each state')
    .addOption(configOption())
    .option('--json', 'one JSON object, for programs')
    .argument('<job>')
    .action(async (job: string, options: { config: string; json?: boolean }) => {
      validateJobName(job);
      await withSession(options.config, async ({ config, pool, client }) => {
        const details = await showJob({ config, db: pool(), client: await client(), job });
        console.log(options.json ? json(details) : formatJobDetails(details));
      });
    });

  program
    .command('status')
    .description('workers polling the task queues, jobs per state, the Schedules, where MySQL and Temporal are')
    .addOption(configOption())
    .option('--json', 'one JSON object, for programs')
    .action(async (options: { config: string; json?: boolean }) => {
      await withSession(options.config, async ({ config, pool, client }) => {
        const status = await serviceStatus({ config, db: pool(), client: await client() });
        console.log(options.json ? json(status) : formatServiceStatus(status));
        if (status.workers.length === 0) {
          throw new AttentionError(`no worker polls ${status.taskQueue}: start \`saliflow worker\``);
        }
      });
    });

  program
    .command('check')
    .description('compare job directories, rows and workflows; --repair fixes what cannot lose anything')
    .addOption(configOption())
    .option('--repair', 'start missing workflows, terminate workflows without a row, delete abandoned INCOMING folders')
    .option('--json', 'one JSON array of problems, for programs')
    .action(async (options: { config: string; repair?: boolean; json?: boolean }) => {
      await withSession(options.config, async ({ config, pool, client }) => {
        const problems = await checkService({ config, pool: pool(), client: await client(), repair: !!options.repair });
        if (options.json) console.log(json(problems));
        else if (problems.length === 0)
          console.log(`${config.general.serviceName}: directories, rows and workflows agree`);
        else {
          for (const problem of problems) {
            console.log(
              `${problem.message}\n  ${problem.repaired ? `repaired: ${problem.repaired}` : `to do: ${problem.hint}`}`,
            );
          }
        }
        const left = problems.filter((problem) => !problem.repaired).length;
        if (left > 0) throw new AttentionError(`${left} problem(s) need an operator`);
      });
    });

  program
    .command('upgrade-check')
    .description(
      "replay every open workflow's history against the installed workflow code (or --workflows), before workers " +
        'restart on it: names each workflow the new code would fail',
    )
    .addOption(configOption())
    .option(
      '--workflows <file>',
      "another release's workflow code, e.g. <new install>/node_modules/saliflow/dist/workflows/index.js",
    )
    .option('--json', 'one JSON object, for programs')
    .action(async (options: { config: string; workflows?: string; json?: boolean }) => {
      await withSession(options.config, async ({ config, client }) => {
        const check = await checkUpgrade({
          config,
          client: await client(),
          ...(options.workflows ? { workflowsPath: options.workflows } : {}),
        });
        console.log(options.json ? json(check) : formatUpgradeCheck(check));
        const failing = check.verdicts.filter((verdict) => verdict.error !== undefined).length;
        if (failing > 0) throw new AttentionError(`${failing} open workflow(s) would fail on this code`);
      });
    });
}
