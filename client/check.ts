/**
 * `saliflow check`: the worker's start-up consistency check (files vs.
 * rows) plus what only Temporal can tell (rows vs. workflows), as a
 * command an operator or a monitor can run at any time.
 *
 * `--repair` fixes only what cannot lose anything:
 * - an unfinished job without a running workflow gets one (exactly what
 *   the reconcile schedule does; the new run resumes from the row);
 * - a running job workflow whose row is gone is terminated (it could only
 *   fail on the missing row and e-mail the admin);
 * - a directory in INCOMING that no row owns, untouched for an hour, is
 *   deleted (a frontend died mid-submission; reconcile deletes these too).
 * Everything else (a missing job directory, a stray file in another state
 * folder) needs a person, and the problem says what to run.
 */
import fs from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import { FINAL_STATES, type JobState } from '../core/states.js';
import type { Pool } from '../store/pool.js';
import { jobExists, unfinishedJobs } from '../store/job-listing.js';
import { startJob } from '../activities/job-start.js';
import { findFileProblems, type FileProblem } from '../engine/consistency-check.js';
import { describeJobWorkflow, runningJobWorkflows, terminateJobWorkflow } from './job-workflows.js';
import { readJob } from '../store/job-row.js';
import { needsOperator, operatorChoices } from '../engine/operator-attention.js';

export interface CheckProblem {
  kind: FileProblem['kind'] | 'no-workflow' | 'workflow-without-row';
  message: string;
  /** What --repair did, when it could. */
  repaired?: string;
  /** What a person should do, when --repair cannot. */
  hint?: string;
}

function missingDirectoryHint(problem: Extract<FileProblem, { kind: 'missing-directory' }>): string {
  const state = problem.state as JobState;
  if (state === 'FAILED') return `restore it, or delete the job: saliflow delete ${problem.job} --state FAILED`;
  if (FINAL_STATES.includes(state)) {
    return `restore it from a backup, or delete the job: saliflow delete ${problem.job} --state ${state}`;
  }
  return `restore it, or fail the job: saliflow failjob ${problem.job} --reason "its directory is gone"`;
}

async function fileProblem(problem: FileProblem, repair: boolean): Promise<CheckProblem> {
  if (problem.kind === 'missing-directory') {
    return { kind: problem.kind, message: problem.message, hint: missingDirectoryHint(problem) };
  }
  if (problem.kind === 'partial') {
    if (repair) {
      await fs.rm(problem.path, { recursive: true, force: true });
      return { kind: problem.kind, message: problem.message, repaired: 'deleted (saliflow’s own unfinished copy)' };
    }
    return {
      kind: problem.kind,
      message: problem.message,
      hint: 'saliflow check --repair (or a worker start) deletes it',
    };
  }
  const stat = await fs.lstat(problem.path).catch(() => undefined);
  const abandonedFolder = problem.inIncoming && stat?.isDirectory() === true;
  if (repair && abandonedFolder) {
    await fs.rm(problem.path, { recursive: true, force: true });
    return { kind: problem.kind, message: problem.message, repaired: 'deleted (an abandoned submission)' };
  }
  return {
    kind: problem.kind,
    message: problem.message,
    hint: abandonedFolder ? 'saliflow check --repair deletes it' : 'look at it, then move it away or delete it',
  };
}

/** Unfinished rows with no running workflow: legacy inserts, lost starts, terminated workflows. */
async function jobsWithoutWorkflow(client: Client, config: ServiceConfig, pool: Pool, open: Set<string>) {
  const found = [];
  for (const row of await unfinishedJobs(pool)) {
    const job = row.name;
    if (open.has(jobWorkflowId(config.general.serviceName, job))) continue;
    // Visibility may lag a just-started workflow: ask the workflow itself before calling it missing.
    if ((await describeJobWorkflow(client, config, job))?.status.name === 'RUNNING') continue;
    found.push({ job, state: row.state, user: row.user });
  }
  return found;
}

export async function checkService(options: {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  repair: boolean;
}): Promise<CheckProblem[]> {
  const { config, pool, client, repair } = options;
  const problems: CheckProblem[] = [];
  for (const problem of await findFileProblems(config, pool)) problems.push(await fileProblem(problem, repair));

  const open = new Set(await runningJobWorkflows(client, config));
  for (const { job, state, user } of await jobsWithoutWorkflow(client, config, pool, open)) {
    // Left for an operator (engine/operator-attention.ts): --repair does not start it, the operator chooses.
    const row = state === 'RUNNING' ? await readJob(pool, job).catch(() => undefined) : undefined;
    const operator = row && (await needsOperator(config, row));
    if (operator) {
      problems.push({ kind: 'no-workflow', message: `job ${job} (${state}) ${operator}`, hint: operatorChoices(job) });
      continue;
    }
    const problem: CheckProblem = {
      kind: 'no-workflow',
      message: `job ${job} (${state}) has no running workflow, so nothing moves it`,
    };
    if (repair) {
      const outcome = await startJob(client, config, { job, user, db: pool });
      if (outcome.started) problem.repaired = `started its workflow (run ${outcome.runId})`;
      else problem.hint = `could not start its workflow: ${outcome.reason}`;
    } else {
      problem.hint = 'saliflow check --repair starts it (or wait for the reconcile schedule)';
    }
    problems.push(problem);
  }

  const prefix = `${config.general.serviceName}/`;
  for (const id of open) {
    const job = id.slice(prefix.length);
    if (await jobExists(pool, job)) continue;
    const problem: CheckProblem = {
      kind: 'workflow-without-row',
      message: `workflow ${id} is running but job ${job} has no row`,
    };
    if (repair) {
      const outcome = await terminateJobWorkflow(client, config, job, 'its job has no row (saliflow check --repair)');
      problem.repaired = outcome === 'terminated' ? 'terminated it' : `nothing to do: ${outcome}`;
    } else {
      problem.hint = 'saliflow check --repair terminates it';
    }
    problems.push(problem);
  }
  return problems;
}
