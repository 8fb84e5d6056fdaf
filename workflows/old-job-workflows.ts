/**
 * Archiving and expiring old jobs. A Temporal Schedule runs `oldJobsWorkflow`
 * periodically; each due job is handled by a child workflow that reuses the
 * job's own workflow ID (`<service>/<job>`), so the job's whole life reads
 * as consecutive runs of one ID in the Web UI, and a failed archive shows
 * red like any failed job.
 */
import { executeChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { JOB_STATE, jobSearchAttributes, jobSummary, jobWorkflowId } from '../core/job-workflow-contract.js';
import { oldJobSteps, store } from './activity-options.js';
import { endAsFailed } from './fail-job.js';
import type { DueJob } from '../activities/maintenance.js';

/** COMPLETED → ARCHIVED: the directory moves to ARCHIVED's folder, then `archive` runs there. */
export async function archiveJobWorkflow(job: string): Promise<string> {
  return moveOldJob(job, oldJobSteps.archiveJob, 'ARCHIVED');
}

/** ARCHIVED → EXPIRED: `expire` runs while the directory exists, then it is deleted. */
export async function expireJobWorkflow(job: string): Promise<string> {
  return moveOldJob(job, oldJobSteps.expireJob, 'EXPIRED');
}

/** Moves the job on and shows its new state in the Web UI; a failure fails the job, like any job's. */
async function moveOldJob(
  job: string,
  move: (job: string) => Promise<void>,
  to: 'ARCHIVED' | 'EXPIRED',
): Promise<string> {
  try {
    await move(job);
    upsertSearchAttributes([{ key: JOB_STATE, value: to }]);
    return to;
  } catch (error) {
    // saliweb: a failing `archive` or `expire` fails the job (FAILED, directory to FAILED's folder, admin mailed).
    return endAsFailed(job, error, { finished: true });
  }
}

export interface OldJobsInput {
  serviceName: string;
}

export async function oldJobsWorkflow(
  input: OldJobsInput,
): Promise<{ archived: number; expired: number; failed: number }> {
  const due = await store.findOldJobs();
  const { taskQueue } = workflowInfo();
  const run = (workflow: typeof archiveJobWorkflow, job: DueJob) => {
    const state = workflow === archiveJobWorkflow ? 'COMPLETED' : 'ARCHIVED';
    return executeChild(workflow, {
      args: [job.name],
      workflowId: jobWorkflowId(input.serviceName, job.name),
      taskQueue,
      typedSearchAttributes: jobSearchAttributes(input.serviceName, state, job.user),
      staticSummary: jobSummary(
        input.serviceName,
        job.name,
        job.user,
        state === 'COMPLETED' ? 'archive of job' : 'expiry of job',
      ),
    });
  };
  const archived = await Promise.allSettled(due.archive.map((job) => run(archiveJobWorkflow, job)));
  const expired = await Promise.allSettled(due.expire.map((job) => run(expireJobWorkflow, job)));
  const ok = (results: PromiseSettledResult<string>[]) =>
    results.filter((result) => result.status === 'fulfilled').length;
  return {
    archived: ok(archived),
    expired: ok(expired),
    failed: archived.length + expired.length - ok(archived) - ok(expired),
  };
}
