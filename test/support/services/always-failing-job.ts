/**
 * A service whose preprocess always fails, after appending a line to
 * `preprocess-runs.txt` in the job directory: each run of the job counts.
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export const PREPROCESS_RUNS = 'preprocess-runs.txt';

export default defineService({
  async preprocess(job) {
    await fs.appendFile(job.path(PREPROCESS_RUNS), 'x\n');
    throw new Error('still broken');
  },
  run: () => doNothing(),
});
