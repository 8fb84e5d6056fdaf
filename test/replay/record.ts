/**
 * Records histories of the current jobWorkflow, one per path a job can take,
 * for test/unit/workflow-replay.test.ts: the guard that a changed workflow
 * still replays the runs already in flight when workers are upgraded. Each
 * recording goes to a folder of its own, test/replay/histories/<folder>/
 * (default today's date); keep the older folders: runs recorded with older
 * code stay in flight after an upgrade too. Run it on the dev stack whenever
 * the workflow changes on purpose (behind `patched()`):
 *
 *   SALIFLOW_STATE_DIR=/work/main/.state node --import tsx test/replay/record.ts [folder]
 *
 * The paths: completed, rescheduled, skiprun (no run), failed, cancelled,
 * childofwatched (waited for a parent), watched (a run long enough to be
 * waited for through the run watcher's signal), admitted (waited for a slot
 * and was admitted by another job's round) and resubmitted (the new run
 * after a failure), cancelledwaiting (cancelled while it waits for a slot),
 * cancelledinstep (cancelled while its preprocess runs as an activity);
 * with a second service that defines no step but `run`: nosteps, and
 * temporalcancelled (its run cancelled through Temporal's own workflow
 * cancellation, as the Web UI's "Request Cancellation" does); with a third
 * whose `complete` throws: completefailed (FAILED after COMPLETED).
 */
import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { defineService, doNothing, localCommand } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { JOB_STATUS_QUERY, type JobStatus } from '../../core/job-workflow-contract.js';
import { cancelJob, resubmitJob } from '../../client/admin.js';
import { createServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';

const folder = process.argv[2] ?? new Date().toISOString().slice(0, 10);
const OUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'histories', folder);
const WAIT_FOR_GO = 'for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done';

function command(name: string): string {
  if (name.startsWith('cancelled')) return WAIT_FOR_GO;
  // Longer than a quick run (QUICK_RUN_MS): the run watcher signals its end.
  if (name.startsWith('watched') || name.startsWith('holder')) return 'sleep 3; echo ran > ran.txt';
  return 'echo ran > ran.txt';
}

/** Each job's name chooses its path (the prefix before the first dash). */
const service = defineService({
  preprocess: async (job) => {
    // Hangs until cancelled (the step is abandoned; nothing keeps the process alive for it).
    if (job.name.startsWith('cancelledinstep')) await new Promise(() => undefined);
    return job.name.startsWith('skiprun') ? { skipRun: true } : {};
  },
  run: (job) => localCommand(command(job.name)),
  rerun: () => localCommand('echo again > again.txt'),
  postprocess(job) {
    if (job.name.startsWith('failed')) throw new Error('postprocess failed on purpose');
    if (job.name.startsWith('resubmitted') && !fs.existsSync(job.path('fixed'))) throw new Error('not fixed yet');
    if (job.name.startsWith('rescheduled') && !fs.existsSync(job.path('again.txt'))) return { reschedule: { data: 2 } };
    return {};
  },
});

// Two slots: `holder` and `cancelled` take them, so `admitted` waits for a round.
const fixture = await createServiceFixture({ sections: { limits: { running: '2' } } });
try {
  await withWorker(fixture, service, async ({ client }) => {
    const submit = (name: string, parents: string[] = []) =>
      submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, parents });
    const running = async (name: string) =>
      until(`${name} RUNNING`, async () => ((await jobRow(fixture.db, name)).state === 'RUNNING' ? true : undefined));
    const jobs = [await submit('holder'), await submit('cancelled')];
    await running('holder');
    await running('cancelled');
    jobs.push(await submit('admitted'));
    await until('admitted waits', async () => (await jobRow(fixture.db, 'admitted')).state === 'INCOMING' || undefined);
    // Cancelled while it waits for a slot: no run known, so the workflow asks the row for one.
    jobs.push(await submit('cancelledwaiting'));
    await until('cancelledwaiting waits', async () => {
      const status = await client.workflow.getHandle(jobs.at(-1)!.workflowId).query<JobStatus>(JOB_STATUS_QUERY);
      return status.waiting ? true : undefined;
    });
    await cancelJob({ config: fixture.config, db: fixture.db, client, job: 'cancelledwaiting' });
    await workflowOutcome(client, jobs.at(-1)!.workflowId);
    await cancelJob({ config: fixture.config, db: fixture.db, client, job: 'cancelled' });
    await workflowOutcome(client, jobs[1]!.workflowId);
    for (const name of ['completed', 'rescheduled', 'skiprun', 'failed', 'watched', 'resubmitted']) {
      jobs.push(await submit(name));
    }
    // Submitted while its parent's run still goes: it waits for the parent.
    jobs.push(await submit('childofwatched', ['watched']));
    // Cancelled while its preprocess runs (a pending `runStep` activity).
    const inStep = await submit('cancelledinstep');
    jobs.push(inStep);
    await until('cancelledinstep in its step', async () => {
      const { raw } = await client.workflow.getHandle(inStep.workflowId).describe();
      return raw.pendingActivities?.some((activity) => activity.activityId === 'preprocess') || undefined;
    });
    await cancelJob({ config: fixture.config, db: fixture.db, client, job: 'cancelledinstep' });
    const resubmitted = jobs.find((job) => job.name === 'resubmitted')!;
    await workflowOutcome(client, resubmitted.workflowId);
    const failedRow = await jobRow(fixture.db, 'resubmitted');
    fs.writeFileSync(path.join(failedRow.directory!, 'fixed'), '');
    const again = await resubmitJob({ config: fixture.config, db: fixture.db, client, job: 'resubmitted' });
    if (!again.started) throw new Error(`resubmit refused: ${again.reason}`);
    await save(client, jobs);
  });
} finally {
  await fixture.cleanup();
}

/** A service with no step but `run`: a do-nothing job, and a run cancelled through Temporal. */
const noSteps = defineService({
  run: (job) => (job.name.startsWith('temporalcancelled') ? localCommand(WAIT_FOR_GO) : doNothing()),
});
const second = await createServiceFixture();
try {
  await withWorker(second, noSteps, async ({ client }) => {
    const submit = (name: string) => submitJob({ config: second.config, db: second.frontendDb, client, name });
    const jobs = [await submit('nosteps'), await submit('temporalcancelled')];
    await until('temporalcancelled RUNNING', async () => {
      const status = await client.workflow.getHandle(jobs[1]!.workflowId).query<JobStatus>(JOB_STATUS_QUERY);
      return status.state === 'RUNNING' && status.run ? true : undefined;
    });
    await client.workflow.getHandle(jobs[1]!.workflowId).cancel();
    await save(client, jobs);
  });
} finally {
  await second.cleanup();
}

/** A service whose `complete` step throws: the job ends FAILED after COMPLETED (complete-failure-fails-job). */
const completeFails = defineService({
  run: () => doNothing(),
  complete: () => {
    throw new Error('complete failed on purpose');
  },
});
const third = await createServiceFixture();
try {
  await withWorker(third, completeFails, async ({ client }) => {
    const job = await submitJob({ config: third.config, db: third.frontendDb, client, name: 'completefailed' });
    await save(client, [job]);
  });
} finally {
  await third.cleanup();
}

async function save(client: Client, jobs: { name: string; workflowId: string }[]): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  for (const job of jobs) {
    const outcome = await workflowOutcome(client, job.workflowId);
    // The latest run: for `resubmitted`, the run after the failure.
    const history = await client.workflow.getHandle(job.workflowId).fetchHistory();
    const json = proto.temporal.api.history.v1.History.fromObject(history).toJSON();
    fs.writeFileSync(path.join(OUT, `${job.name}.json`), `${JSON.stringify(json, null, 1)}\n`);
    console.log(`${job.name}: ${outcome.result ?? outcome.failure}, ${history.events?.length} events`);
  }
}
