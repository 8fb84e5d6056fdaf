/**
 * A step that never returns does not hold its job: `cancel`, `failjob` and
 * `delete` end it within seconds and free its slot; a resubmit on the same
 * worker runs while the abandoned call still hangs there; and a step past
 * its `stepTimeouts` limit fails the job with StepTimeoutError naming the
 * job, the step and the limit. While a step hangs, the job's account
 * (the status query, `show`, the Web UI's details) agrees with the row and
 * names the step, its start and its limit, and the step is a pending
 * `runStep` activity in the Web UI, with no limit beyond the service's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { defineService, doNothing, type JobContext } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { cancelJob, resubmitJob } from '../../client/admin.js';
import { deleteJob, failJob } from '../../client/job-operations.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { formatJobDetails, showJob } from '../../client/show-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  // One slot: a hung job that kept it would stop every later job.
  fixture = await createServiceFixture({ sections: { limits: { running: '1' } } });
});
after(async () => {
  await fixture.cleanup();
});

const RUNS = 'preprocess-runs.txt';

/** Counts the step's runs in the job directory; a job named hung* hangs on its first run, for good. */
async function hangFirstTime(job: JobContext): Promise<void> {
  await fs.appendFile(job.path(RUNS), 'x\n');
  const runs = (await fs.readFile(job.path(RUNS), 'utf8')).split('\n').filter(Boolean).length;
  if (job.name.startsWith('hung') && runs === 1) await new Promise(() => undefined);
}

const hangs = defineService({ preprocess: hangFirstTime, run: () => doNothing() });

async function runsOf(name: string): Promise<number> {
  const row = await jobRow(fixture.db, name);
  const text = await fs.readFile(path.join(row.directory ?? '', RUNS), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

async function hungJob(client: Client, name: string) {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
  await until(`${name}'s step hangs`, async () => ((await runsOf(job.name)) === 1 ? true : undefined));
  assert.equal((await jobRow(fixture.db, job.name)).state, 'PREPROCESSING');
  return job;
}

/** A job behind the hung one gets the only slot and completes. */
async function slotFreed(client: Client, name: string) {
  const next = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
  const outcome = await workflowOutcome(client, next.workflowId);
  assert.equal(outcome.result, 'COMPLETED', outcome.failure);
}

async function resubmitCompletes(client: Client, name: string) {
  const again = await resubmitJob({ config: fixture.config, db: fixture.db, client, job: name });
  assert.ok(again.started, JSON.stringify(again));
  const result = await client.workflow.getHandle(again.workflowId, again.runId).result();
  assert.equal(result, 'COMPLETED');
  assert.equal((await jobRow(fixture.db, name)).state, 'COMPLETED');
  assert.equal(await runsOf(name), 2, 'the step ran once more');
}

test('cancel ends a hung step; a resubmit on the same worker completes', { timeout: 120_000 }, async () => {
  await withWorker(fixture, hangs, async ({ client }) => {
    const job = await hungJob(client, 'hung-cancel');
    await cancelJob({ config: fixture.config, db: fixture.db, client, job: job.name });
    const outcome = await workflowOutcome(client, job.workflowId);
    assert.match(outcome.failure ?? '', /cancelled by administrator/);
    const row = await jobRow(fixture.db, job.name);
    assert.equal(row.state, 'FAILED');
    assert.match(row.failure ?? '', /JobCancelledError/);
    await slotFreed(client, 'after-cancel');
    await resubmitCompletes(client, job.name);
  });
});

test('failjob ends a hung step; a resubmit on the same worker completes', { timeout: 120_000 }, async () => {
  await withWorker(fixture, hangs, async ({ client }) => {
    const job = await hungJob(client, 'hung-failjob');
    const failed = await failJob({ config: fixture.config, pool: fixture.db, client, job: job.name, reason: 'stuck' });
    assert.equal(failed.from, 'PREPROCESSING');
    assert.equal((await jobRow(fixture.db, job.name)).state, 'FAILED');
    await slotFreed(client, 'after-failjob');
    await resubmitCompletes(client, job.name);
  });
});

test('delete ends a hung step and frees its slot', { timeout: 120_000 }, async () => {
  await withWorker(fixture, hangs, async ({ client }) => {
    const job = await hungJob(client, 'hung-delete');
    await deleteJob({ config: fixture.config, pool: fixture.db, client, job: job.name, state: 'PREPROCESSING' });
    const [rows] = await fixture.db.query('SELECT name FROM jobs WHERE name = ?', [job.name]);
    assert.deepEqual(rows, []);
    await slotFreed(client, 'after-delete');
  });
});

test('a step past its limit fails the job with StepTimeoutError', { timeout: 120_000 }, async () => {
  const bounded = defineService({ ...hangs, stepTimeouts: { default: 60_000, preprocess: 2000 } });
  await withWorker(fixture, bounded, async ({ client }) => {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'hung-timeout' });
    const outcome = await workflowOutcome(client, job.workflowId);
    const expected = /preprocess of job hung-timeout did not finish within 2 s \(stepTimeouts\.preprocess/;
    assert.match(outcome.failure ?? '', expected);
    const row = await jobRow(fixture.db, job.name);
    assert.equal(row.state, 'FAILED');
    assert.match(row.failure ?? '', /^StepTimeoutError: /);
    assert.match(row.failure ?? '', expected);
    await slotFreed(client, 'after-timeout');
  });
});

test(
  "while a step hangs, show, the status query and the Web UI's details agree with the row and name the step, its start and its limit",
  { timeout: 120_000 },
  async () => {
    const bounded = defineService({ ...hangs, stepTimeouts: { default: 60_000, preprocess: 300_000 } });
    await withWorker(fixture, bounded, async ({ client }) => {
      const submitted = Date.now();
      const job = await hungJob(client, 'hung-shown');
      const before = Date.now();
      // The workflow names the step from the moment it hands it to its activity.
      const status = await until('the status query to answer', async () => {
        const answer = await queryJobStatus(client, fixture.config, job.name);
        return 'status' in answer ? answer.status : undefined;
      });
      const row = await jobRow(fixture.db, job.name);
      assert.equal(status.state, row.state);
      assert.equal(status.state, 'PREPROCESSING');
      assert.equal(status.step?.name, 'preprocess');
      assert.equal(status.step?.timeoutMs, 300_000);
      assert.equal(status.step?.limitKey, 'preprocess');
      const startedAt = Date.parse(status.step?.startedAt ?? '');
      assert.ok(startedAt >= submitted - 1000 && startedAt <= before, status.step?.startedAt);

      const shown = formatJobDetails(await showJob({ config: fixture.config, db: fixture.db, client, job: job.name }));
      const since = status.step!.startedAt.slice(0, 19).replace('T', ' ');
      assert.match(shown, /^job hung-shown: PREPROCESSING$/m);
      assert.ok(
        shown.includes(`now       PREPROCESSING, preprocess since ${since} UTC (limit 5 min, stepTimeouts.preprocess)`),
        shown,
      );

      const details = await until("the Web UI's details to name the step", async () => {
        const metadata = await client.workflow
          .getHandle(job.workflowId)
          .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        return metadata.currentDetails?.includes('preprocess since') ? metadata.currentDetails : undefined;
      });
      assert.equal(details, `PREPROCESSING: preprocess since ${since} UTC (limit 5 min, stepTimeouts.preprocess)`);

      await cancelJob({ config: fixture.config, db: fixture.db, client, job: job.name });
      await workflowOutcome(client, job.workflowId);
      await slotFreed(client, 'after-shown');
    });
  },
);

test(
  'a long step with a limit over 110 minutes is a pending activity named by the step, and its history does not grow with its length',
  { timeout: 120_000 },
  async () => {
    // 25 s: the keep-alive tasks of a step inside a local activity (one per 8 s) would have added three tasks.
    const slow = defineService({
      stepTimeouts: { default: 60_000, preprocess: 3 * 60 * 60 * 1000 },
      preprocess: async (job) => {
        await fs.appendFile(job.path(RUNS), 'x\n');
        await new Promise((resolve) => setTimeout(resolve, 25_000));
        return { skipRun: true };
      },
      run: () => doNothing(),
    });
    await withWorker(fixture, slow, async ({ client }) => {
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'slow-once' });
      await until('the step to start', async () => ((await runsOf(job.name)) === 1 ? true : undefined));
      const pending = await until('the step to show as a pending activity', async () => {
        const { raw } = await client.workflow.getHandle(job.workflowId).describe();
        return raw.pendingActivities?.find((activity) => activity.activityId === 'preprocess');
      });
      assert.equal(pending.activityType?.name, 'runStep');
      const status = await queryJobStatus(client, fixture.config, job.name);
      assert.ok('status' in status, JSON.stringify(status));
      assert.equal(status.status.step?.name, 'preprocess');
      assert.equal(status.status.step?.timeoutMs, 3 * 60 * 60 * 1000);
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assert.equal(await runsOf(job.name), 1, 'the step ran once');
      const events = (await client.workflow.getHandle(job.workflowId).fetchHistory()).events ?? [];
      assert.equal(events.filter((event) => event.workflowTaskFailedEventAttributes).length, 0, 'no failed task');
      // One task hands the step over, one takes its outcome to COMPLETED, however long the step ran.
      const tasks = events.filter((event) => event.workflowTaskCompletedEventAttributes).length;
      assert.equal(tasks, 2, `workflow tasks completed: ${tasks} (of ${events.length} events)`);
      assert.ok(events.length <= 20, `${events.length} events`);
    });
  },
);

test('a bad limit is refused when the worker starts, naming the step', async () => {
  for (const ms of [0, 1.5, 2 ** 31]) {
    const bad = defineService({ ...hangs, stepTimeouts: { preprocess: ms } });
    await assert.rejects(
      withWorker(fixture, bad, async () => undefined),
      new RegExp(`stepTimeouts: \\{ preprocess: ${ms} \\}.*from 1 to 2147483647`),
    );
  }
});
