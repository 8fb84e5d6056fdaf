/** `saliflow show` prints a failure without saliflow's and Node's stack frames; the service's own stay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutInternalFrames } from '../../client/show-job.js';

test("a failure is shown without saliflow's, Node's and other packages' stack frames", () => {
  const root = '/usr/lib/node_modules/saliflow/dist/';
  const failure = [
    'ServiceStepError: preprocess of job x failed: Error: no PDB file',
    '    at preprocess (/srv/modfoo/service.ts:12:11)',
    '    at runStep (/usr/lib/node_modules/saliflow/dist/engine/service-steps.js:80:20)',
    '    at file:///usr/lib/node_modules/saliflow/dist/engine/job-advance.js:40:3',
    '    at async Promise.all (index 0)',
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    '    at Activity.execute (/srv/modfoo/node_modules/@temporalio/worker/lib/activity.js:90:1)',
  ].join('\n');
  assert.equal(
    withoutInternalFrames(failure, root),
    [
      'ServiceStepError: preprocess of job x failed: Error: no PDB file',
      '    at preprocess (/srv/modfoo/service.ts:12:11)',
      '    at async Promise.all (index 0)',
      '(4 stack frame(s) of saliflow and Node left out; the failure column has them)',
    ].join('\n'),
  );
  assert.equal(
    withoutInternalFrames('RunDiedError: job x: run cause exit_code(1)', root),
    'RunDiedError: job x: run cause exit_code(1)',
  );
});
