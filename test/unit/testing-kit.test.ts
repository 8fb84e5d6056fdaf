/** saliflow/testing: a service's steps called on a test job, with no MySQL or Temporal (client/testing.ts). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, createTestJob, runStep } from '../../client/testing.js';
import { defineService, localCommand, ConfigError, RunnerSpecError, JobStateError } from '../../core/index.js';
import modfoo from '../../examples/modfoo/service.js';

after(cleanup);

test('modfoo: preprocess writes its column and the log, run returns a runner, postprocess throws on bad output', async () => {
  const job = await createTestJob(modfoo);
  assert.equal(job.name, 'testjob');
  assert.equal(job.url, 'http://server/test/path/testjob?passwd=abc');
  assert.equal(job.serviceName, 'test_service');
  assert.equal(job.metadata.num_pdbs, null);
  assert.ok(fs.statSync(job.directory).isDirectory());
  fs.writeFileSync(job.path('a.pdb'), 'ATOM 1\nATOM 2\n');
  fs.writeFileSync(job.path('b.pdb'), 'ATOM 1\n');

  assert.deepEqual(await runStep(modfoo, 'preprocess', job), {});
  assert.equal(job.metadata.num_pdbs, 2);
  assert.match(fs.readFileSync(job.path('framework.log'), 'utf8'), / INFO found 2 PDB file\(s\)\n/);

  const spec = await runStep(modfoo, 'run', job);
  assert.equal(spec.kind, 'local');
  // rerun is not defined: the worker's default is run.
  assert.deepEqual(await runStep(modfoo, 'rerun', job, undefined), spec);

  fs.writeFileSync(job.path('atom-counts.txt'), 'a.pdb 2\n');
  await assert.rejects(runStep(modfoo, 'postprocess', job), /expected 2 lines in atom-counts\.txt, found 1/);
  // finalize is not defined: nothing happens.
  assert.equal(await runStep(modfoo, 'finalize', job), undefined);
});

test('modfoo: no inputs skips the run', async () => {
  const job = await createTestJob(modfoo, { name: 'empty', state: 'PREPROCESSING' });
  assert.deepEqual(await runStep(modfoo, 'preprocess', job), { skipRun: true });
  assert.equal(job.metadata.num_pdbs, 0);
  assert.equal(path.basename(job.directory), 'empty');
});

test('config sections, metadata, e-mail and bad runners', async () => {
  const service = defineService<{ [key: string]: string | number | Date | null; score: number | null }>({
    columns: [{ name: 'score', type: 'INTEGER', nullable: true }],
    configSections: { scorer: ['threshold'] },
    async preprocess(job) {
      job.metadata.score = Number(job.config.sections.section('scorer')?.values.get('threshold'));
      await job.sendUserEmail('started', `job ${job.name}`);
      await job.sendAdminEmail('admin', 'note');
      await job.sendEmail(['a@x.org', 'b@x.org'], 'both', 'hi');
    },
    run: () => localCommand(['true']),
    postprocess: (_job, results) => {
      if (results === undefined) throw new Error('no results');
    },
    // A mistake a tsx-loaded module could make: not a runner.
    rerun: () => ({ kind: 'nonsense' }) as never,
  });
  const job = await createTestJob(service, {
    config: { scorer: { threshold: '7' }, general: { admin_email: 'boss@x.org' } },
    contactEmail: 'user@x.org',
    metadata: { score: 1 },
  });
  assert.equal(job.metadata.score, 1);
  await runStep(service, 'preprocess', job);
  assert.equal(job.metadata.score, 7);
  assert.deepEqual(job.sentMail, [
    { kind: 'user', to: 'user@x.org', subject: 'started', body: 'job testjob' },
    { kind: 'admin', to: 'boss@x.org', subject: 'admin', body: 'note' },
    { kind: 'other', to: 'a@x.org, b@x.org', subject: 'both', body: 'hi' },
  ]);
  assert.throws(() => {
    (job.metadata as Record<string, unknown>).scroe = 3;
  }, JobStateError);
  await assert.rejects(runStep(service, 'postprocess', job), /no results/);
  await assert.rejects(runStep(service, 'rerun', job, { round: 2 }), RunnerSpecError);

  // A section the service does not declare is refused, naming the nearest spelling.
  await assert.rejects(createTestJob(service, { config: { scorr: { threshold: '1' } } }), ConfigError);
});

test('cleanup removes the temporary folders', async () => {
  const job = await createTestJob(modfoo);
  await cleanup();
  assert.equal(fs.existsSync(job.directory), false);
});
