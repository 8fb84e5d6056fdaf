/**
 * The worker's log lines: JSON with the job's context (or readable on a
 * terminal), bounded whatever the input, the SDK's metadata mapped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { contextLogger, updateLogContext, withLogContext } from '../../engine/log-context.js';
import { createWorkerLogger, logFields, MAX_FIELD_CHARS, MAX_MESSAGE_CHARS } from '../../worker/logger.js';

function capture(isTTY = false) {
  const lines: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    }),
    { isTTY },
  );
  return { lines, stream };
}

test('lines are JSON with the service, and the job context current when they were logged', () => {
  const { lines, stream } = capture();
  const { temporal } = createWorkerLogger({ service: 'ModFoo', level: 'info', stream });
  const log = contextLogger(temporal);
  withLogContext({ job: 'j1', activity: 'advanceJob', attempt: 2 }, () => {
    updateLogContext({ state: 'RUNNING' });
    withLogContext({ step: 'postprocess' }, () => log.info('in the step', { source: 'job.log' }));
    log.warn('after the step');
  });
  log.info('no job');
  log.debug('below the level');
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(entries.length, 3);
  assert.deepEqual(
    entries.map(({ service, job, state, step, activity, attempt, msg }) => ({
      service,
      job,
      state,
      step,
      activity,
      attempt,
      msg,
    })),
    [
      {
        service: 'ModFoo',
        job: 'j1',
        state: 'RUNNING',
        step: 'postprocess',
        activity: 'advanceJob',
        attempt: 2,
        msg: 'in the step',
      },
      {
        service: 'ModFoo',
        job: 'j1',
        state: 'RUNNING',
        step: undefined,
        activity: 'advanceJob',
        attempt: 2,
        msg: 'after the step',
      },
      {
        service: 'ModFoo',
        job: undefined,
        state: undefined,
        step: undefined,
        activity: undefined,
        attempt: undefined,
        msg: 'no job',
      },
    ],
  );
  assert.equal(entries[0]!.source, 'job.log');
  assert.equal(entries[1]!.level, 40);
});

test('messages and fields are cut to a bound; errors keep their type; control characters stay escaped', () => {
  const { lines, stream } = capture();
  const { temporal } = createWorkerLogger({ service: 'S', level: 'trace', stream });
  const huge = 'y'.repeat(100_000);
  temporal.error(`failure: ${huge}\nsecond line`, {
    failure: huge,
    error: Object.assign(new Error(huge), { name: 'RunDiedError' }),
    nested: { text: huge },
  });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.length < MAX_MESSAGE_CHARS * 3 + MAX_FIELD_CHARS * 4, `line of ${lines[0]!.length} characters`);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown> & { msg: string; failure: string };
  assert.match(entry.msg, /^failure: y+… \(\d+ more characters\)$/);
  assert.ok(entry.failure.length <= MAX_FIELD_CHARS + 40, 'a field is cut');
  assert.equal((entry.error as { type: string }).type, 'RunDiedError');
  assert.equal(typeof entry.nested, 'string', 'a large object is cut as JSON text');
});

test('the SDK metadata: job from a job workflow ID, short names, no task tokens, a worker state apart', () => {
  assert.deepEqual(
    logFields({
      sdkComponent: 'activity',
      workflowId: 'ModFoo/job_1',
      workflowType: 'jobWorkflow',
      activityType: 'waitForRun',
      attempt: 3,
      taskToken: 'AAAA',
      namespace: 'default',
    }),
    {
      component: 'activity',
      workflowId: 'ModFoo/job_1',
      workflow: 'jobWorkflow',
      activity: 'waitForRun',
      attempt: 3,
      job: 'job_1',
    },
  );
  // The reconcile workflow's ID is not a job.
  assert.equal(logFields({ workflowId: 'ModFoo/reconcile', workflowType: 'reconcileWorkflow' }).job, undefined);
  assert.deepEqual(logFields({ sdkComponent: 'worker', state: 'RUNNING' }), {
    component: 'worker',
    workerState: 'RUNNING',
  });
});

test('on a terminal each entry is one readable line with the job context first', () => {
  const { lines, stream } = capture(true);
  const { temporal } = createWorkerLogger({ service: 'ModFoo', level: 'info', stream });
  contextLogger(temporal).info('job completed', { job: 'j1', state: 'COMPLETED', runner: 'sge' });
  temporal.warn('escape \u001b[31m this');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[j1 COMPLETED\] job completed runner=sge$/);
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}escape \\u001b\[31m this$/);
});
