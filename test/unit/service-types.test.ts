/**
 * Compile-time checks of the service author's API: `npm run lint` type-checks
 * this file, and each @ts-expect-error must meet an error or tsc fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineService, doNothing, localCommand } from '../../core/index.js';

test('defineService accepts a well-formed service and catches mistakes at compile time', () => {
  const good = defineService<{ [column: string]: string | number | Date | null; count: number | null }>({
    columns: [{ name: 'count', type: 'INTEGER' }],
    preprocess: (job) => {
      job.metadata.count = 1;
      return { skipRun: false };
    },
    run: () => localCommand(['true']),
    postprocess: () => ({ reschedule: { data: { round: 2 } } }),
    rerun: (_job, data) => localCommand(['echo', JSON.stringify(data)]),
  });
  assert.equal(typeof good.run, 'function');

  // Refused when the module runs, too (issue 32: tsx does not type-check).
  assert.throws(
    () =>
      defineService({
        run: () => doNothing(),
        // @ts-expect-error: not a step of saliweb's (a typo of postprocess)
        postprocesss: () => undefined,
      }),
    /unknown key postprocesss .*did you mean postprocess\?/,
  );
  defineService({
    // @ts-expect-error: run must return a runner
    run: () => 'qsub script.sh',
  });
  defineService({
    run: () => doNothing(),
    // @ts-expect-error: preprocess decides with { skipRun }, not a string
    preprocess: () => 'skip',
  });
  defineService({
    run: () => doNothing(),
    // @ts-expect-error: reschedule data must be JSON, not a function
    postprocess: () => ({ reschedule: { data: () => 1 } }),
  });
  assert.throws(
    // @ts-expect-error: run is required
    () => defineService({ preprocess: () => undefined }),
    /has no run step/,
  );
});
