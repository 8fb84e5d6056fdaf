/**
 * Job states and the transitions between them (SALIWEB.md "States and
 * transitions"). The order of JOB_STATES is the order of the MySQL ENUM and
 * is fixed forever: new states go at the end.
 */
import { InvalidTransitionError } from './errors.js';

export const JOB_STATES = [
  'INCOMING',
  'PREPROCESSING',
  'RUNNING',
  'POSTPROCESSING',
  'COMPLETED',
  'FAILED',
  'EXPIRED',
  'ARCHIVED',
  'FINALIZING',
] as const;

export type JobState = (typeof JOB_STATES)[number];

const NEXT: Record<JobState, readonly JobState[]> = {
  INCOMING: ['PREPROCESSING'],
  PREPROCESSING: ['RUNNING', 'COMPLETED'],
  RUNNING: ['POSTPROCESSING'],
  POSTPROCESSING: ['FINALIZING', 'RUNNING'],
  FINALIZING: ['COMPLETED'],
  COMPLETED: ['ARCHIVED'],
  ARCHIVED: ['EXPIRED'],
  EXPIRED: [],
  FAILED: ['INCOMING'],
};

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

/**
 * A job in one of these states is finished: it moves on only by archive and
 * expire, or to FAILED when its own `complete`, completion e-mail, `archive`
 * or `expire` fails, or an operator fails it (`failjob`); nothing else fails it.
 */
export const FINAL_STATES: readonly JobState[] = ['COMPLETED', 'ARCHIVED', 'EXPIRED'];

/** States in which a job holds one of the `[limits] running` slots. */
export const IN_FLIGHT_STATES = ['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING'] as const;

/** saliweb: any state → FAILED (its failjob's documented use is a job that COMPLETED by mistake); else the table. */
export function isValidTransition(from: JobState, to: JobState): boolean {
  if (to === 'FAILED') return true;
  return NEXT[from].includes(to);
}

export function assertTransition(job: string, from: JobState, to: JobState): void {
  if (!isValidTransition(from, to)) throw new InvalidTransitionError(job, from, to);
}

/** The timestamp column set when a job enters a state, if any. */
export const STATE_TIMESTAMP: Partial<Record<JobState, string>> = {
  PREPROCESSING: 'preprocess_time',
  RUNNING: 'run_time',
  POSTPROCESSING: 'postprocess_time',
  FINALIZING: 'finalize_time',
  COMPLETED: 'end_time',
};

/** States a job passes through quickly; one found there at start-up was interrupted. */
export const TRANSIENT_STATES: readonly JobState[] = ['PREPROCESSING', 'POSTPROCESSING', 'FINALIZING'];
