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
import { defineService, localCommand } from '../../core/index.js';
import service from '../support/services/go-file-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';

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
        const runnerId = await until(
          'the job to run',
          async () => (await jobRow(fixture.db, job.name)).runner_id ?? undefined,
          30_000,
        );
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

test(
  'a change cut short between its move and its commit (MySQL killed) is made again: the directory goes back, the job completes',
  { timeout: 120_000 },
  async () => {
    // A finalize step: it needs the job directory where the row says.
    const finalizing = defineService({
      run: () => localCommand('for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done'),
      finalize: (job) => fs.writeFile(job.path('finalized'), 'yes\n'),
    });
    await withWorker(fixture, finalizing, async ({ client }) => {
      const { activities, close } = createSaliflowActivities({
        config: fixture.config,
        service: finalizing,
        client: () => client,
      });
      try {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'cutshort' });
        const handle = client.workflow.getHandle(job.workflowId);
        // Its workflow waits for the run (advanceJob returned), so nothing else moves the job on.
        await until('the job to wait for its run', async () =>
          (await handle.query<{ state: string }>('jobStatus')).state === 'RUNNING' ? true : undefined,
        );
        const running = await jobRow(fixture.db, job.name);
        await handle.terminate('simulating a worker lost mid-change');
        await fs.writeFile(path.join(running.directory!, 'go'), '');
        await until('the run to end', async () =>
          (await fs.readFile(path.join(running.directory!, 'job-state'), 'utf8').catch(() => '')).trim() === 'DONE'
            ? true
            : undefined,
        );
        // FINALIZING → COMPLETED moved the directory, then MySQL died before the row was committed.
        await fixture.db.query("UPDATE jobs SET state = 'FINALIZING' WHERE name = ?", [job.name]);
        const completedDir = path.join(fixture.root, 'completed', job.name);
        await fs.rename(running.directory!, completedDir);

        assert.deepEqual((await activities.reconcileJobs()).started, [job.name]);
        assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.state, 'COMPLETED');
        assert.equal(row.directory, completedDir);
        assert.equal(await fs.readFile(path.join(completedDir, 'finalized'), 'utf8'), 'yes\n', 'finalize ran again');
        await assert.rejects(fs.access(running.directory!), 'nothing is left in the old folder');
      } finally {
        await close();
      }
    });
  },
);
