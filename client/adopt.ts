/**
 * `saliflow adopt`: takes over the jobs of a saliweb service whose daemon
 * has stopped. Facts are gathered first (rows, directories, job-state files,
 * what the scheduler says of each saliweb run), each job is planned by the
 * pure rules of core/adoption-plan.ts, and `--apply` carries the plans out.
 *
 * Every effect is idempotent and decided afresh on a re-run, so adoption can
 * be interrupted anywhere and run again: a job whose workflow exists is
 * saliflow's and left alone; a run record written before a crash is kept;
 * a job failed before the crash is FAILED and left.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';
import { SectionReader } from '../core/config/section-reader.js';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import type { RunnerKind } from '../core/runner-spec.js';
import { isJobState } from '../core/states.js';
import { JobStateError } from '../core/errors.js';
import {
  mapRunnerId,
  parseRunnerNames,
  mayBeEarlierCycle,
  planAdoption,
  type AdoptionChoices,
  type AdoptionFacts,
  type AdoptionPlan,
  type DirectoryFact,
  type RunFact,
} from '../core/adoption-plan.js';
import type { Pool } from '../store/pool.js';
import { jobDirectory, jobsToAdopt, setAdoptedRunnerId, usersOfJobs } from '../store/adoption.js';
import { defaultHostId } from '../core/config/host-id.js';
import { startJob } from '../activities/job-start.js';
import { createJobTransitions } from '../engine/job-transitions.js';
import { readCycleRecord, writeCycleRecord, type CycleRecord } from '../engine/run-cycle-record.js';
import { needsOperator } from '../engine/operator-attention.js';
import { defaultRunners, type RunnerRegistry } from '../engine/runners/index.js';
import { findRunsByName } from './adopt-lookup.js';

export interface AdoptOptions {
  config: ServiceConfig;
  pool: Pool;
  client: Client;
  /** From the service module's `adoptedTransientSteps`; 'fail' without one (saliweb's rule). */
  transientSteps: 'rerun' | 'fail';
  /** `--runner-id JOB=NAME:ID`, by job. */
  operatorRunnerIds?: Readonly<Record<string, string>>;
  /** The worker host id recorded with adopted local runs (the worker on this host must use the same). */
  hostId?: string;
  runners?: RunnerRegistry;
}

/** The runner choices the config and the options make. */
export function adoptionChoices(options: AdoptOptions): AdoptionChoices {
  const section = SectionReader.of(options.config.sections, 'adopt');
  let runnerNames;
  try {
    runnerNames = parseRunnerNames(section.optional('runner_names'));
  } catch (error) {
    throw section.error('runner_names', (error as Error).message);
  }
  const availableKinds: RunnerKind[] = ['do-nothing', 'local', 'web-service'];
  if (options.config.clusters.sge) availableKinds.push('sge');
  if (options.config.clusters.slurm) availableKinds.push('slurm');
  return {
    transientSteps: options.transientSteps,
    runnerNames,
    availableKinds,
    operatorRunnerIds: options.operatorRunnerIds ?? {},
  };
}

async function isDirectory(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

async function directoryFact(config: ServiceConfig, directory: string | null): Promise<DirectoryFact> {
  if (directory === null) return { where: 'missing' };
  if (await isDirectory(directory)) return { where: 'as-row' };
  const name = path.basename(directory);
  for (const folder of new Set(Object.values(config.directories))) {
    const candidate = path.join(folder, name);
    if (candidate !== directory && (await isDirectory(candidate))) return { where: 'elsewhere', path: candidate };
  }
  return { where: 'missing' };
}

async function hasWorkflow(client: Client, config: ServiceConfig, job: string): Promise<'open' | 'closed' | false> {
  try {
    const description = await client.workflow.getHandle(jobWorkflowId(config.general.serviceName, job)).describe();
    return description.status.name === 'RUNNING' ? 'open' : 'closed';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * A job counts as saliflow's once it has a workflow, except a RUNNING job
 * with no run record whose workflow has ended: a worker left it for the
 * operator untouched (engine/operator-attention.ts), and `adopt
 * --runner-id` is one of the ways out.
 */
async function isSaliflows(
  client: Client,
  config: ServiceConfig,
  row: { name: string; state: string; runnerId: string | null; directory: string | null },
): Promise<boolean> {
  const workflow = await hasWorkflow(client, config, row.name);
  if (workflow !== 'closed') return workflow === 'open';
  return (await needsOperator(config, row)) === undefined;
}

async function jobStateFile(directory: string): Promise<AdoptionFacts['jobState']> {
  const file = path.join(directory, 'job-state');
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { text: text.trim(), modified: stat.mtime };
  } catch {
    return undefined;
  }
}

/** saliflow's id for an adopted run: local runs carry their cycle and host (see engine/runners/local.ts). */
function saliflowRunId(kind: RunnerKind, id: string, hostId: string): string {
  return kind === 'local' ? `1-${id}@${hostId}` : id;
}

async function runFact(
  runners: RunnerRegistry,
  job: string,
  directory: string,
  kind: RunnerKind,
  id: string,
): Promise<RunFact | undefined> {
  // A web service is asked by the worker, with its backoff; asking here could only repeat that.
  const backend = kind === 'web-service' || kind === 'do-nothing' ? undefined : runners[kind];
  if (!backend) return undefined;
  const handle = { name: job, directory, cycle: 1, id };
  const status = (await backend.status([handle])).get(id);
  if (!status) return 'unknown';
  return status.state === 'running' ? 'running' : status.state === 'unknown' ? 'unknown' : 'finished';
}

/** Every job of the service, planned. Reads only. */
export async function planServiceAdoption(options: AdoptOptions): Promise<AdoptionPlan[]> {
  const { config, pool, client } = options;
  const choices = adoptionChoices(options);
  const hostId = options.hostId ?? defaultHostId();
  const runners = options.runners ?? defaultRunners(config.clusters, { hostId });
  const plans: AdoptionPlan[] = [];
  for (const row of await jobsToAdopt(pool)) {
    if (!isJobState(row.state)) {
      plans.push({
        job: row.name,
        state: 'FAILED',
        action: 'leave',
        why: 'not a saliweb state',
        problem: `unknown state ${JSON.stringify(row.state)}: fix the row by hand`,
      });
      continue;
    }
    const unfinished = !['COMPLETED', 'ARCHIVED', 'EXPIRED', 'FAILED'].includes(row.state);
    const dir = await directoryFact(config, row.directory);
    const facts: AdoptionFacts = {
      name: row.name,
      state: row.state,
      runnerId: row.runnerId,
      directory: row.directory,
      directoryFact: row.state === 'EXPIRED' ? { where: 'as-row' } : dir,
      hasWorkflow: unfinished && (await isSaliflows(client, config, row)),
      runTime: row.runTime,
    };
    const where = dir.where === 'elsewhere' ? dir.path : row.directory;
    if (row.state === 'RUNNING' && where !== null && dir.where !== 'missing' && !facts.hasWorkflow) {
      const runnerId = choices.operatorRunnerIds[row.name] ?? row.runnerId;
      const mapped = runnerId ? mapRunnerId(runnerId, choices) : undefined;
      if (mapped && !('problem' in mapped)) {
        const run = await runFact(runners, row.name, where, mapped.kind, saliflowRunId(mapped.kind, mapped.id, hostId));
        if (run) facts.run = run;
      }
      const jobState = await jobStateFile(where);
      if (jobState) facts.jobState = jobState;
      const stale = row.runnerId !== null && !choices.operatorRunnerIds[row.name] && mayBeEarlierCycle(facts);
      if (!runnerId || stale) facts.foundByName = await findRunsByName(config, row.name);
    }
    plans.push(planAdoption(facts, choices));
  }
  return plans;
}

export interface Applied {
  job: string;
  /** What was done, in words. */
  done: string;
}

/**
 * Carries out the plans, job by job. `SALIFLOW_FAILPOINT=adopt-mid-job-<n>`
 * (tests) kills the process on the n-th job that acts, after its first
 * effect and before its last.
 */
export async function applyAdoption(
  options: AdoptOptions,
  plans: readonly AdoptionPlan[],
  print: (line: string) => void = () => undefined,
): Promise<Applied[]> {
  const { config, pool, client } = options;
  const hostId = options.hostId ?? defaultHostId();
  const { transitionJob } = createJobTransitions(config, pool);
  const failpoint = /^adopt-mid-job-(\d+)$/.exec(process.env.SALIFLOW_FAILPOINT ?? '')?.[1];
  const applied: Applied[] = [];
  let acting = 0;
  const users = await usersOf(pool, plans);
  for (const plan of plans) {
    if (plan.action === 'leave' || plan.action === 'operator') continue;
    acting++;
    const steps: string[] = [];
    if (plan.moveBack && !(await isDirectory(plan.moveBack.to)) && (await isDirectory(plan.moveBack.from))) {
      await fs.rename(plan.moveBack.from, plan.moveBack.to);
      steps.push(`directory moved back to ${plan.moveBack.to}`);
    }
    const directory = plan.moveBack?.to ?? (await jobDirectory(pool, plan.job));
    if (plan.action === 'watch') {
      steps.push(
        await recordRun(plan.job, directory, plan.run.kind, saliflowRunId(plan.run.kind, plan.run.id, hostId), hostId),
      );
      const given = options.operatorRunnerIds?.[plan.job];
      if (given !== undefined) {
        await setAdoptedRunnerId(pool, plan.job, given);
      }
    }
    if (failpoint !== undefined && Number(failpoint) === acting) process.kill(process.pid, 'SIGKILL');
    if (plan.action === 'fail') {
      await transitionJob({ job: plan.job, to: 'FAILED', failure: plan.failure });
      steps.push('FAILED');
    } else {
      const outcome = await startJob(client, config, { job: plan.job, user: users.get(plan.job) ?? null });
      steps.push(outcome.started ? `workflow ${outcome.workflowId} started` : `not started: ${outcome.reason}`);
    }
    const done = steps.join(', ');
    applied.push({ job: plan.job, done });
    print(`${plan.job}: ${done}`);
  }
  return applied;
}

/** Records saliweb's run as cycle 1's run, unless a run is recorded already (then it is kept). */
async function recordRun(job: string, directory: string | null, kind: RunnerKind, id: string, hostId: string) {
  if (directory === null) throw new JobStateError(job, 'no directory to record its run in');
  const existing = await readCycleRecord(directory);
  if (existing?.run) return `run ${existing.run.kind}:${existing.run.id} already recorded`;
  const record: CycleRecord = {
    cycle: existing?.cycle ?? 1,
    run: { kind, id, cycle: existing?.cycle ?? 1, ...(kind === 'local' ? { host: hostId } : {}) },
  };
  await writeCycleRecord(directory, record);
  return `run ${kind}:${id} recorded to be watched`;
}

/** The users of the jobs whose workflows adoption starts. */
async function usersOf(pool: Pool, plans: readonly AdoptionPlan[]): Promise<Map<string, string | null>> {
  const names = plans.filter((plan) => plan.action === 'start' || plan.action === 'watch').map((plan) => plan.job);
  return usersOfJobs(pool, names);
}
