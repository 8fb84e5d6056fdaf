/** `npm run bench -- [flags]`: which modes to run, and how. */
import { parseArgs } from 'node:util';
import type { OfferedLoad } from './offered-load.js';
import type { ModeSpec } from './measurement.js';

export const USAGE = `npm run bench -- [flags]

Without mode flags, runs the default matrix (bench/lifecycle.ts DEFAULT_MATRIX).
Any of --rate/--limit/--workers/--runner selects one mode instead (the others default to burst, 1000, 1, nothing).

  --jobs N             jobs per mode (default: the matrix's N per mode, 1000 for a single mode)
  --rate R             offer R jobs/s instead of a burst
  --limit L            [limits] running (saliweb's default is 5)
  --workers W          worker processes (default 1)
  --runner K           nothing (doNothing()), true (localCommand(['true'])) or rerun (doNothing(), postprocess
                       reschedules once: two run cycles, the cycle record read by every step) or steps
                       (doNothing(), with a preprocess and a postprocess that do nothing)
  --concurrency C      submitters in parallel in a burst (default 10, a frontend's connection pool)
  --history-sample K   histories fetched per run, 0 for all (default: all; 1000 in --scale)
  --timeout S          give up on a mode after S seconds (default 600; 7200 per part in --scale)
  --check-minutes M    [backend] check_minutes, the reconcile interval (default 10)
  --label TEXT         a label for the results (e.g. before, after)
  --temporal T         dev (the dev stack's server, default) or production (npm run production's cluster)
  --scratch            write results under .state/bench-scratch/ instead of bench/results/
  --scale              the scale mode (bench/scale.ts) instead: N in flight, then N waiting
  --in-flight-only     scale: only part 1 (N in flight, released, completed), not the N waiting
  --waiting-only       scale: only part 2 (N waiting behind [limits] running 5)
  --window S           scale: seconds to measure the waiting jobs (default 60)
  --sleep S            scale: how long each run sleeps (default: timeout + window + 120 s, to outlast the
                       measurement; the benchmark ends them when done)
`;

export interface BenchArgs {
  jobs: number | undefined;
  /** A single mode chosen by flags, or undefined for the matrix. */
  single: Omit<ModeSpec, 'jobs'> | undefined;
  concurrency: number;
  /** undefined: all histories for the lifecycle modes, 1000 for the scale mode. */
  historySample: number | undefined;
  /** undefined: 600 s per lifecycle mode, 2 h per scale part. */
  timeoutMs: number | undefined;
  checkMinutes: number;
  label: string | undefined;
  temporal: 'dev' | 'production';
  scratch: boolean;
  scale: boolean;
  inFlightOnly: boolean;
  waitingOnly: boolean;
  windowSeconds: number;
  sleepSeconds: number | undefined;
}

function positive(name: string, raw: string | undefined, integer = true): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(value > 0) || (integer && !Number.isInteger(value)))
    throw new Error(`--${name} ${raw}: expected a positive ${integer ? 'integer' : 'number'}\n\n${USAGE}`);
  return value;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string' },
      rate: { type: 'string' },
      limit: { type: 'string' },
      workers: { type: 'string' },
      runner: { type: 'string' },
      concurrency: { type: 'string' },
      'history-sample': { type: 'string' },
      timeout: { type: 'string' },
      'check-minutes': { type: 'string' },
      label: { type: 'string' },
      temporal: { type: 'string', default: 'dev' },
      scratch: { type: 'boolean', default: false },
      scale: { type: 'boolean', default: false },
      'in-flight-only': { type: 'boolean', default: false },
      'waiting-only': { type: 'boolean', default: false },
      window: { type: 'string' },
      sleep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.runner !== undefined && !['nothing', 'true', 'rerun', 'steps'].includes(values.runner))
    throw new Error(`--runner ${values.runner}: expected nothing, true, rerun or steps\n\n${USAGE}`);
  if (values.temporal !== 'dev' && values.temporal !== 'production')
    throw new Error(`--temporal ${values.temporal}: expected dev or production\n\n${USAGE}`);
  if (values['in-flight-only'] && values['waiting-only'])
    throw new Error(`--in-flight-only and --waiting-only: pick one (neither runs both parts)\n\n${USAGE}`);
  const concurrency = positive('concurrency', values.concurrency) ?? 10;
  const rate = positive('rate', values.rate, false);
  const load: OfferedLoad = rate ? { kind: 'rate', perSecond: rate } : { kind: 'burst', concurrency };
  const chosen = [values.rate, values.limit, values.workers, values.runner].some((value) => value !== undefined);
  return {
    jobs: positive('jobs', values.jobs),
    single: chosen
      ? {
          load,
          limit: positive('limit', values.limit) ?? 1000,
          workers: positive('workers', values.workers) ?? 1,
          runner: (values.runner as 'nothing' | 'true' | 'rerun' | 'steps' | undefined) ?? 'nothing',
        }
      : undefined,
    concurrency,
    historySample: values['history-sample'] === undefined ? undefined : Number(values['history-sample']),
    timeoutMs: values.timeout === undefined ? undefined : positive('timeout', values.timeout)! * 1000,
    checkMinutes: positive('check-minutes', values['check-minutes'], false) ?? 10,
    label: values.label,
    temporal: values.temporal,
    scratch: values.scratch ?? false,
    scale: values.scale ?? false,
    inFlightOnly: values['in-flight-only'] ?? false,
    waitingOnly: values['waiting-only'] ?? false,
    windowSeconds: positive('window', values.window) ?? 60,
    sleepSeconds: positive('sleep', values.sleep),
  };
}
