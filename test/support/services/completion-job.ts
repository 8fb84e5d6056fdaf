/**
 * A service whose `complete` step counts its calls in the job directory:
 * `complete-calls.txt` gets "started" when it begins and "finished" when it
 * returns. With SALIFLOW_TEST_DIE_IN_COMPLETE=1 the worker SIGKILLs itself
 * between the two (a crash inside the step).
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export const COMPLETE_CALLS = 'complete-calls.txt';

export default defineService({
  run: () => doNothing(),
  async complete(job) {
    await fs.appendFile(job.path(COMPLETE_CALLS), 'started\n');
    if (process.env.SALIFLOW_TEST_DIE_IN_COMPLETE === '1') process.kill(process.pid, 'SIGKILL');
    await fs.appendFile(job.path(COMPLETE_CALLS), 'finished\n');
  },
});
