/** How operators' commands lay out what they print (the commands themselves: test/integration/operator-commands.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatJobsTable } from '../../client/list-jobs.js';
import { parseState, UsageError, validateJobName } from '../../cli/support.js';

test('on a terminal, list aligns its columns under a header', () => {
  const submitTime = new Date('2025-01-02T03:04:05Z');
  const table = formatJobsTable([
    { name: 'a', state: 'RUNNING', user: 'ann', submitTime, runnerId: 'sge:12', failure: null },
    {
      name: 'longer-name',
      state: 'INCOMING',
      user: null,
      submitTime,
      runnerId: null,
      failure: null,
      waiting: '5 of 5 running slots taken, 1st in line',
    },
  ]);
  assert.equal(
    table,
    [
      'SUBMITTED (UTC)      STATE     NAME         USER  RUN     WHY',
      '2025-01-02 03:04:05  RUNNING   a            ann   sge:12',
      '2025-01-02 03:04:05  INCOMING  longer-name  -     -       5 of 5 running slots taken, 1st in line',
    ].join('\n'),
  );
  assert.equal(formatJobsTable([]), 'no jobs in those states');
});

test('state and job names are checked where they are typed', () => {
  assert.equal(parseState('failed'), 'FAILED');
  assert.throws(() => parseState('DONE'), UsageError);
  assert.throws(() => parseState('DONE'), /unknown state "DONE"; use one of INCOMING, PREPROCESSING, RUNNING/);
  assert.equal(validateJobName('job_1-a'), 'job_1-a');
  for (const bad of ['', 'a b', '../x', 'x'.repeat(41), 'a;rm']) {
    assert.throws(() => validateJobName(bad), /bad job name .*: job names have 1 to 40 letters, digits, "_" or "-"/);
  }
});
