/** A service whose preprocess never returns (it marks that it started): a worker must still stop when told. */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export default defineService({
  async preprocess(job) {
    await fs.appendFile(job.path('preprocess-started.txt'), 'x\n');
    await new Promise(() => undefined);
  },
  run: () => doNothing(),
});
