/**
 * Paced calls with recorded calls (the real ones, starts and signals against
 * Temporal, run in frontend-socket.test.ts, the fault suite's scenario (c):
 * pings arriving while Temporal is down, and the scale benchmark).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPacedCalls } from '../../engine/paced-calls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('calls run in order, no more than `concurrency` at once; a key added twice while waiting is one call', async () => {
  const made: string[] = [];
  let inFlight = 0;
  let most = 0;
  const calls = createPacedCalls({ name: 'test', concurrency: 3, log: (message) => assert.fail(message) });
  const call = (label: string) => async () => {
    made.push(label);
    most = Math.max(most, ++inFlight);
    await sleep(20);
    inFlight--;
  };
  const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
  const results = keys.map((key) => calls.add(key, key, call(key)));
  const again = calls.add('k15', 'k15 again', call('k15 newer'));
  assert.deepEqual(await Promise.all([...results, again]), Array(21).fill(true));
  assert.deepEqual(
    made,
    keys.map((key) => (key === 'k15' ? 'k15 newer' : key)),
  );
  assert.equal(most, 3);
  assert.equal(calls.pending, 0);
  await calls.close();
});

test('a key added again while its call is in flight gets its newer call made afterwards', async () => {
  const made: string[] = [];
  const calls = createPacedCalls({ name: 'test', log: (message) => assert.fail(message) });
  const first = calls.add('job', 'reason 1', async () => {
    await sleep(30);
    made.push('reason 1');
  });
  await sleep(5);
  const second = calls.add('job', 'reason 2', async () => void made.push('reason 2'));
  assert.deepEqual(await Promise.all([first, second]), [true, true]);
  assert.deepEqual(made, ['reason 1', 'reason 2']);
  await calls.close();
});

test('a failing call is retried with growing backoff without holding up the others, and given up in the end', async () => {
  const attempts = new Map<string, number[]>();
  const order: string[] = [];
  const messages: string[] = [];
  const calls = createPacedCalls({
    name: 'frontend socket',
    concurrency: 1,
    firstRetryMs: 20,
    maxRetryMs: 80,
    giveUpAfterMs: 400,
    whatThen: 'reconcile does it',
    log: (message) => messages.push(message),
  });
  const call = (key: string) => async () => {
    attempts.set(key, [...(attempts.get(key) ?? []), Date.now()]);
    order.push(key);
    if (key === 'flaky' && attempts.get(key)!.length < 3) throw new Error('Timeout expired');
    if (key === 'down') throw new Error('connection refused');
  };
  const done = await Promise.all(
    ['flaky', 'down', 'ok1', 'ok2'].map((key) => calls.add(key, `start ${key}`, call(key))),
  );
  assert.deepEqual(done, [true, false, true, true]);
  assert.deepEqual(order.slice(0, 4), ['flaky', 'down', 'ok1', 'ok2'], 'the others went on while flaky waited');
  const flaky = attempts.get('flaky')!;
  assert.equal(flaky.length, 3);
  assert.ok(flaky[2]! - flaky[1]! >= flaky[1]! - flaky[0]!, `backoff grows: ${flaky.map((at) => at - flaky[0]!)}`);
  const down = attempts.get('down')!;
  assert.ok(down.length >= 4 && down.length <= 10, `down tried ${down.length} times in 400 ms`);
  assert.equal(messages.length, 3, messages.join('\n'));
  assert.match(messages[0]!, /^frontend socket: start flaky: .*Timeout expired \(trying again/);
  assert.match(messages[1]!, /^frontend socket: start down: .*connection refused/);
  assert.match(messages[2]!, /^frontend socket: gave up \(start down\) after \d+ attempts; reconcile does it: /);
  await calls.close();
});

test('beyond maxPending calls are dropped with one line; close leaves the rest undone', async () => {
  const messages: string[] = [];
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const calls = createPacedCalls({ name: 'test', concurrency: 1, maxPending: 3, log: (m) => messages.push(m) });
  const results = ['a', 'b', 'c', 'd', 'e'].map((key) => calls.add(key, key, () => blocked));
  assert.equal(calls.pending, 3);
  assert.deepEqual(messages, ['test: 3 calls wait; dropping more']);
  const closing = calls.close();
  release();
  await closing;
  assert.deepEqual(await Promise.all(results), [true, false, false, false, false]);
  assert.deepEqual(messages.slice(1), ['test: 2 call(s) not made', 'test: dropped 2 calls while 3 waited']);
});
