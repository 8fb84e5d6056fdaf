/** For test/unit/wrapper-signals.test.ts: a process that reports each SIGTERM worker/wrapper-signals.ts hands it. */
import { onSignal } from '../../worker/wrapper-signals.js';

let heard = 0;
onSignal('SIGTERM', () => process.send!({ heard: ++heard }));
// wrapper-signals.ts unrefs the channel (the wrapper waits for our exit): this keeps us until told.
const alive = setInterval(() => undefined, 60_000);
process.on('message', (message: { exit?: boolean }) => {
  if (message.exit) clearInterval(alive);
});
