/**
 * The shared status poller keeps each run's waits apart even when two runs
 * carry the same scheduler id (a local pid reused by another job, a cluster
 * whose numbering restarted, a rescheduled cycle). The backend here is a
 * small real one: like the local runner, it reads each run's outcome from a
 * file in the run's own directory.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createStatusPoller, OUTAGE_AFTER, type OutageEvent } from '../../engine/runners/status-poller.js';
import { until } from '../support/until.js';
import type { RunHandle, RunnerBackend, RunStatus } from '../../engine/runners/runner.js';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'saliflow-poller-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

/** A run is finished once `exit-<cycle>` exists in its directory; its text becomes the detail. */
function fileBackend(): RunnerBackend & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    name: 'FILE',
    kind: 'local',
    pollIntervalMs: 20,
    calls,
    submit: async () => {
      throw new Error('not used');
    },
    cancel: async () => undefined,
    async status(handles: readonly RunHandle[]) {
      calls.push(handles.map((handle) => handle.id));
      const statuses = new Map<string, RunStatus>();
      for (const handle of handles) {
        const exit = await fs.readFile(path.join(handle.directory, `exit-${handle.cycle}`), 'utf8').catch(() => null);
        statuses.set(handle.id, exit === null ? { state: 'running' } : { state: 'finished', detail: exit });
      }
      return statuses;
    },
  };
}

async function handle(job: string, cycle: number, id: string): Promise<RunHandle> {
  const directory = path.join(ROOT, job);
  await fs.mkdir(directory, { recursive: true });
  return { name: job, directory, cycle, id };
}

const finish = (run: RunHandle, detail: string) => fs.writeFile(path.join(run.directory, `exit-${run.cycle}`), detail);

/** Settles to 'pending' if the promise has not resolved within a few poll intervals. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);
}

test('runs sharing a scheduler id (other job, other cycle) are waited for apart', async () => {
  const backend = fileBackend();
  const poller = createStatusPoller(backend);
  try {
    const first = await handle('alpha', 1, '1-4242');
    const otherJob = await handle('beta', 1, '1-4242');
    const otherCycle = await handle('alpha', 2, '1-4242');
    const waits = [first, otherJob, otherCycle].map((run) => poller.wait(run));
    await finish(first, 'alpha cycle 1');
    assert.deepEqual(await waits[0], { state: 'finished', detail: 'alpha cycle 1' });
    assert.equal(await settledWithin(waits[1]!, 200), 'pending', 'beta is still running');
    assert.equal(await settledWithin(waits[2]!, 10), 'pending', 'alpha cycle 2 is still running');
    await finish(otherCycle, 'alpha cycle 2');
    assert.deepEqual(await waits[2], { state: 'finished', detail: 'alpha cycle 2' });
    assert.equal(await settledWithin(waits[1]!, 200), 'pending', 'beta is still running');
    await finish(otherJob, 'beta cycle 1');
    assert.deepEqual(await waits[1], { state: 'finished', detail: 'beta cycle 1' });
    for (const ids of backend.calls) assert.equal(new Set(ids).size, ids.length, `one id once per query: ${ids}`);
  } finally {
    poller.close();
  }
});

test('two waits for the same run share it; distinct ids still cost one query per interval', async () => {
  const backend = fileBackend();
  const poller = createStatusPoller(backend);
  try {
    const runs = await Promise.all(['a', 'b', 'c'].map((job, i) => handle(`shared-${job}`, 1, `id-${i}`)));
    const waits = [...runs, runs[0]!].map((run) => poller.wait(run));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(backend.calls.length >= 2, 'polled a few times');
    for (const ids of backend.calls) assert.deepEqual(ids, ['id-0', 'id-1', 'id-2']);
    await Promise.all(runs.map((run) => finish(run, run.name)));
    const statuses = await Promise.all(waits);
    assert.deepEqual(
      statuses.map((status) => (status.state === 'finished' ? status.detail : status.state)),
      ['shared-a', 'shared-b', 'shared-c', 'shared-a'],
    );
  } finally {
    poller.close();
  }
});

test('a cancelled wait leaves the other waits of its id alone', async () => {
  const poller = createStatusPoller(fileBackend());
  try {
    const mine = await handle('gamma', 1, '7');
    const theirs = await handle('delta', 1, '7');
    const abort = new AbortController();
    const cancelled = poller.wait(mine, { signal: abort.signal });
    const kept = poller.wait(theirs);
    abort.abort(new Error('cancelled by the test'));
    await assert.rejects(cancelled, /cancelled by the test/);
    await finish(theirs, 'delta done');
    assert.deepEqual(await kept, { state: 'finished', detail: 'delta done' });
  } finally {
    poller.close();
  }
});

/** A backend whose answer for every run is whatever `answer` says now; `fail` makes the query itself throw. */
function scriptedBackend(graceMs: number) {
  const backend = {
    answer: { state: 'unknown', reason: 'not in qstat; qacct has no record' } as RunStatus,
    fail: false,
    queries: 0,
    name: 'SCRIPTED',
    kind: 'sge' as const,
    pollIntervalMs: 10,
    unknownGraceMs: graceMs,
    submit: async () => 'unused',
    cancel: async () => undefined,
    async status(handles: readonly RunHandle[]) {
      backend.queries += 1;
      if (backend.fail) throw new Error('qstat: timed out after 30 s');
      return new Map(handles.map((one) => [one.id, backend.answer]));
    },
  };
  return backend;
}

/** Resolves once `count` more queries have been made (the poller's own pace, no sleeping on a guess). */
async function queriesMade(backend: { queries: number }, count: number): Promise<void> {
  const target = backend.queries + count;
  while (backend.queries < target) await new Promise((resolve) => setImmediate(resolve));
}

test('a run unknown past the grace window ends as vanished; job-state decides what that means', async () => {
  const backend = scriptedBackend(150);
  const poller = createStatusPoller(backend);
  try {
    const run = await handle('vanishing', 1, '42');
    const reasons: string[] = [];
    const started = Date.now();
    const status = await poller.wait(run, { onUnknown: (reason) => reasons.push(reason) });
    assert.ok(Date.now() - started >= 150, 'not before the grace window');
    assert.equal(status.state, 'finished');
    assert.match(
      status.state === 'finished' ? (status.detail ?? '') : '',
      /^vanished: neither the queue nor accounting has known run 42 since .* \(0 s, unknown_grace_seconds\); last evidence: not in qstat; qacct has no record$/,
    );
    assert.ok(reasons.length > 0 && reasons.every((reason) => /unknown since \d{4}-/.test(reason)), reasons.join('\n'));
  } finally {
    poller.close();
  }
});

test('a failing status query never makes a run vanish, and a requeued run is followed', async () => {
  const backend = scriptedBackend(100);
  const poller = createStatusPoller(backend);
  try {
    const run = await handle('outage', 1, '43');
    let ended = false;
    const wait = poller.wait(run).then((status) => ((ended = true), status));
    // Twenty intervals of a scheduler that does not answer, well past the grace window: nothing moves.
    backend.fail = true;
    await queriesMade(backend, 20);
    assert.equal(ended, false, 'an outage is not evidence');
    // It answers "unknown", then the run is back in the queue (requeued under its id) before the window closes.
    backend.fail = false;
    await queriesMade(backend, 1);
    backend.answer = { state: 'running' };
    await queriesMade(backend, 20);
    assert.equal(ended, false, 'a requeued run is followed');
    backend.answer = { state: 'finished' };
    assert.deepEqual(await wait, { state: 'finished' });
  } finally {
    poller.close();
  }
});

test('a status query failing many intervals in a row moves no run, raises one outage, and one recovery', async () => {
  const backend = fileBackend();
  let failing = true;
  const status = backend.status.bind(backend);
  backend.status = async (handles) => {
    if (failing) throw new Error('squeue: error: Unable to contact the controller');
    return status(handles);
  };
  const events: OutageEvent[] = [];
  const poller = createStatusPoller(backend, undefined, (event) => events.push(event));
  try {
    const run = await handle('outage', 1, '77');
    const ended = poller.wait(run);
    // Ended meanwhile, but nobody can tell while the query fails.
    await finish(run, 'done');
    await until('many failed queries', async () => (poller.queries >= 4 * OUTAGE_AFTER ? true : undefined));
    assert.equal(await settledWithin(ended, 1), 'pending', 'the run stays where it was');
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]!.state, 'down');
    assert.match((events[0] as { error: string }).error, /Unable to contact the controller/);
    failing = false;
    assert.equal((await ended).state, 'finished');
    assert.deepEqual(
      events.map((event) => event.state),
      ['down', 'up'],
    );
    assert.ok(events[1]!.failures >= 4 * OUTAGE_AFTER);
  } finally {
    poller.close();
  }
});
