/**
 * A job whose run is delegated to another saliweb service over REST, end to
 * end through Temporal: submitted, polled through 503s, and its result files
 * handed to postprocess, which downloads them into the job directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, webService } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { defaultRunners } from '../../engine/runners/index.js';
import { createWebServiceRunner } from '../../engine/runners/web-service.js';
import type { RunnerBackend } from '../../engine/runners/runner.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { startFakeSaliwebService, type FakeSaliwebService } from '../support/fake-saliweb-service.js';

let fixture: ServiceFixture;
let remote: FakeSaliwebService;
before(async () => {
  fixture = await createServiceFixture();
  remote = await startFakeSaliwebService({ notReadyTimes: 3, files: { 'model.pdb': 'ATOM 1\n', 'log.txt': 'fine\n' } });
});
after(async () => {
  await remote.close();
  await fixture.cleanup();
});

test('a web-service run: fields and files posted, 503s waited out, results downloaded in postprocess', async () => {
  const downloaded: string[] = [];
  const service = defineService({
    // As saliweb's SaliWebServiceRunner(url, args) is given them: the …/job URL and curl -F strings.
    run: () => webService(remote.jobUrl, ['name=alpha', 'input=@in.txt', 'chain=A', 'chain=B']),
    async postprocess(job, results) {
      for (const file of results ?? []) downloaded.push(path.basename(await file.download()));
    },
  });
  const runners = {
    ...defaultRunners(),
    'web-service': createWebServiceRunner({ initialBackoffMs: 50, maxBackoffMs: 200 }) as RunnerBackend,
  };
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const job = await submitJob({
        config: fixture.config,
        db: fixture.frontendDb,
        client,
        name: 'remote',
        files: { 'in.txt': 'payload\n' },
      });
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      const [sent] = remote.jobs;
      assert.equal(sent!.fields.name, 'alpha');
      assert.equal(sent!.files.input?.content, 'payload\n');
      assert.deepEqual(sent!.entries, [
        ['name', 'alpha'],
        ['input', '@in.txt:payload\n'],
        ['chain', 'A'],
        ['chain', 'B'],
      ]);
      assert.ok(sent!.resultsRequests.length >= 4, 'polled through three 503s');
      const row = await jobRow(fixture.db, job.name);
      assert.match(row.runner_id ?? '', /^WebService:http:\/\/127\.0\.0\.1:\d+\/results\//);
      assert.deepEqual(downloaded.sort(), ['log.txt', 'model.pdb']);
      assert.equal(await fs.readFile(path.join(row.directory!, 'model.pdb'), 'utf8'), 'ATOM 1\n');
    },
    { runners },
  );
});
