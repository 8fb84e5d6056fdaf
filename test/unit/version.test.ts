/** Which saliflow runs: `saliflow --version`, and the worker identity that carries it to `saliflow status`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { saliflowVersion } from '../../worker/version.js';
import { parseWorkerIdentity, workerIdentity, workerName } from '../../core/worker-identity.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

test('saliflow --version prints the version of package.json', async () => {
  const { version } = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(saliflowVersion(), version);
  const printed = await execa('node', [path.join(ROOT, 'bin/saliflow.js'), '--version']);
  assert.equal(printed.stdout, version);
});

test('a worker identity carries the version and keeps pid@host, the host last', () => {
  const identity = workerIdentity(4242, 'node-7.example.org', '1.2.3');
  assert.equal(identity, 'saliflow/1.2.3 4242@node-7.example.org');
  assert.equal(identity.split('@').at(-1), 'node-7.example.org');
  assert.deepEqual(parseWorkerIdentity(identity), { pid: 4242, host: 'node-7.example.org', version: '1.2.3' });
  assert.equal(workerName(identity), '4242@node-7.example.org');
  // A worker from before the version was in its identity.
  assert.deepEqual(parseWorkerIdentity('17@hosta'), { pid: 17, host: 'hosta', version: undefined });
  assert.equal(parseWorkerIdentity('temporal-cli'), undefined);
});
