/** A service with nothing to do: its job's run is doNothing() (many services on one worker, and their bench). */
import { defineService, doNothing } from '../../../core/index.js';

export default defineService({ run: () => doNothing() });
