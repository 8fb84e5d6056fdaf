/**
 * The local runner is exactly-once too: a worker SIGKILLed right after it
 * spawned the command leaves one process, which the retry adopts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import service from '../support/services/local-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { spawnWorkerProcess } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test('SIGKILL right after spawning: one process, adopted by the retry', { timeout: 120_000 }, async () => {
  const child = spawnWorkerProcess(fixture.configFile, 'local-job', { SALIFLOW_FAILPOINT: 'after-submit' });
  const { client, close } = await temporalClient();
  try {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'local-crash' });
    const ended = await child;
    assert.equal(ended.signal, 'SIGKILL', `the worker died at the failpoint (stderr: ${ended.stderr})`);
    assert.equal((await jobRow(fixture.db, job.name)).runner_id, null, 'the id was never recorded');
    const outcome = await withWorker(fixture, service, () => workflowOutcome(client, job.workflowId));
    assert.equal(outcome.result, 'COMPLETED', outcome.failure);
    const row = await jobRow(fixture.db, job.name);
    assert.equal(await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8'), 'ran\n', 'the command ran once');
    const pid = (await fs.readFile(path.join(row.directory!, '.saliflow-local-1.pid'), 'utf8')).trim();
    assert.equal(row.runner_id, `local:${pid}`);
  } finally {
    child.kill('SIGKILL');
    await close();
  }
});
