/**
 * A job is its row, not its name's history: after a COMPLETED job is
 * deleted (`delete`, `delete-all-jobs`), a new job of the same name (from
 * the submit API, or inserted by a legacy frontend and started by
 * reconcile) runs like any other, completes exactly once, frees its slot,
 * and is the run the operator tools see.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { deleteAllJobs, deleteJob } from '../../client/job-operations.js';
import { createMaintenanceActivities } from '../../activities/maintenance.js';
import service, { COMPLETE_CALLS } from '../support/services/completion-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';

let fixture: ServiceFixture;
before(async () => {
  // One slot: a job that kept it would stop the next one.
  fixture = await createServiceFixture({ sections: { limits: { running: '1' } } });
});
after(async () => {
  await fixture.cleanup();
});

async function completeOnce(client: Client, name: string, contactEmail: string) {
  const workflowId = `${fixture.config.general.serviceName}/${name}`;
  const outcome = await workflowOutcome(client, workflowId);
  assert.equal(outcome.result, 'COMPLETED', outcome.failure);
  const row = await jobRow(fixture.db, name);
  assert.equal(row.state, 'COMPLETED');
  const calls = await fs.readFile(path.join(row.directory!, COMPLETE_CALLS), 'utf8');
  assert.equal(calls, 'started\nfinished\n', 'complete ran once for this job');
  const mails = fixture.smtp.messages.filter((mail) => mail.to.includes(contactEmail));
  assert.equal(mails.length, 1, `one e-mail to ${contactEmail}`);
  return (await client.workflow.getHandle(workflowId).describe()).runId;
}

/** What a legacy frontend does: the directory and the row, and no workflow start. */
async function legacyInsert(name: string, contactEmail: string) {
  const directory = path.join(fixture.config.directories.INCOMING, name);
  await fs.mkdir(directory);
  await fixture.frontendDb.query(
    'INSERT INTO jobs (name, passwd, contact_email, directory, url, submit_time) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP())',
    [name, 'abcdefghij', contactEmail, directory, `http://127.0.0.1/job/${name}`],
  );
}

test('a name used again after delete and after delete-all-jobs runs its new job', { timeout: 180_000 }, async () => {
  await withWorker(fixture, service, async ({ client }) => {
    const submit = (name: string, contactEmail: string) =>
      submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, contactEmail });
    const reconcile = () =>
      createMaintenanceActivities(fixture.config, fixture.db, { client: () => client }).reconcileJobs();

    const first = await submit('reused', 'first@users.example.org');
    const firstRun = await completeOnce(client, first.name, 'first@users.example.org');
    await deleteJob({ config: fixture.config, pool: fixture.db, client, job: first.name, state: 'COMPLETED' });

    // The submit API: the same name is free again, and its start is not refused.
    const second = await submit('reused', 'second@users.example.org');
    assert.equal(second.name, first.name, 'the name was reused');
    assert.ok(second.started, 'the new job was started');
    const secondRun = await completeOnce(client, second.name, 'second@users.example.org');
    assert.notEqual(secondRun, firstRun, 'the operator tools see the new run');

    // A legacy frontend after delete-all-jobs: reconcile starts it.
    await deleteAllJobs({ config: fixture.config, pool: fixture.db, client });
    await legacyInsert(first.name, 'third@users.example.org');
    assert.deepEqual((await reconcile()).started, [first.name]);
    const thirdRun = await completeOnce(client, first.name, 'third@users.example.org');
    assert.notEqual(thirdRun, secondRun);
    assert.deepEqual((await reconcile()).started, [], 'a finished job is not started again');

    // The slot was freed: the next job gets it.
    const next = await submit('next', 'next@users.example.org');
    await completeOnce(client, next.name, 'next@users.example.org');
  });
});
