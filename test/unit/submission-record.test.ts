/**
 * The submission record decides whether a cluster job is submitted again:
 * only a missing record may mean "not yet". Real files in a temporary folder.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunnerError } from '../../core/errors.js';
import { readRecord, submitExactlyOnce, writeRecord } from '../../engine/runners/submission-record.js';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'saliflow-record-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

let serial = 0;
async function jobDirectory(): Promise<string> {
  const directory = path.join(ROOT, `job-${++serial}`);
  await fs.mkdir(directory);
  return directory;
}

/** A scheduler that counts submissions and knows no job by name. */
function scheduler(directory: string) {
  const submitted: string[] = [];
  return {
    submitted,
    run: {
      kind: 'sge',
      directory,
      cycle: 1,
      baseName: 'job',
      findByName: async () => undefined,
      submit: async (name: string) => {
        submitted.push(name);
        return String(100 + submitted.length);
      },
    },
  };
}

const RECORD_FILE = '.saliflow-sge-1.json';

test('a missing record means not submitted: one submission, then the recorded id is reused', async () => {
  const directory = await jobDirectory();
  assert.equal(await readRecord(directory, 'sge', 1), undefined);
  const { submitted, run } = scheduler(directory);
  assert.equal(await submitExactlyOnce(run), '101');
  assert.equal(await submitExactlyOnce(run), '101');
  assert.equal(submitted.length, 1);
  assert.deepEqual(await readRecord(directory, 'sge', 1), { name: submitted[0], id: '101' });
});

const UNREADABLE: { name: string; make(file: string): Promise<void>; expect: RegExp }[] = [
  // chmod 000 does not stop root; a folder in the file's place fails for everyone.
  { name: 'a folder in its place (EISDIR)', make: (file) => fs.mkdir(file), expect: /EISDIR/ },
  { name: 'half-written JSON', make: (file) => fs.writeFile(file, '{"name":"job_ab'), expect: /not valid JSON/ },
  {
    name: 'JSON of the wrong shape',
    make: (file) => fs.writeFile(file, '{"id":7}'),
    expect: /not a submission record/,
  },
];

for (const { name, make, expect } of UNREADABLE) {
  test(`an unreadable record (${name}) is a retryable error naming the file, and nothing is submitted`, async () => {
    const directory = await jobDirectory();
    const file = path.join(directory, RECORD_FILE);
    await make(file);
    const matches = (error: unknown) => {
      assert.ok(error instanceof RunnerError, `a RunnerError (retried), not ${String(error)}`);
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, expect);
      return true;
    };
    await assert.rejects(readRecord(directory, 'sge', 1), matches);
    const { submitted, run } = scheduler(directory);
    await assert.rejects(submitExactlyOnce(run), matches);
    assert.deepEqual(submitted, [], 'no second cluster submission');
  });
}

test('a record written without an id is found again by name, not resubmitted', async () => {
  const directory = await jobDirectory();
  await writeRecord(directory, 'sge', 1, { name: 'job_cafe' });
  const { submitted, run } = scheduler(directory);
  const id = await submitExactlyOnce({ ...run, findByName: async (name) => (name === 'job_cafe' ? '77' : undefined) });
  assert.equal(id, '77');
  assert.deepEqual(submitted, []);
});
