/**
 * I/O errors that waiting will not cure fail the job they hit, at once and
 * alone, with the path and the errno as its cause: a read-only COMPLETED
 * folder (a tmpfs mounted read-only) and a job directory that cannot be
 * moved (immutable: EPERM even for root). A full disk is a wait with its
 * cause shown, which ends by itself once space is freed (a tmpfs enlarged)
 * or fails the job after `[worker] disk_full_hours`. Needs root (mount,
 * chattr); skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { defineService, doNothing } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { listJobs } from '../../client/list-jobs.js';
import { JOB_STATUS_QUERY, type JobStatus } from '../../core/job-workflow-contract.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { bigFileContent } from '../support/services/big-output.js';
import { freePort, WORKER_READY } from '../support/processes.js';
import { parsePrometheus, total } from '../support/prometheus.js';
import { until } from '../support/until.js';

const skip = process.getuid?.() !== 0 ? 'needs root to mount a tmpfs and set a directory immutable' : false;

let fixture: ServiceFixture;
const cleanups: (() => Promise<unknown>)[] = [];
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await fixture.cleanup();
});

const service = defineService({ run: () => doNothing() });

test('a read-only COMPLETED folder fails the job with EROFS and its path', { skip, timeout: 120_000 }, async () => {
  const completed = path.join(fixture.root, 'completed');
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', completed]);
  try {
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'readonly' });
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.match(outcome.failure ?? '', /JobDirectoryError|EROFS/);
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.state, 'FAILED');
      assert.match(row.failure ?? '', /^JobDirectoryError: job readonly: cannot move its directory .*: EROFS/);
      assert.ok(row.failure?.includes(path.join(completed, 'readonly')), row.failure ?? '');
      assert.equal(row.directory, path.join(fixture.root, 'failed', 'readonly'));
      assert.deepEqual(await fs.readdir(completed), [], 'nothing partial left in the read-only folder');
    });
  } finally {
    await execa('umount', [completed]);
  }
});

test('a job directory that cannot be moved fails that job alone', { skip, timeout: 120_000 }, async () => {
  const { client, close } = await temporalClient();
  try {
    const stuck = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'immutable' });
    const other = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'other' });
    // No worker yet: the directory is made immutable before anything moves it.
    await execa('chattr', ['+i', stuck.directory]);
    cleanups.push(() => execa('chattr', ['-i', stuck.directory]));
    await withWorker(fixture, service, async () => {
      const outcome = await workflowOutcome(client, stuck.workflowId);
      assert.match(outcome.failure ?? '', /JobDirectoryError|EPERM/);
      const row = await jobRow(fixture.db, stuck.name);
      assert.equal(row.state, 'FAILED');
      assert.match(row.failure ?? '', /cannot move its directory .*immutable.*: EPERM/);
      assert.match(row.failure ?? '', /the job directory was not moved/);
      assert.equal((await workflowOutcome(client, other.workflowId)).result, 'COMPLETED', 'the other job went on');
    });
  } finally {
    await close();
  }
});

/** `saliflow worker` (the bin, as an operator runs it) for the big-output service. */
function startWorker(configFile: string) {
  const worker = execa(
    'node',
    [
      path.join(REPO_ROOT, 'bin/saliflow.js'),
      'worker',
      '--config',
      configFile,
      '--service',
      path.join(REPO_ROOT, 'test/support/services/big-output.ts'),
    ],
    { reject: false, all: true },
  );
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { worker, output: () => output };
}

test(
  'a full COMPLETED folder: the job waits saying so, a restart is clean, and it completes whole once space is freed',
  { skip, timeout: 300_000 },
  async () => {
    const metricsPort = await freePort();
    const full = await createServiceFixture({
      sections: { worker: { shutdown_seconds: '2' }, metrics: { prometheus: `127.0.0.1:${metricsPort}` } },
    });
    const completed = path.join(full.root, 'completed');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', completed]);
    const { client, close } = await temporalClient();
    try {
      let worker = startWorker(full.configFile);
      await until('the worker to start', async () => (WORKER_READY.test(worker.output()) ? true : undefined));
      const job = await submitJob({ config: full.config, db: full.frontendDb, client, name: 'big' });
      const movedAt = Date.now();
      const waiting = await until('the cause on the row', async () => {
        const row = await jobRow(full.db, job.name);
        return row.failure?.startsWith('waiting for disk space: ') ? row : undefined;
      });
      console.log(`cause on the row ${Date.now() - movedAt} ms after submission`);
      assert.equal(waiting.state, 'FINALIZING', 'the row keeps its state');
      assert.match(waiting.failure!, /ENOSPC/);
      assert.ok(waiting.failure!.includes(path.join(completed, 'big')), waiting.failure!);
      const [listed] = await listJobs(full.db, ['FINALIZING']);
      assert.match(listed?.failure ?? '', /^waiting for disk space: ENOSPC/, 'list says why');
      const status = await client.workflow.getHandle(job.workflowId).query<JobStatus>(JOB_STATUS_QUERY);
      assert.equal(status.state, 'FINALIZING');
      assert.match(status.waiting ?? '', /ENOSPC/, "the workflow's account (Web UI details) says why");
      assert.deepEqual(await fs.readdir(completed), [], 'nothing partial left in the full folder');
      const scrape = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      assert.ok(total(scrape, 'saliflow_disk_full_retries', { code: 'ENOSPC' }) >= 1, 'counted');

      // SIGTERM while the job waits for space: the worker stops within its bound.
      const stopAt = Date.now();
      worker.worker.kill('SIGTERM');
      const ended = await worker.worker;
      console.log(`SIGTERM to exit ${Date.now() - stopAt} ms`);
      assert.notEqual(ended.exitCode, null, worker.output());

      // What a worker killed mid-copy leaves: the job's own partial copy (removed by its next move) and one of a
      // job that is gone (removed when a worker starts); neither stops a worker from starting.
      await fs.mkdir(path.join(completed, 'big.saliflow-partial'));
      await fs.writeFile(path.join(completed, 'big.saliflow-partial', 'big.bin'), 'cut short');
      await fs.mkdir(path.join(completed, 'gone.saliflow-partial'));
      worker = startWorker(full.configFile);
      await until('the worker to start again', async () => (WORKER_READY.test(worker.output()) ? true : undefined));
      assert.match(worker.output(), /removed .*gone\.saliflow-partial: a copy saliflow left unfinished/);
      await until('the job to try again (its partial copy removed)', async () =>
        (await fs.readdir(completed)).length === 0 ? true : undefined,
      );

      // Space freed: the job goes on by itself, whole.
      await execa('mount', ['-o', 'remount,size=16m', completed]);
      const freedAt = Date.now();
      await until(
        'big COMPLETED',
        async () => ((await jobRow(full.db, job.name)).state === 'COMPLETED' ? true : undefined),
        120_000,
      );
      console.log(`COMPLETED ${Date.now() - freedAt} ms after the tmpfs was enlarged`);
      const row = await jobRow(full.db, job.name);
      assert.equal(row.failure, null, 'the reason went with the wait');
      assert.equal(row.directory, path.join(completed, 'big'));
      assert.ok((await fs.readFile(path.join(completed, 'big', 'big.bin'))).equals(bigFileContent()), 'whole');
      assert.deepEqual(await fs.readdir(completed), ['big']);
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      worker.worker.kill('SIGTERM');
      await worker.worker;
    } finally {
      await deleteSchedules(client, full.config).catch(() => undefined);
      await close();
      await execa('umount', ['-l', completed]).catch(() => undefined);
      await full.cleanup();
    }
  },
);

test(
  'a job that never finds space fails after [worker] disk_full_hours, with the cause',
  { skip, timeout: 180_000 },
  async () => {
    const bounded = await createServiceFixture({ sections: { worker: { disk_full_hours: '0.002' } } });
    const completed = path.join(bounded.root, 'completed');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', completed]);
    try {
      const bigService = (await import('../support/services/big-output.js')).default;
      await withWorker(bounded, bigService, async ({ client }) => {
        const job = await submitJob({ config: bounded.config, db: bounded.frontendDb, client, name: 'nospace' });
        const outcome = await workflowOutcome(client, job.workflowId);
        assert.match(outcome.failure ?? '', /DiskFullError/);
        const row = await jobRow(bounded.db, job.name);
        assert.equal(row.state, 'FAILED');
        assert.match(
          row.failure ?? '',
          /^DiskFullError: job nospace: no space for its directory for \d+ min \(\[worker\] disk_full_hours\): ENOSPC/,
        );
        assert.equal(row.directory, path.join(bounded.root, 'failed', 'nospace'));
        assert.deepEqual(await fs.readdir(completed), [], 'nothing partial left');
      });
    } finally {
      await execa('umount', ['-l', completed]).catch(() => undefined);
      await bounded.cleanup();
    }
  },
);
