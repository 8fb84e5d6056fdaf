/**
 * A worker killed in the middle of a service step never stalls the job:
 * another worker takes the job over within seconds and, as the service
 * chose, runs the step again ('retry', the default) or fails the job ('fail').
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { spawnWorkerProcess } from '../support/processes.js';
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
  const text = await fs.readFile(path.join(row.directory ?? '', 'preprocess-runs.txt'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

for (const mode of ['retry', 'fail'] as const) {
  test(`a worker killed mid-step: interruptedSteps '${mode}'`, { timeout: 120_000 }, async () => {
    const env = { SALIFLOW_TEST_INTERRUPTED: mode };
    const first = spawnWorkerProcess(fixture.configFile, 'slow-step-job', env);
    const { client, close } = await temporalClient();
    let second: ReturnType<typeof spawnWorkerProcess> | undefined;
    try {
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `cut-${mode}` });
      await until('preprocess to start', async () => ((await runsOf(job.name)) > 0 ? true : undefined), {
        timeoutMs: 30_000,
        everyMs: 50,
      });
      first.kill('SIGKILL');
      await first;
      const killedAt = Date.now();
      second = spawnWorkerProcess(fixture.configFile, 'slow-step-job', env);
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.ok(Date.now() - killedAt < 60_000, 'taken over within a minute');
      const row = await jobRow(fixture.db, job.name);
      if (mode === 'retry') {
        assert.equal(outcome.result, 'COMPLETED', outcome.failure);
        assert.equal(await runsOf(job.name), 2, 'the step ran again');
      } else {
        assert.equal(row.state, 'FAILED');
        assert.match(row.failure ?? '', /preprocess of job cut-fail was cut short by a crash/);
        assert.equal(await runsOf(job.name), 1, 'the step did not run twice');
      }
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGKILL');
      await close();
    }
  });
}
