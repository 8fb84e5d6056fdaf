import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEEPALIVE_TASK_MS, reportDelay } from '../../activities/step-reports.js';

test('a step is reported 2 s before the next keep-alive task of its advance, or at once if later than that', () => {
  assert.equal(KEEPALIVE_TASK_MS, 8000);
  assert.equal(reportDelay(1000, 1000), 6000, 'a step starting with the advance: reported at 6 s');
  assert.equal(reportDelay(1000, 5000), 2000);
  assert.equal(reportDelay(1000, 7000), 0, 'at the margin: at once');
  assert.equal(reportDelay(1000, 8500), 0, 'inside the margin: at once');
  assert.equal(reportDelay(1000, 9000), 6000, 'just after a keep-alive task: 2 s before the next');
  assert.equal(reportDelay(1000, 20_000), 3000);
});
