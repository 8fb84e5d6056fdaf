/**
 * The disaster-recovery test's service: a job named `sge…` runs on SGE, `bad…` fails (exit 3), any other runs locally; each run records itself
 * in `runs.txt` and then waits for the test to drop a file `go` into the job directory.
 */
import { defineService, localCommand, sgeScript } from '../../../core/index.js';

// Bounded (10 min), so a run the test left behind (it failed or was killed) ends by itself.
const WAIT_FOR_GO = 'echo ran >> runs.txt\nfor i in $(seq 3000); do [ -e go ] && break; sleep 0.2; done\n';

export default defineService({
  run: (job) => {
    if (job.name.startsWith('bad')) return localCommand('exit 3');
    return job.name.startsWith('sge') ? sgeScript(WAIT_FOR_GO) : localCommand(WAIT_FOR_GO);
  },
});
