/**
 * The frontend socket's start queue with a recorded start function (the
 * real one, against Temporal and MySQL, runs in frontend-socket.test.ts and
 * in the fault suite's scenario (c), pings arriving while Temporal is down).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStartQueue } from '../../worker/start-queue.js';
import { until } from '../support/until.js';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

test('starts run in arrival order, no more than `concurrency` at once; a repeated ping is one start', async () => {
  const began: string[] = [];
  let inFlight = 0;
  let most = 0;
  const queue = createStartQueue({
    concurrency: 3,
    log: (message) => assert.fail(message),
    async start(job) {
      began.push(job);
      most = Math.max(most, ++inFlight);
      await tick(20);
      inFlight--;
    },
  });
  const jobs = Array.from({ length: 20 }, (_, i) => `j${String(i).padStart(2, '0')}`);
  for (const job of jobs) queue.add(job);
  queue.add('j05');
  await until('every start', async () => (queue.pending === 0 ? true : undefined), 5000);
  assert.deepEqual(began, jobs);
  assert.equal(most, 3);
  await queue.close();
});

test('a failing start is retried with backoff without holding up the others, and given up in the end', async () => {
  const attempts = new Map<string, number[]>();
  const order: string[] = [];
  const messages: string[] = [];
  const queue = createStartQueue({
    concurrency: 1,
    firstRetryMs: 20,
    maxRetryMs: 80,
    giveUpAfterMs: 400,
    log: (message) => messages.push(message),
    async start(job) {
      attempts.set(job, [...(attempts.get(job) ?? []), Date.now()]);
      order.push(job);
      if (job === 'flaky' && attempts.get(job)!.length < 3) throw new Error('Timeout expired');
      if (job === 'down') throw new Error('connection refused');
    },
  });
  for (const job of ['flaky', 'down', 'ok1', 'ok2']) queue.add(job);
  await until('flaky started and down given up', async () => (queue.pending === 0 ? true : undefined), 3000);
  assert.deepEqual(
    order.slice(0, 4),
    ['flaky', 'down', 'ok1', 'ok2'],
    'the others went on while flaky waited to retry',
  );
  const flaky = attempts.get('flaky')!;
  assert.equal(flaky.length, 3);
  assert.ok(flaky[2]! - flaky[1]! >= flaky[1]! - flaky[0]!, `backoff grows: ${flaky.map((at) => at - flaky[0]!)}`);
  const down = attempts.get('down')!;
  assert.ok(down.length >= 4 && down.length <= 10, `down tried ${down.length} times in 400 ms`);
  assert.equal(messages.length, 3, messages.join('\n'));
  assert.match(messages[0]!, /^frontend socket: job flaky: .*Timeout expired .*trying again/);
  assert.match(messages[1]!, /^frontend socket: job down: .*connection refused/);
  assert.match(messages[2]!, /^frontend socket: gave up starting job down after \d+ attempts; the reconcile schedule/);
  await queue.close();
});

test('beyond maxPending pings are dropped with one line; close leaves the rest to reconcile', async () => {
  const messages: string[] = [];
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const queue = createStartQueue({
    concurrency: 1,
    maxPending: 3,
    log: (message) => messages.push(message),
    start: () => blocked,
  });
  for (const job of ['a', 'b', 'c', 'd', 'e']) queue.add(job);
  assert.equal(queue.pending, 3);
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /3 jobs wait to be started; dropping pings/);
  const closing = queue.close();
  release();
  await closing;
  assert.match(messages[1]!, /2 job\(s\) not started yet are left to the reconcile schedule/);
  assert.match(messages[2]!, /dropped 2 pings/);
});
