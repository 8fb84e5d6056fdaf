/**
 * Orphans: a job whose workflow was terminated (from the Web UI, say) while
 * its row was in flight is found by reconcile and resumed from its row; a
 * RUNNING one waits for its recorded run instead of starting another.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createSaliflowActivities } from '../../activities/index.js';
import { submitJob } from '../../client/submit.js';
import service from '../support/services/go-file-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test(
  'a RUNNING job whose workflow was terminated is resumed by reconcile and waits for its own run',
  { timeout: 120_000 },
  async () => {
    await withWorker(fixture, service, async ({ client }) => {
      const { activities, close } = createSaliflowActivities({ config: fixture.config, service, client: () => client });
      try {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'orphan' });
        for (const deadline = Date.now() + 30_000; (await jobRow(fixture.db, job.name)).runner_id === null;) {
          if (Date.now() > deadline) throw new Error('the job never ran');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const runnerId = (await jobRow(fixture.db, job.name)).runner_id;
        await client.workflow.getHandle(job.workflowId).terminate('operator clicked terminate');
        assert.equal((await jobRow(fixture.db, job.name)).state, 'RUNNING', 'the row is left in flight');

        const { started } = await activities.reconcileJobs();
        assert.deepEqual(started, [job.name]);
        // The new run waits for the recorded run: same runner id, the command not started again.
        const directory = (await jobRow(fixture.db, job.name)).directory!;
        await fs.writeFile(path.join(directory, 'go'), '');
        assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.runner_id, runnerId);
        assert.equal(await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8'), 'ran\n');
        // Reconcile again: nothing left to start, and the finished job is not touched.
        assert.deepEqual((await activities.reconcileJobs()).started, []);
        assert.equal((await jobRow(fixture.db, job.name)).state, 'COMPLETED');
      } finally {
        await close();
      }
    });
  },
);
