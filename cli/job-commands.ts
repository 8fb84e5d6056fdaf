/**
 * The verbs that change jobs: resubmit, cancel, failjob, delete,
 * delete-all-jobs. Each validates every name before touching any job,
 * then goes on past a job it cannot handle and exits 1 at the end.
 */
import { Option, type Command } from 'commander';
import { CANCELLED_BY_ADMIN } from '../core/job-workflow-contract.js';
import { createMailer } from '../engine/mail.js';
import { JobStateError } from '../core/errors.js';
import { cancelJob, resubmitJob } from '../client/admin.js';
import { confirm, forEachJob, parseState, SomeJobsFailedError, UsageError, validateJobName } from './support.js';
import { withJobsSession, withSession } from './session.js';
import { progressBar } from './progress.js';
import {
  deleteAllJobs,
  deleteJob,
  deletionProblems,
  failJob,
  QUIET_STATES,
  type DeleteOutcome,
} from '../client/job-operations.js';

function describeDeletion(outcome: DeleteOutcome): string {
  const parts = [`deleted ${outcome.job} (${outcome.state}): workflow ${outcome.workflow}, row deleted`];
  if (outcome.directory === null) parts.push('no directory');
  else if ('deleted' in outcome.directory) parts.push(`directory ${outcome.directory.deleted} deleted`);
  else parts.push(`directory ${outcome.directory.kept} LEFT IN PLACE (${outcome.directory.reason})`);
  const lines = [parts.join(', ')];
  if (outcome.runLeft) lines.push(runLeftLine(outcome.runLeft));
  if (outcome.children.length > 0) {
    lines.push(
      `  jobs waiting for it are released (they start once their other parents are done): ${outcome.children.join(', ')}`,
    );
  }
  if (outcome.admitted.length > 0) lines.push(admittedLine(outcome.admitted));
  return lines.join('\n');
}

const runLeftLine = (run: string) =>
  `  its run ${run} may still be going (its workflow did not delete it in time: is a worker running?): ` +
  'delete it on the cluster (qdel/scancel/kill)';

const admittedLine = (jobs: readonly string[]) => `  the freed slot went to ${jobs.join(', ')}`;

export function addJobCommands(program: Command, configOption: () => Option): void {
  program
    .command('resubmit')
    .description('run FAILED jobs again (each becomes a new run of its workflow)')
    .addOption(configOption())
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string }) => {
      await withJobsSession(jobs, options.config, async ({ config, pool, client }) => {
        await forEachJob(jobs, 'resubmitted', async (job, print) => {
          const outcome = await resubmitJob({ config, db: pool(), client: await client(), job });
          if (!outcome.started) throw new JobStateError(job, `not resubmitted: ${outcome.reason}`);
          print(`resubmitted ${job}: new run ${outcome.runId} of ${outcome.workflowId}`);
        });
      });
    });

  program
    .command('cancel')
    .description('cancel running jobs: their cluster job or process is deleted and they end FAILED (admin e-mailed)')
    .addOption(configOption())
    .option('-r, --reason <text>', 'the reason stored in the failure column', CANCELLED_BY_ADMIN)
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string; reason: string }) => {
      await withJobsSession(jobs, options.config, async ({ config, pool, client }) => {
        await forEachJob(jobs, 'cancelled', async (job, print) => {
          await cancelJob({ config, db: pool(), client: await client(), job, reason: options.reason });
          print(`cancel requested for ${job}: its workflow deletes its run and fails it`);
        });
      });
    });

  program
    .command('failjob')
    .description(
      'force jobs in any state to FAILED (finished ones too, as saliweb): each workflow first deletes its run and ends, then the row and directory move to FAILED',
    )
    .addOption(configOption())
    .requiredOption('-r, --reason <text>', 'why (stored in the failure column and e-mailed to the admin)')
    .option('--no-email', 'do not e-mail the admin')
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string; reason: string; email: boolean }) => {
      jobs.forEach(validateJobName);
      if (options.reason.trim() === '') throw new UsageError('--reason is empty: say why the job is failed');
      await withSession(options.config, async ({ config, pool, client }) => {
        const mailer = options.email ? createMailer(config) : undefined;
        await forEachJob(jobs, 'failed', async (job, print) => {
          const outcome = await failJob({
            config,
            pool: pool(),
            client: await client(),
            job,
            reason: options.reason,
            ...(mailer ? { mailer } : {}),
          });
          print(
            `failed ${job} (was ${outcome.from}): workflow ${outcome.workflow}, row FAILED, ` +
              `directory ${outcome.directory ?? 'none'}${outcome.emailed ? ', admin e-mailed' : ''}`,
          );
          if (outcome.runLeft) print(runLeftLine(outcome.runLeft));
          if (outcome.admitted.length > 0) print(admittedLine(outcome.admitted));
        });
      });
    });

  program
    .command('delete')
    .description(
      `delete jobs in a state: row, dependencies rows, directory and workflow (a live job's workflow first deletes its run and ends; ` +
        `${QUIET_STATES.join(' and ')} jobs have none)`,
    )
    .addOption(configOption())
    .requiredOption('-s, --state <state>', 'the state the jobs are in (a guard against deleting the wrong job)')
    .option('-f, --force', 'do not ask for confirmation')
    .argument('<jobs...>')
    .action(async (jobs: string[], options: { config: string; state: string; force?: boolean }) => {
      jobs.forEach(validateJobName);
      const state = parseState(options.state);
      const live = QUIET_STATES.includes(state) ? '' : ` (${state}: its run is deleted first)`;
      await withSession(options.config, async ({ config, pool, client }) => {
        if (!options.force) {
          // Say what is wrong with the command before asking anyone to confirm it.
          const problems = await deletionProblems(pool(), config, jobs, state);
          if (problems.length > 0) throw new SomeJobsFailedError(`nothing deleted:\n${problems.join('\n')}`);
          const question = `Delete ${jobs.length === 1 ? `job ${jobs[0]}` : `${jobs.length} jobs: ${jobs.join(', ')}`}${live}? [y/N] `;
          if (!(await confirm(question, ['y', 'Y', 'yes'], 'delete'))) {
            console.log('nothing deleted');
            return;
          }
        }
        await forEachJob(jobs, 'deleted', async (job, print) => {
          print(describeDeletion(await deleteJob({ config, pool: pool(), client: await client(), job, state })));
        });
      });
    });

  program
    .command('delete-all-jobs')
    .description('delete every job of the service: runs deleted and workflows ended, rows and directories deleted')
    .addOption(configOption())
    .addOption(new Option('-f, --force', 'do not ask (needed when standard input is not a terminal)'))
    .action(async (options: { config: string; force?: boolean }) => {
      await withSession(options.config, async ({ config, pool, client }) => {
        if (!options.force) {
          const question = `Delete ALL jobs of ${config.general.serviceName} (rows, directories, running workflows)? Type YES: `;
          if (!(await confirm(question, ['YES'], 'delete-all-jobs'))) {
            console.log('nothing deleted');
            return;
          }
        }
        const progress = progressBar({ label: 'stopping workflows', total: 0 });
        const outcome = await deleteAllJobs({ config, pool: pool(), client: await client(), progress }).finally(() =>
          progress.stop(),
        );
        console.log(
          `deleted ${outcome.jobs} job(s) of ${config.general.serviceName}: ${outcome.stopped} workflow(s) stopped ` +
            `(their runs deleted), ${outcome.terminated} terminated, ` +
            `${outcome.directoriesDeleted} directory(ies) deleted, ${outcome.straysDeleted} other entr(ies) of the state folders deleted`,
        );
        for (const kept of outcome.directoriesKept) {
          console.log(`  ${kept.job}: directory ${kept.directory} LEFT IN PLACE (${kept.reason})`);
        }
        for (const { job, run } of outcome.runsLeft) {
          console.log(`  ${job}:${runLeftLine(run).slice(1)}`);
        }
      });
    });
}
