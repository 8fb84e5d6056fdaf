import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneAtATimePerJob } from '../../engine/one-at-a-time.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

test('calls for one job run one after the other, calls for other jobs at once; a failure does not block the next', async () => {
  const perJob = oneAtATimePerJob();
  const events: string[] = [];
  const call =
    (name: string, fail = false) =>
    async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
  const results = await Promise.allSettled([
    perJob('a', call('a1', true)),
    perJob('a', call('a2')),
    perJob('b', call('b1')),
  ]);
  assert.deepEqual(
    results.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message)),
    ['a1 failed', 'a2', 'b1'],
  );
  assert.ok(events.indexOf('a2 start') > events.indexOf('a1 end'), 'a2 waits for a1');
  assert.ok(events.indexOf('b1 start') < events.indexOf('a1 end'), 'b1 does not wait for a1');
});
