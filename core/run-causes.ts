/**
 * The names of the typed causes an ended cluster run can have (computed in
 * engine/runners/run-cause.ts). Kept in core because services name them
 * in their retry policy and the failure text, the metrics and `show` print
 * them.
 */
export const RUN_CAUSE_KINDS = [
  'succeeded',
  'exit_code',
  'signal',
  'walltime_exceeded',
  'memory_exceeded',
  'node_failure',
  'cancelled_by_operator',
  'killed_externally',
  'vanished',
  'unknown',
] as const;

export type RunCauseKind = (typeof RUN_CAUSE_KINDS)[number];

export function isRunCauseKind(value: unknown): value is RunCauseKind {
  return typeof value === 'string' && (RUN_CAUSE_KINDS as readonly string[]).includes(value);
}

/** `2254857830` → `2.1 GiB`: how peak memory and limits are shown. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}

/** A typed cause as it travels with a run's failure (run watcher → workflow → advanceJob). */
export interface RunCauseReport {
  kind: RunCauseKind;
  /** What the failure text says: `memory_exceeded (peak 2.1 GiB of 2 GiB)`. */
  text: string;
  /** What the run used, where the scheduler said (sizing a retry from the observed peak). */
  peakMemoryBytes?: number;
  wallclockSeconds?: number;
  /** The limits it was submitted with, where the scheduler's accounting says (SGE category, SLURM TimeLimit). */
  requested?: { memoryBytes?: number; wallclockSeconds?: number };
  /** For `exit_code`: the code. */
  exitCode?: number;
}
