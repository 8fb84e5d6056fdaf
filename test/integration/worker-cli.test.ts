/**
 * `saliflow worker` as an operator runs it, in its own process: it checks
 * consistency, creates the schedules, listens on the frontend socket, runs
 * ModFoo jobs, serves Prometheus metrics, and stops cleanly on SIGTERM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import modfoo from '../../examples/modfoo/service.js';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules, scheduleIds } from '../../activities/schedules.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { freePort, saliflowFor, untilOutputShows } from '../support/processes.js';
import { saliflowVersion } from '../../worker/version.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ columns: modfoo.columns ?? [] });
});
after(async () => {
  await fixture.cleanup();
});

test('saliflow worker runs jobs, serves metrics and shuts down on SIGTERM', { timeout: 120_000 }, async () => {
  const metrics = `127.0.0.1:${await freePort()}`;
  const worker: ResultPromise = execa(
    'node',
    [
      path.join(REPO_ROOT, 'bin/saliflow.js'),
      'worker',
      '--config',
      fixture.configFile,
      '--service',
      path.join(REPO_ROOT, 'examples/modfoo/service.ts'),
    ],
    { cwd: fixture.root, env: { SALIFLOW_METRICS_ADDRESS: metrics }, reject: false, all: true },
  );
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const { client, close } = await temporalClient();
  try {
    await untilOutputShows(worker, () => output, 'saliflow worker for');
    assert.match(output, new RegExp(`metrics http://${metrics}/metrics`));
    // Which saliflow runs here: in the start-up line, as a metric below, and in `saliflow status`.
    assert.match(
      output,
      new RegExp(`"msg":"saliflow worker for [^"]*; saliflow ${saliflowVersion().replaceAll('.', '\\.')}"`),
    );
    // bin/saliflow.js started it with glibc's mmap threshold fixed (worker/malloc-tuning.ts).
    assert.doesNotMatch(output, /MALLOC_MMAP_THRESHOLD_ is not set/);
    await client.schedule.getHandle(scheduleIds(fixture.config.general.serviceName).reconcile).describe();

    const job = await submitJob({
      config: fixture.config,
      db: fixture.frontendDb,
      client,
      name: 'via-cli',
      files: { 'a.pdb': 'ATOM      1  CA  ALA A   1\nEND\n', 'b.pdb': 'ATOM      1  CA  ALA A   1\nEND\n' },
    });
    const outcome = await workflowOutcome(client, job.workflowId);
    assert.equal(outcome.result, 'COMPLETED', outcome.failure);
    assert.equal((await jobRow(fixture.db, job.name)).num_pdbs, 2);

    const scraped = await (await fetch(`http://${metrics}/metrics`)).text();
    assert.match(scraped, /saliflow_job_state_entered\{[^}]*state="COMPLETED"[^}]*\} 1/);
    assert.match(scraped, /temporal_workflow_completed/);
    assert.match(scraped, new RegExp(`saliflow_build_info\\{[^}]*version="${saliflowVersion()}"[^}]*\\} 1\\b`));
    // By now every SDK Worker has started. The SDK's expected lines are not logged (worker/logger.ts).
    assert.doesNotMatch(output, /No Nexus services registered|No workflows registered/);
    const status = await saliflowFor(() => fixture.configFile)('status');
    assert.match(
      status.stdout,
      new RegExp(`workers: 1 polling \\S+ \\(saliflow ${saliflowVersion()}\\)`),
      status.stdout,
    );
    assert.match(status.stdout, new RegExp(`\\d+@\\S+ +${saliflowVersion()} +activity\\+workflow`), status.stdout);
  } finally {
    worker.kill('SIGTERM');
    const ended = await worker;
    await deleteSchedules(client, fixture.config);
    await close();
    assert.equal(ended.exitCode, 0, `clean exit on SIGTERM:\n${output}`);
  }
});
