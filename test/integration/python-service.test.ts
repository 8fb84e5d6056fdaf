/**
 * A saliweb Python service, unchanged, run by `saliflow worker
 * --python-service`: each step a python3 process in the job directory, its
 * runners saliflow's runners, its exceptions saliweb's failures.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { startFakeSaliwebService, type FakeSaliwebService } from '../support/fake-saliweb-service.js';
import { startPythonWorker, type PythonWorker } from '../support/python-worker.js';

let fixture: ServiceFixture;
let remote: FakeSaliwebService;
let worker: PythonWorker;
before(async () => {
  remote = await startFakeSaliwebService({ files: { 'model.pdb': 'ATOM 1\n', 'log.txt': 'fine\n' } });
  fixture = await createServiceFixture({
    columns: [{ name: 'num_inputs', type: 'INTEGER', index: true }],
    sections: { labservice: { greeting: 'hello 100%%', remote_url: remote.url } },
  });
  worker = await startPythonWorker(fixture.configFile);
});
after(async () => {
  worker?.process.kill('SIGTERM');
  await worker?.process;
  await remote.close();
  await fixture.cleanup();
});

async function runJob(name: string, mode: string, extra: Record<string, string> = {}) {
  const { client, close } = await temporalClient();
  try {
    const job = await submitJob({
      config: fixture.config,
      db: fixture.frontendDb,
      client,
      name,
      contactEmail: 'user@test.example.org',
      files: { 'mode.txt': `${mode}\n`, 'a.pdb': 'ATOM\n', 'b.pdb': 'ATOM\n', ...extra },
    });
    const outcome = await workflowOutcome(client, job.workflowId);
    return { outcome, row: await jobRow(fixture.db, job.name) };
  } finally {
    await close();
  }
}

const read = (row: { directory: string | null }, file: string) => fs.readFile(path.join(row.directory!, file), 'utf8');

test('a local run: its own column, its section, framework.log, its mails', { timeout: 90_000 }, async () => {
  const { outcome, row } = await runJob('py-local', 'local');
  assert.equal(outcome.result, 'COMPLETED', `${outcome.failure}\n${worker.output()}`);
  assert.equal(row.num_inputs, 2, 'preprocess set the extra column through _metadata');
  assert.equal(await read(row, 'output.txt'), 'round 1\n');
  const log = await read(row, 'framework.log');
  // The Config subclass read its own section, with configparser's interpolation (%% is %).
  assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO hello 100%: 2 inputs$/m);
  assert.match(log, /WARNING complete: .*output\.txt/);
  assert.equal(await read(row, 'preprocess.count'), 'py-local\n');
  const mails = await fixture.smtp.waitFor(2);
  const subjects = mails.map((mail) => `${mail.to.join(',')} ${mail.subject}`).sort();
  assert.deepEqual(subjects, [
    'admin@test.example.org labservice: py-local done',
    'user@test.example.org labservice job py-local is ready',
  ]);
});

test('a rescheduled run gets the data postprocess passed', { timeout: 90_000 }, async () => {
  const { outcome, row } = await runJob('py-resched', 'reschedule');
  assert.equal(outcome.result, 'COMPLETED', outcome.failure);
  assert.equal(await read(row, 'output.txt'), 'round 2\n');
  assert.equal(await read(row, 'run.count'), "reschedule\nrerun {'round': 2}\n");
});

test('skip_run in preprocess: COMPLETED with no run', { timeout: 90_000 }, async () => {
  const { outcome, row } = await runJob('py-skip', 'skip');
  assert.equal(outcome.result, 'COMPLETED', outcome.failure);
  assert.equal(row.run_time, null);
  await assert.rejects(read(row, 'run.count'), /ENOENT/);
});

test(
  'a postprocess that raises: FAILED with saliweb\'s "Python exception:" and the traceback',
  { timeout: 90_000 },
  async () => {
    const before = fixture.smtp.messages.length;
    const { outcome, row } = await runJob('py-fail', 'fail-post');
    assert.ok(outcome.failure, 'the workflow failed');
    assert.equal(row.state, 'FAILED');
    assert.match(
      row.failure ?? '',
      /postprocess of job py-fail failed: Python exception:\nTraceback \(most recent call last\):/,
    );
    assert.match(row.failure ?? '', /saliweb\.backend\.SanityError: the output of py-fail makes no sense/);
    assert.match(row.failure ?? '', /labservice\/__init__\.py", line \d+, in postprocess/);
    const mails = await fixture.smtp.waitFor(before + 1);
    assert.ok(
      mails.slice(before).some((mail) => /py-fail/.test(mail.subject) && /Python exception:/.test(mail.text)),
      'the admin got the failure',
    );
  },
);

test(
  'a SaliWebServiceRunner run: posted to the remote service, results downloaded in postprocess',
  { timeout: 90_000 },
  async () => {
    const { outcome, row } = await runJob('py-web', 'web', { 'in.txt': 'payload\n' });
    assert.equal(outcome.result, 'COMPLETED', outcome.failure);
    const sent = remote.jobs.at(-1)!;
    assert.equal(sent.fields.name, 'alpha');
    assert.equal(sent.files.input?.content, 'payload\n');
    assert.match(row.runner_id ?? '', /^WebService:/);
    assert.equal(await read(row, 'downloaded.txt'), 'log.txt model.pdb\n');
    assert.equal(await read(row, 'model.pdb'), 'ATOM 1\n');
  },
);
