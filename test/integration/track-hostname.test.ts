/**
 * saliweb's `track_hostname`: the frontend stores the submitter's address in
 * `hostname`, and the backend never writes it. A job submitted so keeps the
 * frontend's value through its whole lifecycle; saliflow records the worker
 * host that admitted it in its own table (saliflow_job_hosts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defineService, doNothing } from '../../core/index.js';
import { startJob } from '../../activities/job-start.js';
import { readJobHost } from '../../store/admission.js';
import { readWholeRow } from '../../store/job-listing.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ trackHostname: true });
});
after(async () => {
  await fixture.cleanup();
});

test("with track_hostname, the frontend's hostname survives to COMPLETED", async () => {
  const service = defineService({
    preprocess: () => undefined,
    run: () => doNothing(),
    postprocess: () => undefined,
    finalize: () => undefined,
    complete: () => undefined,
  });
  await withWorker(fixture, service, async ({ client }) => {
    // What saliweb's frontend does with track_hostname: the directory, then the row with the submitter's address.
    const name = 'tracked1';
    const directory = path.join(fixture.root, 'incoming', name);
    await fs.mkdir(directory);
    await fixture.frontendDb.query(
      "INSERT INTO jobs (name, passwd, user, directory, url, submit_time, hostname) VALUES (?, 'abcdefghij', 'carol', ?, 'http://x/', UTC_TIMESTAMP(), '198.51.100.23')",
      [name, directory],
    );
    const started = await startJob(client, fixture.config, { job: name, user: 'carol', db: fixture.db });
    const outcome = await workflowOutcome(client, started.workflowId);
    assert.equal(outcome.result, 'COMPLETED', outcome.failure);
    const row = await readWholeRow(fixture.db, name);
    assert.equal(row?.state, 'COMPLETED');
    assert.equal(row?.hostname, '198.51.100.23');
    assert.equal(await readJobHost(fixture.db, name), os.hostname());
  });
});
