/**
 * Ten operators resubmit the same still-failing job at once, while its
 * worker is stopped and then restarted: exactly one new run is made, the
 * nine other commands say they lost and start nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import { resubmitJob } from '../../client/admin.js';
import { PREPROCESS_RUNS } from '../support/services/always-failing-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow } from '../support/jobs.js';
import { spawnWorkerProcess, WORKER_READY } from '../support/processes.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

async function runsOf(name: string): Promise<number> {
  const row = await jobRow(fixture.db, name);
  const text = await fs.readFile(path.join(row.directory ?? '', PREPROCESS_RUNS), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

function startWorker() {
  const child = spawnWorkerProcess(fixture.configFile, 'always-failing-job');
  const ready = new Promise<void>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (WORKER_READY.test(chunk.toString())) resolve();
    });
  });
  return { child, ready };
}

test('ten concurrent resubmits with the worker restarting: one new run', { timeout: 180_000 }, async () => {
  const { client, close } = await temporalClient();
  let worker = startWorker();
  try {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'storm' });
    const handle = client.workflow.getHandle(job.workflowId);
    await until('the first run ends FAILED', async () =>
      (await handle.describe()).status.name === 'FAILED' ? true : undefined,
    );
    assert.equal(await runsOf(job.name), 1);
    const failedRunId = (await handle.describe()).runId;
    worker.child.kill('SIGKILL');
    await worker.child;

    // The storm starts with no worker; one comes back in the middle of it.
    const storm = Array.from({ length: 10 }, () =>
      resubmitJob({ config: fixture.config, db: fixture.db, client, job: job.name }),
    );
    worker = startWorker();
    const outcomes = await Promise.all(storm);
    const started = outcomes.filter((outcome) => outcome.started);
    assert.equal(started.length, 1, `one command resubmitted: ${JSON.stringify(outcomes)}`);
    for (const outcome of outcomes.filter((outcome) => !outcome.started)) {
      assert.match('reason' in outcome ? outcome.reason : '', /another command|now.*nothing started/);
    }
    const newRun = started[0]!;
    assert.ok(newRun.started);
    assert.notEqual(newRun.runId, failedRunId);

    await worker.ready;
    await until('the new run ends FAILED', async () => {
      const run = await client.workflow.getHandle(job.workflowId, newRun.runId).describe();
      return run.status.name === 'FAILED' ? true : undefined;
    });
    const latest = await handle.describe();
    assert.equal(latest.runId, newRun.runId, 'no run started after the winner');
    assert.equal(await runsOf(job.name), 2, 'the step ran once more, not twice');
    assert.equal((await jobRow(fixture.db, job.name)).state, 'FAILED');

    // A later resubmit, after the storm, still works.
    const again = await resubmitJob({ config: fixture.config, db: fixture.db, client, job: job.name });
    assert.ok(again.started, JSON.stringify(again));
    await until('the third run ends FAILED', async () => {
      const run = await client.workflow.getHandle(job.workflowId, again.runId).describe();
      return run.status.name === 'FAILED' ? true : undefined;
    });
    assert.equal(await runsOf(job.name), 3);
  } finally {
    worker.child.kill('SIGKILL');
    await close();
  }
});
