/** The fault suite's judge of a job's state path (test/support/fault-checks.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathProblem } from '../support/fault-checks.js';
import { expectedCycles } from '../support/services/counted-runs.js';

const FULL = ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING', 'COMPLETED'];

test('valid saliweb paths pass, skipped states included', () => {
  assert.equal(pathProblem(FULL, 1), undefined);
  assert.equal(pathProblem(['INCOMING', 'PREPROCESSING', 'COMPLETED'], 0), undefined, 'skip run');
  assert.equal(pathProblem(['INCOMING', 'PREPROCESSING', 'RUNNING', 'COMPLETED'], 1), undefined, 'empty steps');
  const twice = ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'RUNNING', 'POSTPROCESSING'];
  assert.equal(pathProblem([...twice, 'FINALIZING', 'COMPLETED'], 2), undefined, 'rescheduled once');
});

test('FAILED, backwards moves, extra reschedules and unfinished paths are caught', () => {
  assert.match(pathProblem([...FULL, 'FAILED'], 1)!, /COMPLETED→FAILED/);
  assert.match(pathProblem(['INCOMING', 'PREPROCESSING', 'FAILED'], 1)!, /PREPROCESSING→FAILED/);
  assert.match(pathProblem(['INCOMING', 'PREPROCESSING', 'RUNNING', 'PREPROCESSING'], 1)!, /goes backwards/);
  const rerun = ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'RUNNING', 'POSTPROCESSING', 'COMPLETED'];
  assert.match(pathProblem(rerun, 1)!, /rescheduled 1 times for 1 cycles/);
  assert.match(pathProblem(['INCOMING', 'PREPROCESSING', 'RUNNING'], 1)!, /ends at RUNNING/);
  assert.match(pathProblem(['PREPROCESSING', 'COMPLETED'], 0)!, /starts at PREPROCESSING/);
  assert.match(pathProblem([], 1)!, /starts at nothing/);
});

test('the job name says how many run cycles the test service gives it', () => {
  assert.deepEqual(['job003-skip', 'job001', 'job007-twice'].map(expectedCycles), [0, 1, 2]);
});
