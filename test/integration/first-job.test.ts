/**
 * The first end-to-end path (issue 2): a job submitted through the client
 * travels INCOMING → PREPROCESSING → RUNNING → POSTPROCESSING → FINALIZING →
 * COMPLETED on a real Temporal server and a real MySQL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, doNothing } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow } from '../support/jobs.js';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../worker/create-worker.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test('a submitted job runs to COMPLETED, its row and directory in step', async () => {
  const service = defineService({ run: () => doNothing() });
  await withWorker(fixture, service, async ({ client }) => {
    const job = await submitJob({
      config: fixture.config,
      db: fixture.frontendDb,
      client,
      name: 'first job!',
      user: 'alice',
      files: { 'input.txt': 'hello\n' },
    });
    assert.equal(job.name, 'firstjob');
    assert.equal(job.workflowId, `${fixture.config.general.serviceName}/firstjob`);
    assert.equal(job.started, true);
    assert.equal(await client.workflow.getHandle(job.workflowId).result(), 'COMPLETED');

    const row = await jobRow(fixture.db, job.name);
    assert.equal(row.state, 'COMPLETED');
    const completedDir = path.join(fixture.root, 'completed', job.name);
    assert.equal(row.directory, completedDir);
    assert.equal(row.runner_id, 'DoNothing:cycle-1');
    const times = [
      row.submit_time,
      row.preprocess_time,
      row.run_time,
      row.postprocess_time,
      row.finalize_time,
      row.end_time,
    ];
    for (const time of times) assert.ok(time instanceof Date, `every timestamp is set: ${JSON.stringify(row)}`);
    for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! <= times[i]!, `timestamps in order at ${i}`);
    // 30d / 90d from end_time, as the fixture's [oldjobs] says.
    assert.equal(row.archive_time!.getTime() - row.end_time!.getTime(), 30 * 86400_000);
    assert.equal(row.expire_time!.getTime() - row.end_time!.getTime(), 90 * 86400_000);
    // UTC: end_time is within a minute of now in UTC.
    assert.ok(
      Math.abs(row.end_time!.getTime() - Date.now()) < 60_000,
      `end_time ${row.end_time!.toISOString()} is UTC now`,
    );

    assert.equal(await fs.readFile(path.join(completedDir, 'input.txt'), 'utf8'), 'hello\n');
    // saliweb: job-state is removed once a run's results are taken.
    await assert.rejects(fs.access(path.join(completedDir, 'job-state')), /ENOENT/);
    assert.deepEqual(await fs.readdir(path.join(fixture.root, 'incoming')), []);
    assert.deepEqual(await fs.readdir(path.join(fixture.root, 'running')), []);

    assert.deepEqual(await client.workflow.getHandle(job.workflowId).query('jobStatus'), {
      state: 'COMPLETED',
      cycle: 1,
      run: 'do-nothing:cycle-1',
    });
    const description = await client.workflow.getHandle(job.workflowId).describe();
    assert.equal(description.status.name, 'COMPLETED');
    const attributes = description.searchAttributes;
    assert.deepEqual(attributes.JobState, ['COMPLETED']);
    assert.deepEqual(attributes.JobUser, ['alice']);
  });
});

test('the workflow replays deterministically from its recorded history', async () => {
  const service = defineService({ run: () => doNothing(), postprocess: () => undefined });
  await withWorker(fixture, service, async ({ client }) => {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'replayed' });
    assert.equal(await client.workflow.getHandle(job.workflowId).result(), 'COMPLETED');
    const history = await client.workflow.getHandle(job.workflowId).fetchHistory();
    // Throws DeterminismViolationError if the code no longer produces this history.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, job.workflowId);
  });
});

test('starting a live job a second time is a no-op', async () => {
  const service = defineService({ run: () => doNothing() });
  await withWorker(fixture, service, async ({ client }) => {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'twice' });
    const { startJob } = await import('../../activities/job-start.js');
    const again = await startJob(client, fixture.config, { job: job.name, user: null });
    assert.equal(again.started, true);
    assert.equal(await client.workflow.getHandle(job.workflowId).result(), 'COMPLETED');
    // Once the job completed, no start may run it again.
    const late = await startJob(client, fixture.config, { job: job.name, user: null });
    assert.equal(late.started, false);
    assert.equal((await jobRow(fixture.db, job.name)).state, 'COMPLETED');
  });
});

test('the frontend user may only read and add jobs', async () => {
  await assert.rejects(fixture.frontendDb.query("UPDATE jobs SET state = 'FAILED'"), /UPDATE command denied/);
  await assert.rejects(fixture.frontendDb.query('DELETE FROM jobs'), /DELETE command denied/);
  await fixture.frontendDb.query('SELECT COUNT(*) FROM jobs');
});
