/**
 * The benchmark's service: no steps of its own, only a run, chosen by the
 * environment of the worker process (the benchmark sets it):
 *   SALIFLOW_BENCH_RUNNER=nothing   doNothing()            (the default)
 *   SALIFLOW_BENCH_RUNNER=true      localCommand(['true'])
 *   SALIFLOW_BENCH_RUNNER=rerun     doNothing(), and postprocess reschedules once (a second cycle, doNothing())
 *   SALIFLOW_BENCH_RUNNER=steps     doNothing(), with a preprocess and a postprocess that do nothing
 *   SALIFLOW_BENCH_RUNNER=sleep     localCommand(['sleep', SALIFLOW_BENCH_SLEEP_SECONDS])
 *   SALIFLOW_BENCH_RUNNER=release   waits until the FIFO SALIFLOW_BENCH_RELEASE is opened for writing (the
 *                                   scale mode: ten thousand runs released at once, with no `sleep` process each)
 */
import { defineService, doNothing, localCommand } from '../../core/index.js';

const runner = process.env.SALIFLOW_BENCH_RUNNER ?? 'nothing';
const sleepSeconds = process.env.SALIFLOW_BENCH_SLEEP_SECONDS ?? '600';

function runSpec() {
  switch (runner) {
    case 'nothing':
    case 'rerun':
    case 'steps':
      return doNothing();
    case 'true':
      return localCommand(['true']);
    case 'sleep':
      return localCommand(['sleep', sleepSeconds]);
    case 'release':
      // `read` is a shell builtin: a run is its wrapper and one shell, blocked opening the FIFO until released.
      return localCommand('read _ < "$SALIFLOW_BENCH_RELEASE"; exit 0', {
        env: { SALIFLOW_BENCH_RELEASE: process.env.SALIFLOW_BENCH_RELEASE ?? '' },
      });
    default:
      throw new Error(`SALIFLOW_BENCH_RUNNER=${runner}: expected nothing, true, rerun, steps, sleep or release`);
  }
}

// Only the modes that measure steps define them: a step the service defines runs as an activity of its own.
export default defineService({
  run: () => runSpec(),
  rerun: () => doNothing(),
  ...(runner === 'rerun'
    ? { postprocess: (job: { cycle: number }) => (job.cycle === 1 ? { reschedule: {} } : {}) }
    : runner === 'steps'
      ? { preprocess: () => undefined, postprocess: () => undefined }
      : {}),
});
