/** The `saliflow` command as an operator types it. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execa } from 'execa';
import { submitJob } from '../../client/submit.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const saliflow = (...args: string[]) =>
  execa('node', [path.join(REPO_ROOT, 'bin/saliflow.js'), ...args], { reject: false, env: { SALIFLOW_CONFIG: '' } });

test('list shows jobs in the asked states, in submit order', async () => {
  await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'first', user: 'ann' });
  await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'second' });
  const listed = await saliflow('list', '--config', fixture.configFile);
  assert.equal(listed.exitCode, 0, listed.stderr);
  // No workflow was started (no client): why they wait comes from the rows, as for any job.
  assert.match(
    listed.stdout,
    new RegExp(
      `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {2}INCOMING {8}first {2}ann {2}0 of 5 running slots taken, 1st in line\\n` +
        `.* {2}INCOMING {8}second {2}- {2}0 of 5 running slots taken, 2nd in line$`,
    ),
  );
  const none = await saliflow('list', '--config', fixture.configFile, 'completed', 'archived');
  assert.equal(none.stdout, 'no jobs in those states');
});

test('mistakes get a message and a non-zero exit', async () => {
  const bogus = await saliflow('list', '--config', fixture.configFile, 'bogus');
  assert.equal(bogus.exitCode, 2);
  assert.match(bogus.stderr, /saliflow: unknown state "bogus"; use one of INCOMING/);
  const noConfig = await saliflow('list');
  assert.notEqual(noConfig.exitCode, 0);
  assert.match(noConfig.stderr, /required option '-c, --config <file>' not specified/);
  const badConfig = await saliflow('list', '--config', path.join(fixture.root, 'missing.conf'));
  assert.equal(badConfig.exitCode, 1);
  assert.match(badConfig.stderr, /missing\.conf/);
  const resubmit = await saliflow('resubmit', '--config', fixture.configFile, 'nosuchjob');
  assert.equal(resubmit.exitCode, 1);
  assert.match(resubmit.stderr, /saliflow: no job nosuchjob in Test\w+; `saliflow list` shows the jobs there are/);
});
