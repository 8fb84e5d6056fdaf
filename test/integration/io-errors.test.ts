/**
 * I/O errors that waiting will not cure fail the job they hit, at once and
 * alone, with the path and the errno as its cause: a read-only COMPLETED
 * folder (a tmpfs mounted read-only) and a job directory that cannot be
 * moved (immutable: EPERM even for root). Needs root (mount, chattr);
 * skipped otherwise.
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
