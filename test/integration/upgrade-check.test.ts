/**
 * `saliflow upgrade-check` on a service with jobs in flight: their histories replay on the installed workflow code
 * (exit 0), and a release whose job workflow changed incompatibly is named, job by job (exit 3).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import service from '../support/services/go-file-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { saliflowFor } from '../support/processes.js';
import { untilHolds } from '../support/until.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test(
  'upgrade-check replays the open workflows and names those a changed release would fail',
  { timeout: 180_000 },
  async () => {
    const saliflow = saliflowFor(() => fixture.configFile);
    await withWorker(fixture, service, async ({ client }) => {
      const jobs = [];
      for (const name of ['waits1', 'waits2']) {
        jobs.push(await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name }));
      }
      for (const job of jobs) {
        await untilHolds(
          `${job.name} to run`,
          () => jobRow(fixture.db, job.name),
          (row) => !!row.runner_id,
        );
      }
      // Visibility lags the start by a moment: wait until both are listed as running on the task queue.
      await untilHolds(
        'both jobs listed as running',
        async () => {
          const ids: string[] = [];
          const query = `TaskQueue = "${fixture.taskQueue}" AND ExecutionStatus = "Running"`;
          for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
          return ids.sort();
        },
        (ids) => ids.length === 2,
      );

      const installed = await saliflow('upgrade-check');
      assert.equal(installed.exitCode, 0, `${installed.stdout}\n${installed.stderr}`);
      assert.match(installed.stdout, /2 open workflow\(s\) of \S+ .*: 2 replay, 0 would fail/);
      assert.match(installed.stdout, /Safe to restart the workers on this code\./);

      const changed = path.join(REPO_ROOT, 'test/support/changed-workflows/index.ts');
      const release = await saliflow('upgrade-check', '--workflows', changed, '--json');
      assert.equal(release.exitCode, 3, `${release.stdout}\n${release.stderr}`);
      const check = JSON.parse(release.stdout) as { verdicts: { workflowId: string; error?: string }[] };
      assert.deepEqual(
        check.verdicts.map((verdict) => verdict.workflowId).sort(),
        jobs.map((job) => job.workflowId).sort(),
      );
      for (const verdict of check.verdicts) assert.match(verdict.error ?? '', /nondetermin/i, verdict.workflowId);
      assert.match(release.stderr, /2 open workflow\(s\) would fail on this code/);

      for (const job of jobs) {
        await fs.writeFile(path.join((await jobRow(fixture.db, job.name)).directory!, 'go'), '');
        assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      }
    });
  },
);
