/**
 * Why an ended run ended, typed, from what saliflow can read about it: the
 * job-state file and the scheduler's accounting (RunEnding records from
 * qacct, scontrol, jobcomp or sacct). Pure, so every rule is tested on the
 * recorded scheduler output; acting on a cause (retries) is left to callers.
 *
 * The rules never fall back to success: a run is `succeeded` only when
 * job-state says DONE, or (for runs that cannot write it) the accounting
 * says exit 0 with no failure.
 */
import type { RunEnding } from './runner.js';
import { formatBytes, type RunCauseKind } from '../../core/run-causes.js';

export type RunCause =
  | { kind: 'succeeded' }
  | { kind: 'exit_code'; code: number }
  | { kind: 'signal'; signal: number }
  | { kind: 'walltime_exceeded' }
  | { kind: 'memory_exceeded' }
  | { kind: 'node_failure' }
  | { kind: 'cancelled_by_operator' }
  | { kind: 'killed_externally'; signal?: number }
  /** Neither the queue nor any accounting knows of the run. */
  | { kind: 'vanished' }
  | { kind: 'unknown'; evidence: string };

export interface RunUsage {
  peakMemoryBytes?: number;
  wallclockSeconds?: number;
  /** The limits the run was submitted with, where accounting says. */
  requestedMemoryBytes?: number;
  requestedWallclockSeconds?: number;
}

export interface CauseInput {
  /** What job-state said when the run left the queue (undefined: no file). */
  jobState: string | undefined;
  /** The scheduler's accounting records of the run (one per array task); [] when it found none. */
  endings: readonly RunEnding[];
  /** Whether accounting could be asked at all: `disabled` when there is none (no slurmdbd, no jobcomp). */
  accounting: 'searched' | 'disabled';
  /** saliflow itself cancelled the run (an operator's cancel or failjob). */
  cancelledBySaliflow?: boolean;
  /** The script does not write job-state (a non-shell interpreter), so exit 0 is success. */
  writesNoJobState?: boolean;
}

// SGE's `failed` codes for limits enforced by qmaster or execd (h_rt, h_cpu, h_vmem),
// and the one qdel leaves ("assumedly after job").
const SGE_LIMIT_ENFORCED = 37;
const SGE_AFTER_JOB = 100;
// How close to the limit the usage must be to blame the limit (accounting rounds).
const NEAR_LIMIT = 0.9;

function near(used: number | undefined, limit: number | undefined): boolean {
  return used !== undefined && limit !== undefined && limit > 0 && used >= limit * NEAR_LIMIT;
}

/** The cause of one ended run or array task from its accounting record. */
export function causeOfEnding(ending: RunEnding, cancelledBySaliflow = false): RunCause {
  const cancelled = (): RunCause =>
    cancelledBySaliflow
      ? { kind: 'cancelled_by_operator' }
      : { kind: 'killed_externally', ...(ending.signal ? { signal: ending.signal } : {}) };
  if (ending.source === 'qacct') {
    const overTime = near(ending.wallclockSeconds, ending.requestedWallclockSeconds);
    const overMemory = near(ending.maxVmemBytes, ending.requestedMemoryBytes);
    if (ending.failedCode === SGE_LIMIT_ENFORCED) {
      // One code for h_rt, h_cpu and h_vmem: usage against the requests tells them apart.
      if (overMemory && !overTime) return { kind: 'memory_exceeded' };
      if (overTime) return { kind: 'walltime_exceeded' };
      return { kind: 'unknown', evidence: `SGE failed ${ending.failedCode}: ${ending.failedText ?? ''}`.trim() };
    }
    // An h_vmem kill may look like any crash (hpc-gridware/clusterscheduler#66): usage at the limit says memory.
    if (overMemory && ending.exitCode !== 0) return { kind: 'memory_exceeded' };
    if (ending.failedCode === SGE_AFTER_JOB && ending.signal) return cancelled();
    if (ending.failedCode) {
      return { kind: 'unknown', evidence: `SGE failed ${ending.failedCode}: ${ending.failedText ?? ''}`.trim() };
    }
  } else if (ending.state) {
    switch (ending.state) {
      case 'TIMEOUT':
      case 'DEADLINE':
        return { kind: 'walltime_exceeded' };
      case 'OUT_OF_MEMORY':
        return { kind: 'memory_exceeded' };
      case 'NODE_FAIL':
      case 'BOOT_FAIL':
        return { kind: 'node_failure' };
      case 'CANCELLED':
        return cancelled();
      case 'PREEMPTED':
        return { kind: 'killed_externally', ...(ending.signal ? { signal: ending.signal } : {}) };
      case 'COMPLETED':
      case 'FAILED':
        break;
      default:
        return { kind: 'unknown', evidence: `SLURM JobState=${ending.state}` };
    }
  }
  if (ending.signal) return { kind: 'signal', signal: ending.signal };
  if (ending.exitCode === undefined) return { kind: 'unknown', evidence: `no exit status in ${ending.source}` };
  return ending.exitCode === 0 ? { kind: 'succeeded' } : { kind: 'exit_code', code: ending.exitCode };
}

// When array tasks end differently, the cause that most changes what to do next wins.
const PRECEDENCE: RunCauseKind[] = [
  'node_failure',
  'memory_exceeded',
  'walltime_exceeded',
  'cancelled_by_operator',
  'killed_externally',
  'signal',
  'exit_code',
  'unknown',
  'vanished',
  'succeeded',
];

/** The cause of an ended run (all its tasks), and the resources it used where the scheduler said. */
export function runCause(input: CauseInput): { cause: RunCause; usage: RunUsage } {
  const usage = usageOf(input.endings);
  const causes = input.endings.map((ending) => causeOfEnding(ending, input.cancelledBySaliflow));
  const worst = [...causes].sort((a, b) => PRECEDENCE.indexOf(a.kind) - PRECEDENCE.indexOf(b.kind))[0];
  if (input.jobState === 'DONE') {
    // DONE is the run's own word that it finished (saliweb's rule), except after a memory kill: the
    // script may go on to write DONE after a child was OOM-killed (nextflow#1285, qiita#3521).
    return { cause: worst?.kind === 'memory_exceeded' ? worst : { kind: 'succeeded' }, usage };
  }
  if (worst === undefined) {
    const cause: RunCause =
      input.accounting === 'disabled'
        ? {
            kind: 'unknown',
            evidence: `job-state says ${describeState(input.jobState)} and the scheduler keeps no accounting`,
          }
        : { kind: 'vanished' };
    return { cause, usage };
  }
  if (worst.kind === 'succeeded' && !input.writesNoJobState) {
    return {
      cause: {
        kind: 'unknown',
        evidence: `accounting says exit 0, but job-state says ${describeState(input.jobState)}, not DONE`,
      },
      usage,
    };
  }
  return { cause: worst, usage };
}

function describeState(state: string | undefined): string {
  return state === undefined ? 'nothing (no file)' : JSON.stringify(state);
}

function usageOf(endings: readonly RunEnding[]): RunUsage {
  const max = (values: (number | undefined)[]) => {
    const known = values.filter((value): value is number => value !== undefined);
    return known.length > 0 ? Math.max(...known) : undefined;
  };
  // maxvmem 0 is SGE not having sampled the run, not a peak.
  const peakMemoryBytes = max(endings.map((ending) => ending.maxVmemBytes || undefined));
  const wallclockSeconds = max(endings.map((ending) => ending.wallclockSeconds));
  const requestedMemoryBytes = max(endings.map((ending) => ending.requestedMemoryBytes));
  const requestedWallclockSeconds = max(endings.map((ending) => ending.requestedWallclockSeconds));
  return {
    ...(peakMemoryBytes !== undefined ? { peakMemoryBytes } : {}),
    ...(wallclockSeconds !== undefined ? { wallclockSeconds } : {}),
    ...(requestedMemoryBytes !== undefined ? { requestedMemoryBytes } : {}),
    ...(requestedWallclockSeconds !== undefined ? { requestedWallclockSeconds } : {}),
  };
}

/**
 * The cause with what the run used, for the failure text and `show`:
 * `memory_exceeded (peak 2.1 GiB of 2 GiB, wall 42 s)`.
 */
export function describeCauseAndUsage(cause: RunCause, usage: RunUsage): string {
  const parts: string[] = [];
  if (usage.peakMemoryBytes !== undefined) {
    const limit = usage.requestedMemoryBytes ? ` of ${formatBytes(usage.requestedMemoryBytes)}` : '';
    parts.push(`peak ${formatBytes(usage.peakMemoryBytes)}${limit}`);
  }
  if (usage.wallclockSeconds !== undefined) {
    const limit = usage.requestedWallclockSeconds ? ` of ${usage.requestedWallclockSeconds} s` : '';
    parts.push(`wall ${Math.round(usage.wallclockSeconds)} s${limit}`);
  }
  return parts.length > 0 ? `${describeCause(cause)} (${parts.join(', ')})` : describeCause(cause);
}

/** One line for the failure text: `walltime_exceeded`, `exit_code(3)`, `unknown (…)`. */
export function describeCause(cause: RunCause): string {
  switch (cause.kind) {
    case 'exit_code':
      return `exit_code(${cause.code})`;
    case 'signal':
      return `signal(${cause.signal})`;
    case 'killed_externally':
      return cause.signal ? `killed_externally(signal ${cause.signal})` : 'killed_externally';
    case 'unknown':
      return `unknown (${cause.evidence})`;
    default:
      return cause.kind;
  }
}
