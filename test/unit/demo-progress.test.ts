/** The demo's progress lines: a count for the batch, a bar per job along its way to COMPLETED. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoProgressLines } from '../../scripts/demo-progress.js';

test('the demo shows how many jobs finished and where each one is', () => {
  const jobs = [
    { name: 'a', state: 'COMPLETED' },
    { name: 'bbb', state: 'RUNNING' },
    { name: 'cc', state: 'FAILED' },
    { name: 'd', state: 'INCOMING' },
  ];
  assert.deepEqual(demoProgressLines('ModFoo', jobs, 2345), [
    'ModFoo demo: 2 of 4 jobs finished [##########----------]  2.3 s',
    '  a    COMPLETED       [########]',
    '  bbb  RUNNING         [###-----]',
    '  cc   FAILED          [ FAILED ]',
    '  d    INCOMING        [--------]',
  ]);
  // Off a terminal no time is shown, so a line changes only when a job does.
  assert.equal(demoProgressLines('ModFoo', jobs)[0], 'ModFoo demo: 2 of 4 jobs finished [##########----------]');
});
