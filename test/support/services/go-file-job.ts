/** A service whose local run waits (up to 60 s) for the test to drop a file `go` into the job directory. */
import { defineService, localCommand } from '../../../core/index.js';

export default defineService({
  run: () => localCommand('echo ran >> runs.txt; for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done'),
});
