/**
 * A cancellation through Temporal itself (the Web UI's "Request
 * Cancellation", `temporal workflow cancel`, a client's `handle.cancel()`)
 * ends the job as `saliflow cancel` does: its run is deleted (a local run's
 * process group killed), the job FAILED with JobCancelledError, the admin
 * e-mailed (issue 32 item 3).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineService, localCommand } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
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

const service = defineService({ run: () => localCommand(['sleep', '120']) });

const processGroupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'a Temporal cancellation of a job with a local run kills the run and fails the job, as saliflow cancel does',
  { timeout: 120_000 },
  async () => {
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'webcancel' });
      // The run's process group, from the row's runner id (`local:<start>-<pid>@<host>`).
      const pid = await until('the local run to start', async () => {
        const row = await jobRow(fixture.db, job.name);
        const found = Number(/^local:\d+-(\d+)/.exec(row.runner_id ?? '')?.[1]);
        return row.state === 'RUNNING' && found > 0 ? found : undefined;
      });
      assert.ok(processGroupAlive(pid), 'the run is going');
      const mailsBefore = fixture.smtp.messages.length;
      await client.workflow.getHandle(job.workflowId).cancel();
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.match(outcome.failure ?? '', /cancellation requested through Temporal/);
      await until(`process group ${pid} to be killed`, async () => (processGroupAlive(pid) ? undefined : true), {
        timeoutMs: 10_000,
      });
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.state, 'FAILED');
      assert.match(row.failure ?? '', /^JobCancelledError: workflow cancellation requested through Temporal/);
      const mails = await fixture.smtp.waitFor(mailsBefore + 1);
      assert.match(mails.at(-1)!.subject, /Job webcancel FAILED/);
    });
  },
);
