/**
 * Archive and expire by the old-jobs Schedule, and reconcile of INCOMING
 * rows nobody started, with second-long delays so nothing sleeps for long.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, doNothing } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules, ensureSchedules, scheduleIds } from '../../activities/schedules.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { untilHolds } from '../support/until.js';

let fixture: ServiceFixture;
const archivedFiles = new Map<string, string[]>();
const expired: string[] = [];

const service = defineService({
  run: () => doNothing(),
  async archive(job) {
    if (job.name.startsWith('bad-archive')) throw new Error('archive disk full');
    await fs.writeFile(job.path('archived.txt'), 'yes\n');
    archivedFiles.set(
      job.name,
      (await fs.readdir(job.directory)).filter((file) => !file.startsWith('.saliflow-')).sort(),
    );
  },
  expire(job) {
    if (job.name.startsWith('bad-expire')) throw new Error('expire refused');
    expired.push(job.name);
  },
});

before(async () => {
  // 1 s to ARCHIVED, 2 s to EXPIRED: the schedule checks every second.
  fixture = await createServiceFixture({ sections: { oldjobs: { archive: '0.0003h', expire: '0.0006h' } } });
});
after(async () => {
  await fixture.cleanup();
});

const waitForState = (job: string, states: string[], timeoutMs = 30_000) =>
  untilHolds(
    `job ${job} to be ${states.join(' or ')}`,
    () => jobRow(fixture.db, job),
    (row) => states.includes(row.state),
    { timeoutMs, everyMs: 200 },
  );

describe('old jobs', () => {
  test('COMPLETED → ARCHIVED → EXPIRED on schedule; the directory is deleted, the row stays', async () => {
    await withWorker(fixture, service, async ({ client }) => {
      await ensureSchedules(client, fixture.config, fixture.taskQueue);
      try {
        const job = await submitJob({
          config: fixture.config,
          db: fixture.frontendDb,
          client,
          name: 'old',
          files: { 'x.pdb': 'ATOM\n' },
        });
        assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
        const completedDir = path.join(fixture.root, 'completed', job.name);
        const row = await waitForState(job.name, ['EXPIRED', 'FAILED']);
        assert.equal(row.state, 'EXPIRED', String(row.failure));
        assert.equal(row.directory, null);
        await assert.rejects(fs.access(completedDir), /ENOENT/);
        assert.deepEqual(archivedFiles.get(job.name), ['archived.txt', 'x.pdb']);
        assert.ok(expired.includes(job.name));
        // The expire run is the latest run of the job's own workflow ID; the row
        // turns EXPIRED just before that run records it, so wait for the run to close.
        assert.equal(await client.workflow.getHandle(job.workflowId).result(), 'EXPIRED');
        const latest = await client.workflow.getHandle(job.workflowId).describe();
        assert.equal(latest.type, 'expireJobWorkflow');
        assert.deepEqual(latest.searchAttributes.JobState, ['EXPIRED']);
      } finally {
        await deleteSchedules(client, fixture.config);
      }
    });
  });

  for (const step of ['archive', 'expire']) {
    // saliweb: a failing `archive` or `expire` fails the job (issue 29; this used to leave it ARCHIVED).
    test(`a failing ${step} step fails the job: FAILED in FAILED's folder, shows red, the admin is mailed once`, async () => {
      await withWorker(fixture, service, async ({ client }) => {
        await ensureSchedules(client, fixture.config, fixture.taskQueue);
        try {
          const before = fixture.smtp.messages.length;
          const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `bad-${step}` });
          await untilHolds(
            `a failed ${step} run`,
            async () => {
              const description = await client.workflow.getHandle(job.workflowId).describe();
              return { type: description.type, status: description.status.name };
            },
            (run) => run.type === `${step}JobWorkflow` && run.status === 'FAILED',
            { timeoutMs: 30_000, everyMs: 200 },
          );
          assert.match((await workflowOutcome(client, job.workflowId)).failure ?? '', new RegExp(`${step} of job`));
          const row = await jobRow(fixture.db, job.name);
          assert.equal(row.state, 'FAILED');
          assert.match(row.failure ?? '', new RegExp(`${step} of job ${job.name} failed: ${step} (disk full|refused)`));
          assert.equal(row.directory, path.join(fixture.root, 'failed', job.name));
          await fs.access(row.directory!);
          const description = await client.workflow.getHandle(job.workflowId).describe();
          assert.deepEqual(description.searchAttributes.JobState, ['FAILED']);
          // The failed run has ended, and a FAILED job is never archived again: every mail about it is in.
          const mails = fixture.smtp.messages.slice(before);
          assert.equal(mails.length, 1, 'the admin is mailed exactly once');
          assert.equal(
            mails[0]!.subject,
            `Sali lab ${fixture.config.general.serviceName} service: Job ${job.name} FAILED`,
          );
          assert.match(mails[0]!.text, new RegExp(`${step} of job ${job.name} failed: ${step} (disk full|refused)`));
        } finally {
          await deleteSchedules(client, fixture.config);
        }
      });
    });
  }

  test('old jobs in folders the config no longer names are archived and expired where their rows say, as saliweb does', async () => {
    // A lab moved its folders: the rows still name the old ones.
    const rows = [
      { name: 'moved-done', state: 'COMPLETED', folder: 'old-completed' },
      { name: 'moved-arch', state: 'ARCHIVED', folder: 'old-archived' },
    ];
    for (const row of rows) {
      const directory = path.join(fixture.root, row.folder, row.name);
      await fs.mkdir(directory, { recursive: true });
      await fs.writeFile(path.join(directory, 'result.txt'), 'done\n');
      await fixture.db.query(
        'INSERT INTO jobs (name, user, directory, url, state, submit_time, end_time, archive_time, expire_time) ' +
          "VALUES (?, 'alice', ?, 'http://example.org/x', ?, UTC_TIMESTAMP(), UTC_TIMESTAMP(), UTC_TIMESTAMP(), " +
          'DATE_ADD(UTC_TIMESTAMP(), INTERVAL 2 SECOND))',
        [row.name, directory, row.state],
      );
    }
    await withWorker(fixture, service, async ({ client }) => {
      await ensureSchedules(client, fixture.config, fixture.taskQueue);
      try {
        const before = fixture.smtp.messages.length;
        for (const { name } of rows) {
          const row = await waitForState(name, ['EXPIRED', 'FAILED']);
          assert.equal(row.state, 'EXPIRED', String(row.failure));
          assert.equal(row.directory, null);
          // The expire run has closed (the row turns EXPIRED just before).
          assert.equal(
            await client.workflow.getHandle(`${fixture.config.general.serviceName}/${name}`).result(),
            'EXPIRED',
          );
        }
        // Archive moved the COMPLETED one into ARCHIVED's folder (here COMPLETED's), then ran there.
        assert.deepEqual(archivedFiles.get('moved-done'), ['archived.txt', 'result.txt']);
        assert.ok(expired.includes('moved-done') && expired.includes('moved-arch'));
        for (const { name, folder } of rows) {
          await assert.rejects(fs.access(path.join(fixture.root, folder, name)), /ENOENT/);
          await assert.rejects(fs.access(path.join(fixture.root, 'completed', name)), /ENOENT/);
        }
        assert.equal(fixture.smtp.messages.length, before, 'nothing failed: the admin is not mailed');
      } finally {
        await deleteSchedules(client, fixture.config);
      }
    });
  });

  test('NEVER archives nor expires: no old-jobs schedule', async () => {
    const never = await createServiceFixture({ sections: { oldjobs: { archive: 'NEVER', expire: 'NEVER' } } });
    try {
      await withWorker(never, service, async ({ client }) => {
        await ensureSchedules(client, never.config, never.taskQueue);
        try {
          const ids = scheduleIds(never.config.general.serviceName);
          await client.schedule.getHandle(ids.reconcile).describe();
          await assert.rejects(client.schedule.getHandle(ids.oldJobs).describe(), /not found/i);
          const job = await submitJob({ config: never.config, db: never.frontendDb, client, name: 'forever' });
          assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
          const row = await jobRow(never.db, job.name);
          assert.equal(row.archive_time, null);
          assert.equal(row.expire_time, null);
        } finally {
          await deleteSchedules(client, never.config);
        }
      });
    } finally {
      await never.cleanup();
    }
  });
});

describe('reconcile', () => {
  test('starts INCOMING rows that have no workflow, and deletes abandoned INCOMING folders', async () => {
    await withWorker(fixture, service, async ({ client }) => {
      // A legacy frontend: directory and row, but no workflow started.
      const legacy = await submitJob({
        config: fixture.config,
        db: fixture.frontendDb,
        name: 'legacy',
        files: { a: '1' },
      });
      assert.equal(legacy.started, false);
      const abandoned = path.join(fixture.root, 'incoming', 'abandoned');
      const recent = path.join(fixture.root, 'incoming', 'recent');
      await fs.mkdir(abandoned);
      await fs.mkdir(recent);
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await fs.utimes(abandoned, twoHoursAgo, twoHoursAgo);

      const result = await client.workflow.execute('reconcileWorkflow', {
        taskQueue: fixture.taskQueue,
        workflowId: `${fixture.config.general.serviceName}/reconcile-test`,
        args: [{ serviceName: fixture.config.general.serviceName }],
      });
      assert.deepEqual(result, { started: [legacy.name], deleted: ['abandoned'] });
      assert.equal((await workflowOutcome(client, legacy.workflowId)).result, 'COMPLETED');
      await assert.rejects(fs.access(abandoned), /ENOENT/);
      await fs.access(recent);
      await fs.rm(recent, { recursive: true });
    });
  });
});
