/**
 * The benchmark's service: no steps of its own, only a run, chosen by the
 * environment of the worker process (the benchmark sets it):
 *   SALIFLOW_BENCH_RUNNER=nothing   doNothing()            (the default)
 *   SALIFLOW_BENCH_RUNNER=true      localCommand(['true'])
 *   SALIFLOW_BENCH_RUNNER=sleep     localCommand(['sleep', SALIFLOW_BENCH_SLEEP_SECONDS])  (the scale mode)
 */
import { defineService, doNothing, localCommand } from '../../core/index.js';

const runner = process.env.SALIFLOW_BENCH_RUNNER ?? 'nothing';
const sleepSeconds = process.env.SALIFLOW_BENCH_SLEEP_SECONDS ?? '600';

function runSpec() {
  switch (runner) {
    case 'nothing':
      return doNothing();
    case 'true':
      return localCommand(['true']);
    case 'sleep':
      return localCommand(['sleep', sleepSeconds]);
    default:
      throw new Error(`SALIFLOW_BENCH_RUNNER=${runner}: expected nothing, true or sleep`);
  }
}

export default defineService({ run: () => runSpec() });
