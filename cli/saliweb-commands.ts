/**
 * Taking over from saliweb: `saliflow adopt`, and saliweb's own operator
 * command lines, as written (`saliflow saliweb failjob -n JOB`, …; `deljob`,
 * `list_jobs` and `delete_all_jobs` also at the top level, where no saliflow
 * verb has the name). They prompt as saliweb's do, reading answers from
 * standard input even when it is a pipe (`yes | saliflow saliweb failjob …`).
 */
import readline from 'node:readline';
import type { Command, Option } from 'commander';
import {
  AttentionError,
  formatTable,
  NoSuchJobError,
  parseState,
  SomeJobsFailedError,
  UsageError,
  validateJobName,
} from './support.js';
import { withJobsSession, withSession } from './session.js';
import { JobStateError, SaliwebDaemonRunningError } from '../core/errors.js';
import { createMailer } from '../engine/mail.js';
import { resubmitJob } from '../client/admin.js';
import { isJobFailed } from '../store/job-operations.js';
import { deleteAllJobs, deleteJob, failJob } from '../client/job-operations.js';
import { listJobs, DEFAULT_LIST_STATES } from '../client/list-jobs.js';
import { ACTIONS, countActions, type AdoptionPlan } from '../core/adoption-plan.js';

/** Answers read one line at a time from standard input, buffered (a pipe may deliver them all at once). */
function answers() {
  let lines: AsyncIterator<string> | undefined;
  return {
    async ask(question: string): Promise<string> {
      process.stdout.write(question);
      lines ??= readline.createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
      const next = await lines.next();
      return next.done ? '' : next.value;
    },
    close() {
      process.stdin.destroy();
    },
  };
}

const yes = (reply: string) => reply.trim().toUpperCase().startsWith('Y');

/** Runs `work` for each job; saliweb's "Could not find job" for a missing one; exit 1 at the end if any went wrong. */
/** saliweb's resubmit: a job that is not FAILED is "Could not find job" (saliweb looks in the FAILED queue only). */
async function resubmitAsSaliwebDoes(jobs: string[], options: { config: string }): Promise<void> {
  await withJobsSession(jobs, options.config, async ({ config, pool, client }) => {
    await eachJob(jobs, async (job) => {
      if (!(await isJobFailed(pool(), job))) throw new NoSuchJobError(job, config.general.serviceName);
      const outcome = await resubmitJob({ config, db: pool(), client: await client(), job });
      if (!outcome.started) throw new JobStateError(job, `not resubmitted: ${outcome.reason}`);
      console.log(`resubmitted ${job}`);
    });
  });
}

async function eachJob(jobs: readonly string[], work: (job: string) => Promise<void>) {
  let failed = 0;
  for (const job of jobs) {
    try {
      await work(job);
    } catch (error) {
      failed++;
      console.error(
        error instanceof NoSuchJobError ? `Could not find job ${job}` : `saliflow: ${(error as Error).message}`,
      );
    }
  }
  if (failed > 0) throw new SomeJobsFailedError(`${failed} of ${jobs.length} job(s) not handled`);
}

function addSaliwebForms(parent: Command, configOption: () => Option, names: readonly string[]) {
  const wanted = (name: string) => names.includes(name);
  if (wanted('failjob')) {
    parent
      .command('failjob')
      .description(
        "saliweb's failjob: force jobs into FAILED (asks for each unless -f; the admin is e-mailed unless -n)",
      )
      .addOption(configOption())
      .option('-n, --no-email', "don't e-mail the admin about the failed job")
      .option('-f, --force', 'fail jobs without prompting')
      .argument('<jobs...>')
      .action(async (jobs: string[], options: { config: string; email: boolean; force?: boolean }) => {
        jobs.forEach(validateJobName);
        const prompt = answers();
        try {
          await withSession(options.config, async ({ config, pool, client }) => {
            const mailer = options.email ? createMailer(config) : undefined;
            await eachJob(jobs, async (job) => {
              if (!options.force && !yes(await prompt.ask(`Fail job ${job}? `))) return;
              const outcome = await failJob({
                config,
                pool: pool(),
                client: await client(),
                job,
                reason: 'forced into FAILED with failjob',
                ...(mailer ? { mailer } : {}),
              });
              console.log(`failed ${job} (was ${outcome.from})${outcome.emailed ? ', admin e-mailed' : ''}`);
            });
          });
        } finally {
          prompt.close();
        }
      });
  }
  if (wanted('deljob')) {
    parent
      .command('deljob')
      .description("saliweb's deljob: delete jobs in STATE (asks for each unless -f)")
      .addOption(configOption())
      .option('-f, --force', 'delete jobs without prompting')
      .argument('<state>')
      .argument('<jobs...>')
      .action(async (stateName: string, jobs: string[], options: { config: string; force?: boolean }) => {
        const state = parseState(stateName);
        jobs.forEach(validateJobName);
        const prompt = answers();
        try {
          await withSession(options.config, async ({ config, pool, client }) => {
            await eachJob(jobs, async (job) => {
              if (!options.force && !yes(await prompt.ask(`Delete job ${job}? `))) return;
              await deleteJob({ config, pool: pool(), client: await client(), job, state });
              console.log(`deleted ${job} (${state})`);
            });
          });
        } finally {
          prompt.close();
        }
      });
  }
  if (wanted('delete_all_jobs')) {
    parent
      .command('delete_all_jobs')
      .description("saliweb's delete_all_jobs: delete every job, rows and directories (asks for YES)")
      .addOption(configOption())
      .action(async (options: { config: string }) => {
        const prompt = answers();
        try {
          await withSession(options.config, async ({ config, pool, client }) => {
            console.log(
              `This deletes ALL jobs of ${config.general.serviceName}, completed ones too: every row, every job ` +
                'directory, every running workflow and its run.\nIt cannot be undone.\n\nAre you SURE you want to delete ALL jobs?\n',
            );
            if ((await prompt.ask('Enter exactly YES to proceed: ')).replace(/\r$/, '') !== 'YES') {
              console.log('Canceled.');
              return;
            }
            const outcome = await deleteAllJobs({ config, pool: pool(), client: await client() });
            console.log(`deleted ${outcome.jobs} job(s)`);
          });
        } finally {
          prompt.close();
        }
      });
  }
  if (wanted('resubmit')) {
    parent
      .command('resubmit')
      .description("saliweb's resubmit: put FAILED jobs back in the incoming queue")
      .addOption(configOption())
      .argument('<jobs...>')
      .action(resubmitAsSaliwebDoes);
  }
  if (wanted('list_jobs')) {
    parent
      .command('list_jobs')
      .description(`saliweb's list_jobs: jobs in the given states (default: ${DEFAULT_LIST_STATES.join(', ')})`)
      .addOption(configOption())
      .argument('[states...]')
      .action(async (states: string[], options: { config: string }) => {
        const wanted = states.length > 0 ? states.map(parseState) : DEFAULT_LIST_STATES;
        await withSession(options.config, async ({ pool }) => {
          for (const state of wanted) {
            for (const job of await listJobs(pool(), [state])) console.log(`${job.name.padEnd(60)} ${state}`);
          }
        });
      });
  }
}

export function formatAdoptionReport(plans: readonly AdoptionPlan[]): string {
  const rows = plans.map((plan) => [
    plan.job,
    plan.state,
    plan.action,
    plan.action === 'watch' ? `${plan.why} [${plan.run.kind}:${plan.run.id}]` : plan.why,
  ]);
  const counts = countActions(plans);
  const lines = [formatTable(['JOB', 'STATE', 'ACTION', 'WHY'], rows), ''];
  lines.push(`${plans.length} job(s): ${ACTIONS.map((action) => `${action} ${counts[action]}`).join(', ')}`);
  const problems = plans.filter((plan) => plan.problem !== undefined || plan.action === 'operator');
  if (problems.length > 0) {
    lines.push('', 'problems and choices:');
    for (const plan of problems) {
      if (plan.problem) lines.push(`  ${plan.job}: ${plan.problem}`);
      if (plan.action === 'operator') lines.push(`  ${plan.job}: left RUNNING for you: ${plan.command}`);
    }
  }
  return lines.join('\n');
}

export function addSaliwebCommands(program: Command, configOption: () => Option): void {
  program
    .command('adopt')
    .description(
      "take over a saliweb service's jobs in every state (a dry run unless --apply; saliweb's daemon must be stopped)",
    )
    .addOption(configOption())
    .option(
      '-s, --service <module>',
      "the service module (its adoptedTransientSteps; without it, such steps FAIL, saliweb's rule)",
    )
    .option('--dry-run', 'only report what would be done (the default)')
    .option('--apply', 'do it')
    .option(
      '--runner-id <job=NAME:ID>',
      'the run of a RUNNING job whose runner_id is missing or stale, found by hand (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(
      async (options: { config: string; service?: string; dryRun?: boolean; apply?: boolean; runnerId?: string[] }) => {
        if (options.apply && options.dryRun) throw new UsageError('--apply and --dry-run exclude each other');
        const operatorRunnerIds: Record<string, string> = {};
        for (const entry of options.runnerId ?? []) {
          const [job, id] = [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)];
          if (!entry.includes('=') || !id.includes(':')) {
            throw new UsageError(`--runner-id ${entry}: write JOB=NAME:ID, e.g. myjob=SGE:1234`);
          }
          operatorRunnerIds[validateJobName(job)] = id;
        }
        const service = options.service
          ? await (
              await import('../worker/load-service.js')
            ).loadService(options.service, { configFile: options.config })
          : undefined;
        // Loaded when used: they pull in the runners, which every other verb would pay for at start-up.
        const { applyAdoption, planServiceAdoption } = await import('../client/adopt.js');
        const { describeDaemonState, saliwebDaemonState } = await import('../worker/saliweb-daemon.js');
        await withSession(options.config, async ({ config, pool, client }) => {
          const stateFile = config.backend.stateFile;
          const daemon = await saliwebDaemonState(stateFile);
          const said = describeDaemonState(stateFile, daemon);
          if (daemon.state === 'alive' && options.apply) throw new SaliwebDaemonRunningError(`not adopting: ${said}`);
          if (said) console.log(`${said}\n`);
          const adopt = {
            config,
            pool: pool(),
            client: await client(),
            transientSteps: service?.adoptedTransientSteps ?? ('fail' as const),
            operatorRunnerIds,
          };
          const plans = await planServiceAdoption(adopt);
          console.log(formatAdoptionReport(plans));
          if (!options.apply) {
            console.log('\ndry run: nothing changed; run again with --apply to adopt');
            if (daemon.state === 'alive')
              throw new AttentionError("saliweb's daemon is running: stop it before --apply");
            return;
          }
          console.log('');
          const applied = await applyAdoption(adopt, plans, (line) => console.log(line));
          console.log(`\nadopted: ${applied.length} job(s) acted on; start the workers now (saliflow worker)`);
        });
      },
    );

  const saliweb = program
    .command('saliweb')
    .description(
      "saliweb's operator command lines, with their options and prompts: failjob, deljob, delete_all_jobs, resubmit, list_jobs",
    );
  addSaliwebForms(saliweb, configOption, ['failjob', 'deljob', 'delete_all_jobs', 'resubmit', 'list_jobs']);
  // Where no saliflow verb has the name, saliweb's form also works without the `saliweb` prefix.
  addSaliwebForms(program, configOption, ['deljob', 'delete_all_jobs', 'list_jobs']);
}
