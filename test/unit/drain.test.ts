/** The drain's order of steps (worker/drain.ts), with fakes for parts the worker-drain integration test runs for real. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainWorker } from '../../worker/drain.js';

test('a drain stops taking work first, then waits for the local runs and the signals, then stops the host queue', async () => {
  const steps: string[] = [];
  let runs = 2;
  let signals = 1;
  let scans = 0;
  const reports: string[] = [];
  const drained = drainWorker(
    {
      stopTakingWork: async () => {
        steps.push('stop taking work');
      },
      admitter: { close: () => steps.push('admitter closed') },
      watcher: {
        get localRuns() {
          return runs;
        },
        scanNow: async () => {
          scans++;
          if (scans === 1) throw new Error('MySQL gone');
          steps.push('scanned');
        },
      },
      pendingSignals: () => signals,
      stopHostQueue: () => steps.push('host queue stopped'),
    },
    (message) => reports.push(message),
    1,
  );
  const until = async (what: () => boolean) => {
    while (!what()) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  await until(() => reports.some((line) => line.includes('waiting for 2 local run(s)')));
  assert.deepEqual(steps, ['admitter closed', 'stop taking work', 'scanned']);
  runs = 0;
  await until(() => reports.some((line) => line.includes('waiting for 1 signal(s)')));
  assert.ok(!steps.includes('host queue stopped'), 'an undelivered signal keeps the worker');
  signals = 0;
  await drained;
  assert.deepEqual(steps, ['admitter closed', 'stop taking work', 'scanned', 'host queue stopped']);
  assert.match(reports.join('\n'), /could not list the RUNNING jobs \(retrying\): MySQL gone/);
  assert.match(reports.at(-1)!, /^drained: no work left/);
});
