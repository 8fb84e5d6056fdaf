/** A service whose run is a short local command (for the local runner's crash test). */
import { defineService, localCommand } from '../../../core/index.js';

export default defineService({
  run: () => localCommand('echo ran >> runs.txt; sleep 1'),
});
