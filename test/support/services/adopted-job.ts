/**
 * A service taken over from saliweb (test/integration/adopt.test.ts): new
 * jobs run nothing; `postprocess` appends a line to `postprocessed` so the
 * test can see that an adopted run went on to postprocess, exactly once
 * (and downloads a web-service run's result files).
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export default defineService({
  adoptedTransientSteps: process.env.SALIFLOW_TEST_ADOPT_STEPS === 'rerun' ? 'rerun' : 'fail',
  run: () => doNothing(),
  postprocess: async (job, results) => {
    // An adopted `saliweb:` run's results, fetched from the other service as a service author would.
    for (const file of results ?? []) await file.download();
    await fs.appendFile(job.path('postprocessed'), 'postprocessed\n');
  },
});
