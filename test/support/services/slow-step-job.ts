/**
 * A service whose preprocess takes a few seconds (long enough to kill its
 * worker mid-step) and counts its runs; SALIFLOW_TEST_INTERRUPTED picks
 * what an interrupted step does ('retry' or 'fail').
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export default defineService({
  interruptedSteps: process.env.SALIFLOW_TEST_INTERRUPTED === 'fail' ? 'fail' : 'retry',
  async preprocess(job) {
    await fs.appendFile(job.path('preprocess-runs.txt'), 'x\n');
    await new Promise((resolve) => setTimeout(resolve, 4000));
  },
  run: () => doNothing(),
});
