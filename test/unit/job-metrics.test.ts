import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAILURE_CAUSES,
  SALIFLOW_METRICS,
  createJobMetrics,
  failureCause,
  histogramBuckets,
  runCauseOfFailure,
} from '../../engine/job-metrics.js';
import type { MetricMeter, MetricTags } from '@temporalio/common';

test('a failure text maps to its cause by the error type it starts with', () => {
  assert.equal(failureCause('ServiceStepError: preprocess of job a failed: boom\n    at …'), 'step_exception');
  assert.equal(failureCause('StepInterruptedError: run of job a was cut short'), 'step_exception');
  assert.equal(failureCause('RunnerSpecError: run of job a returned a bad runner'), 'step_exception');
  assert.equal(failureCause('RunFailedError: job a: exit 3'), 'run_failed');
  assert.equal(failureCause('RunDiedError: job a: its SGE run 12 ended'), 'run_died');
  assert.equal(failureCause('JobCancelledError: cancelled by administrator'), 'cancelled');
  assert.equal(failureCause('JobStateError: job a: its directory /x is missing'), 'bad_input');
  assert.equal(failureCause('SchemaError: column x'), 'bad_input');
  assert.equal(failureCause('TimeoutFailure: activity StartToClose timeout'), 'other');
  assert.equal(failureCause('toString: not an error type'), 'other');
  assert.equal(failureCause(''), 'other');
});

test('the typed run cause is read back from a failure text that names one', () => {
  assert.equal(
    runCauseOfFailure('RunDiedError: job a: run cause memory_exceeded (peak 2 GiB): its SGE run'),
    'memory_exceeded',
  );
  assert.equal(runCauseOfFailure('RunDiedError: job a: run cause exit_code(3): its SLURM run 5 ended'), 'exit_code');
  assert.equal(runCauseOfFailure('RunDiedError: job a: its SGE run 12 ended'), undefined);
  assert.equal(runCauseOfFailure('ServiceStepError: run cause memory_exceeded in a message'), undefined);
  assert.equal(runCauseOfFailure('RunDiedError: job a: run cause made_up: x'), undefined);
});

test('names are saliflow_*, histograms have increasing buckets, and each is created with the service label', () => {
  const created: { kind: string; name: string; tags: MetricTags }[] = [];
  const meter = (tags: MetricTags): MetricMeter => {
    const metric = (kind: string) => (name: string) => {
      created.push({ kind, name, tags });
      const self = { add: () => undefined, set: () => undefined, record: () => undefined, withTags: () => self };
      return self as never;
    };
    return {
      createCounter: metric('counter'),
      createGauge: metric('gauge'),
      createHistogram: metric('histogram'),
      withTags: (more) => meter({ ...tags, ...more }),
    };
  };
  createJobMetrics(meter({}), 'ModFoo');
  assert.deepEqual(
    created.map(({ kind, name }) => `${kind} ${name}`).sort(),
    SALIFLOW_METRICS.map(({ kind, name }) => `${kind} ${name}`).sort(),
  );
  for (const metric of created) assert.deepEqual(metric.tags, { service: 'ModFoo' });
  const buckets = histogramBuckets();
  for (const metric of SALIFLOW_METRICS) {
    assert.match(metric.name, /^saliflow_[a-z_]+$/);
    if (metric.kind !== 'histogram') continue;
    const bounds = buckets[metric.name]!;
    assert.ok(
      bounds.every((bound, i) => i === 0 || bound > bounds[i - 1]!),
      `${metric.name} buckets increase`,
    );
  }
  assert.deepEqual([...FAILURE_CAUSES].sort(), [
    'bad_input',
    'cancelled',
    'other',
    'run_died',
    'run_failed',
    'step_exception',
  ]);
});
