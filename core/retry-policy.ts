/**
 * A service's retry policy by typed run cause (`retryOn` in defineService):
 * which causes rerun the job's run, how often, and with what resources. Pure
 * (validation, sizing, budgets), so every rule is unit-tested; advanceJob
 * applies the decision and keeps the budgets in the job's cycle record, so a
 * worker restart does not reset them.
 *
 * Nothing is retried unless the service declares its cause: a program's own
 * exit code in particular is its answer, not a fault of the cluster.
 */
import { formatBytes, RUN_CAUSE_KINDS, type RunCauseKind } from './run-causes.js';

/** Rerun with more of a resource: `factor` × what the run had (or its observed peak), at most `cap`. */
export interface GrowingRetry {
  /** Retries for this cause in one job (not counting the first run). */
  attempts: number;
  /** @defaultValue 2 */
  factor?: number;
  /** The most to ask for: memory as `16G`/`512M` (or bytes), time as `4:00:00`/`90m`/`2h` (or seconds). */
  cap?: string | number;
}

/** Rerun as is. */
export interface PlainRetry {
  attempts: number;
}

export interface RetryOn {
  memory_exceeded?: GrowingRetry;
  walltime_exceeded?: GrowingRetry;
  node_failure?: PlainRetry;
  killed_externally?: PlainRetry;
  vanished?: PlainRetry;
  signal?: PlainRetry;
  /** Only when the service says its program's exit codes can pass; `codes` limits it to those. */
  exit_code?: PlainRetry & { codes?: readonly number[] };
}

export type RetryableCause = keyof RetryOn;
const RETRYABLE: readonly RetryableCause[] = [
  'memory_exceeded',
  'walltime_exceeded',
  'node_failure',
  'killed_externally',
  'vanished',
  'signal',
  'exit_code',
];
const GROWING = new Set<RetryableCause>(['memory_exceeded', 'walltime_exceeded']);

/** The resources a run was (or is to be) submitted with. */
export interface RunResources {
  memoryBytes?: number;
  wallclockSeconds?: number;
}

/** What the job's directory keeps between runs: retries made so far, and what the current run got. */
export interface RetryState {
  /** Retries so far in this job, by cause. */
  byCause: Partial<Record<RetryableCause, number>>;
  /** Retries so far in this job, all causes. */
  total: number;
  /** The resources applied to the current run's submission, if a retry changed them. */
  resources?: RunResources;
  /** Why the current run is a retry, e.g. `memory_exceeded (peak 2.1 GiB of 2 GiB)`. */
  after?: string;
}

/** `16G`, `512M`, `1.5GB`, `2048K` or bytes → bytes (powers of 1024, as SGE and SLURM count). */
export function parseMemory(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value) : undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * 1024 ** ' KMGT'.indexOf(match[2]!.toUpperCase() || ' ');
  return bytes > 0 ? Math.round(bytes) : undefined;
}

/** `4:00:00`, `1-00:00:00`, `90m`, `2h`, `30s` or seconds → seconds. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value) : undefined;
  const text = value.trim();
  const unit = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(text);
  if (unit) return Math.round(Number(unit[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[unit[2]!.toLowerCase()]!);
  const clock = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text);
  if (clock) {
    const [, days = '0', hours = '0', minutes, seconds] = clock;
    const total = Number(days) * 86400 + Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
    return total > 0 ? total : undefined;
  }
  return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}

const show = (value: unknown) => JSON.stringify(value) ?? String(value);

/**
 * What is wrong with a service's `retryOn` (and `maxRetries`), naming the
 * bad key and value; undefined when it is valid. Checked when the worker
 * loads the service, so a typo stops it at start, not at the first kill.
 */
export function retryPolicyProblem(retryOn: unknown, maxRetries?: unknown): string | undefined {
  if (maxRetries !== undefined && (!Number.isInteger(maxRetries) || (maxRetries as number) < 0)) {
    return `maxRetries must be a whole number ≥ 0, not ${show(maxRetries)}`;
  }
  if (retryOn === undefined) return undefined;
  if (typeof retryOn !== 'object' || retryOn === null || Array.isArray(retryOn)) {
    return `retryOn must be an object of causes, e.g. { memory_exceeded: { attempts: 2, factor: 2, cap: '16G' } }, not ${show(retryOn)}`;
  }
  for (const [cause, rule] of Object.entries(retryOn)) {
    const where = `retryOn.${cause}`;
    if (!RETRYABLE.includes(cause as RetryableCause)) {
      const known = (RUN_CAUSE_KINDS as readonly string[]).includes(cause);
      return known
        ? `${where}: ${cause} is never retried (retryable causes: ${RETRYABLE.join(', ')})`
        : `${where}: ${show(cause)} is not a run cause; use one of ${RETRYABLE.join(', ')}`;
    }
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
      return `${where} must be an object such as { attempts: 2 }, not ${show(rule)}`;
    }
    const { attempts, factor, cap, codes, ...other } = rule as Record<string, unknown>;
    const extra = Object.keys(other)[0];
    if (extra !== undefined) return `${where}.${extra} is not a retry setting (attempts, factor, cap, codes)`;
    if (!Number.isInteger(attempts) || (attempts as number) < 1) {
      return `${where}.attempts must be a whole number ≥ 1, not ${show(attempts)}`;
    }
    const growing = GROWING.has(cause as RetryableCause);
    if (!growing && (factor !== undefined || cap !== undefined)) {
      return `${where}: factor and cap apply only to memory_exceeded and walltime_exceeded (${cause} reruns as is)`;
    }
    if (factor !== undefined && (typeof factor !== 'number' || !(factor > 1) || !Number.isFinite(factor))) {
      return `${where}.factor must be a number > 1, not ${show(factor)}`;
    }
    if (cap !== undefined) {
      const parse = cause === 'memory_exceeded' ? parseMemory : parseDuration;
      const example = cause === 'memory_exceeded' ? `'16G' or '512M'` : `'4:00:00', '90m' or '2h'`;
      if ((typeof cap !== 'string' && typeof cap !== 'number') || parse(cap) === undefined) {
        return `${where}.cap ${show(cap)} is not a ${cause === 'memory_exceeded' ? 'memory size' : 'duration'}; write e.g. ${example}`;
      }
    }
    if (codes !== undefined) {
      if (cause !== 'exit_code') return `${where}.codes applies only to exit_code`;
      if (!Array.isArray(codes) || codes.some((code) => !Number.isInteger(code) || code < 1 || code > 255)) {
        return `${where}.codes must be an array of exit codes 1–255, not ${show(codes)}`;
      }
    }
  }
  return undefined;
}

/** The failed run, as advanceJob knows it: its typed cause, what it used, and what it was submitted with. */
export interface FailedRun {
  cause: RunCauseKind;
  /** The exit code, for `exit_code`. */
  exitCode?: number;
  peakMemoryBytes?: number;
  wallclockSeconds?: number;
  /** What it was submitted with (from the scheduler's accounting, or the previous retry). */
  resources: RunResources;
}

export type RetryDecision =
  { retry: true; cause: RetryableCause; state: RetryState; change: string } | { retry: false; why: string };

const describeResource = (cause: 'memory_exceeded' | 'walltime_exceeded', value: number) =>
  cause === 'memory_exceeded' ? `memory ${formatBytes(value)}` : `walltime ${value} s`;

/**
 * Whether to rerun after `failed`, and with what: the budgets are checked
 * (per cause, then per job), and memory or walltime grow by `factor` from
 * the larger of the limit the run had and its observed peak, up to `cap`.
 */
export function decideRetry(
  retryOn: RetryOn | undefined,
  maxRetries: number | undefined,
  failed: FailedRun,
  state: RetryState = { byCause: {}, total: 0 },
  /** How the failure text names the cause (with usage), kept as the retry's reason. */
  causeText: string = failed.cause,
): RetryDecision {
  const cause = failed.cause as RetryableCause;
  const rule = RETRYABLE.includes(cause) ? retryOn?.[cause] : undefined;
  if (!rule) return { retry: false, why: `the service declares no retry on ${failed.cause}` };
  if (cause === 'exit_code') {
    const codes = (rule as RetryOn['exit_code'])?.codes;
    if (codes && (failed.exitCode === undefined || !codes.includes(failed.exitCode))) {
      return { retry: false, why: `exit code ${failed.exitCode ?? '?'} is not among retryOn.exit_code.codes` };
    }
  }
  const used = state.byCause[cause] ?? 0;
  if (used >= rule.attempts) {
    return { retry: false, why: `its ${rule.attempts} retr${rule.attempts === 1 ? 'y' : 'ies'} on ${cause} are used` };
  }
  if (maxRetries !== undefined && state.total >= maxRetries) {
    return { retry: false, why: `the job's ${maxRetries} retries (maxRetries) are used` };
  }
  let resources = state.resources ?? {};
  let change = 'as is';
  if (cause === 'memory_exceeded' || cause === 'walltime_exceeded') {
    const { factor = 2, cap } = rule as GrowingRetry;
    const memory = cause === 'memory_exceeded';
    const had = memory ? failed.resources.memoryBytes : failed.resources.wallclockSeconds;
    const seen = memory ? failed.peakMemoryBytes : failed.wallclockSeconds;
    const base = Math.max(had ?? 0, seen ?? 0);
    if (base === 0) {
      return {
        retry: false,
        why: `neither the ${memory ? 'memory' : 'walltime'} limit of the run nor its ${memory ? 'peak' : 'wall time'} is known, so there is nothing to grow by ${factor}`,
      };
    }
    const limit = cap === undefined ? undefined : memory ? parseMemory(cap) : parseDuration(cap);
    const wanted = Math.ceil(base * factor);
    const next = limit === undefined ? wanted : Math.min(wanted, limit);
    if (had !== undefined && next <= had) {
      return { retry: false, why: `${describeResource(cause, had)} is already at its cap (${String(cap)})` };
    }
    resources = { ...resources, ...(memory ? { memoryBytes: next } : { wallclockSeconds: next }) };
    change = `${describeResource(cause, next)}${had !== undefined ? ` (was ${describeResource(cause, had).split(' ').slice(1).join(' ')})` : ''}`;
  }
  return {
    retry: true,
    cause,
    change,
    state: {
      byCause: { ...state.byCause, [cause]: used + 1 },
      total: state.total + 1,
      ...(Object.keys(resources).length > 0 ? { resources } : {}),
      after: causeText,
    },
  };
}

/** `retries: memory_exceeded 2/3, walltime_exceeded 1/2 (memory 4 GiB)` for show and the failure text. */
export function describeRetries(state: RetryState | undefined, retryOn: RetryOn | undefined): string | undefined {
  if (!state || state.total === 0) return undefined;
  const counts = Object.entries(state.byCause)
    .map(([cause, used]) => {
      const budget = retryOn?.[cause as RetryableCause]?.attempts;
      return `${cause} ${used}${budget !== undefined ? `/${budget}` : ''}`;
    })
    .join(', ');
  const resources = [
    state.resources?.memoryBytes !== undefined ? `memory ${formatBytes(state.resources.memoryBytes)}` : undefined,
    state.resources?.wallclockSeconds !== undefined ? `walltime ${state.resources.wallclockSeconds} s` : undefined,
  ].filter(Boolean);
  return `retries: ${counts}${resources.length > 0 ? ` (last run with ${resources.join(', ')})` : ''}`;
}
