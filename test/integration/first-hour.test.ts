/**
 * What a new user meets in the first hour says what is wrong and what to do: `show` of a job no
 * worker can answer for names the task queue and the command to start one; `submit` with a
 * missing input file names the file (no raw ENOENT); a worker run as another user than
 * `[backend] user` says so once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { saliflowFor, untilOutputShows } from '../support/processes.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { backend: { user: 'modfoo-backend' } } });
});
after(async () => {
  const { client, close } = await temporalClient();
  await deleteSchedules(client, fixture.config).catch(() => undefined);
  await close();
  await fixture.cleanup();
});

const saliflow = saliflowFor(() => fixture.configFile);

test('show of a job with no worker polling says so and how to start one', { timeout: 90_000 }, async () => {
  const { client, close } = await temporalClient();
  try {
    const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'unanswered' });
    assert.ok(job.started);
    const shown = await saliflow('show', job.name);
    assert.equal(shown.exitCode, 0, shown.stderr);
    assert.ok(
      shown.stdout.includes(
        `now       no worker polls the task queue ${fixture.taskQueue}, so none can answer: start one ` +
          `(\`saliflow worker --config ${fixture.configFile} --service <the service module>\`)`,
      ),
      shown.stdout,
    );
    assert.doesNotMatch(shown.stdout, /Failed to query Workflow/);
    await client.workflow.getHandle(job.workflowId).terminate('test over');
  } finally {
    await close();
  }
});

test('submit with a missing input file names the file and submits nothing', async () => {
  const missing = path.join(fixture.root, 'no-such-input.pdb');
  const submitted = await saliflow('submit', '--name', 'missing-input', missing);
  assert.equal(submitted.exitCode, 2, submitted.stderr);
  assert.equal(submitted.stderr.trim(), `saliflow: input file ${missing}: no such file; nothing was submitted`);
  const [rows] = (await fixture.db.query("SELECT name FROM jobs WHERE name LIKE 'missing-input%'")) as unknown as [
    unknown[],
  ];
  assert.equal(rows.length, 0);
});

test('a worker run as another user than [backend] user says so once', { timeout: 120_000 }, async () => {
  const worker = execa(
    'node',
    [
      path.join(REPO_ROOT, 'bin/saliflow.js'),
      'worker',
      '--config',
      fixture.configFile,
      '--service',
      path.join(REPO_ROOT, 'test/support/services/nothing-job.ts'),
    ],
    { reject: false, all: true },
  );
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await untilOutputShows(worker, () => output, 'saliflow worker for');
    await until('the warning', async () => (/not as \[backend\] user/.test(output) ? true : undefined));
    const warnings = output.match(
      /this worker runs as \S+, not as \[backend\] user modfoo-backend of [^:]+service\.conf: /g,
    );
    assert.equal(warnings?.length, 1, output);
  } finally {
    worker.kill('SIGTERM');
    await worker;
  }
});
