/** A service whose SGE run waits (up to 2 minutes) for the test to drop a file `go` into the job directory. */
import { defineService, sgeScript } from '../../../core/index.js';

export default defineService({
  run: () => sgeScript('echo ran >> runs.txt\nfor i in $(seq 1200); do [ -e go ] && break; sleep 0.1; done'),
});
