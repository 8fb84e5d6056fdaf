/**
 * Admitted jobs whose workflow never moved on (the worker that told them to
 * wait died, or a signal was lost) are signalled by any worker's admitter:
 * only those whose workflow is idle, a bounded number per second. Real
 * MySQL rows; the Temporal side (is a task pending? the signal) is recorded
 * here: the fault suite's scenario (a) runs the real thing, a worker
 * SIGKILLed while jobs wait behind `[limits] running`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createAdmitter } from '../../engine/admission.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

/** Rows admitted 40 s ago whose directory is still in INCOMING's folder: their workflows never moved them. */
async function admittedLongAgo(names: string[]): Promise<void> {
  for (const name of names) {
    await fixture.db.query(
      `INSERT INTO jobs (name, passwd, directory, url, state, submit_time, preprocess_time)
       VALUES (?, 'x', ?, 'http://x', 'PREPROCESSING', UTC_TIMESTAMP() - INTERVAL 60 SECOND,
               UTC_TIMESTAMP() - INTERVAL 40 SECOND)`,
      [name, path.join(fixture.config.directories.INCOMING, name)],
    );
  }
}

test('only stragglers whose workflow is idle are signalled, at most 10 looked at per second', async () => {
  const busy = Array.from({ length: 15 }, (_, i) => `busy${String(i).padStart(2, '0')}`);
  const idle = Array.from({ length: 10 }, (_, i) => `idle${String(i).padStart(2, '0')}`);
  await admittedLongAgo([...busy, ...idle]);
  const looked: { at: number; name: string }[] = [];
  const signalled: string[] = [];
  let checks = 0;
  const admitter = createAdmitter(fixture.config, fixture.db, {
    sweepMs: 3_600_000,
    onStragglerCheck: () => void checks++,
    log: (message) => assert.fail(`unexpected log line: ${message}`),
    notify: async (name) => void signalled.push(name),
    hasPendingTask: async (name) => {
      looked.push({ at: Date.now(), name });
      return name.startsWith('busy');
    },
  });
  try {
    await until('every straggler looked at', async () => (looked.length >= 25 ? true : undefined), 10_000);
    assert.deepEqual([...signalled].sort(), idle, 'the idle ones, each once');
    const names = looked.map((entry) => entry.name);
    assert.equal(new Set(names).size, names.length, 'none looked at twice within 10 s');
    const first = looked[0]!.at;
    assert.ok(
      looked.filter((entry) => entry.at - first < 900).length <= 10,
      `at most 10 in the first check, looked at: ${JSON.stringify(looked)}`,
    );
    // Looked at again only after 10 s: two more checks add nothing.
    const checked = checks;
    await until('two more checks', async () => (checks >= checked + 2 ? true : undefined));
    assert.equal(looked.length, 25);
  } finally {
    admitter.close();
  }
});
