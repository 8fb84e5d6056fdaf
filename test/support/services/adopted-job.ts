/**
 * A service taken over from saliweb (test/integration/adopt.test.ts): new
 * jobs run nothing; `postprocess` appends a line to `postprocessed` so the
 * test can see that an adopted run went on to postprocess, exactly once.
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export default defineService({
  adoptedTransientSteps: process.env.SALIFLOW_TEST_ADOPT_STEPS === 'rerun' ? 'rerun' : 'fail',
  run: () => doNothing(),
  postprocess: async (job) => {
    await fs.appendFile(job.path('postprocessed'), 'postprocessed\n');
  },
});
