/**
 * `.saliflow-cycle.json` in the job directory: which run cycle the job is
 * in, the data `postprocess` passed to `rerun`, and (once submitted) the run
 * itself. With the row's state it tells any worker, after any crash, where
 * a job is: a cycle recorded without a run was not submitted yet, a cycle
 * with a run is waited for, never submitted again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunnerKind } from '../core/runner-spec.js';
import type { RerunData } from '../core/service.js';
import type { RetryState } from '../core/retry-policy.js';
import { readJsonRecord } from './json-record.js';

export const CYCLE_RECORD = '.saliflow-cycle.json';

export interface SubmittedRun {
  kind: RunnerKind;
  /** The scheduler's id; `runner_id` in the row is `<runner name>:<id>`. */
  id: string;
  directory: string;
  cycle: number;
  /** For local runs: the worker host that started the process (waits and cancels go there). */
  host?: string;
}

export interface CycleRecord {
  /** The run number: one more for each reschedule and for each retry (it keys the run's submission). */
  cycle: number;
  /** Present for a rescheduled cycle: what postprocess asked `rerun` to get. */
  rerun?: { data?: RerunData };
  run?: Omit<SubmittedRun, 'directory'>;
  /**
   * The retries by cause made so far in this job (`retryOn`), and the resources the current run gets.
   * Kept here, in the job's directory, so a worker restart does not reset the budgets.
   */
  retry?: RetryState;
}

/** The cycle the service sees (`job.cycle`): retries rerun the same cycle. */
export function serviceCycle(record: CycleRecord): number {
  return record.cycle - (record.retry?.total ?? 0);
}

/** The record, or undefined when the job has not started a cycle; a record that cannot be read is an error (retried). */
export async function readCycleRecord(directory: string): Promise<CycleRecord | undefined> {
  return readJsonRecord<CycleRecord>(path.join(directory, CYCLE_RECORD));
}

/** Written to a temporary file and renamed, so a crash never leaves half a record. */
export async function writeCycleRecord(directory: string, record: CycleRecord): Promise<void> {
  const file = path.join(directory, CYCLE_RECORD);
  await fs.writeFile(`${file}.tmp`, JSON.stringify(record));
  await fs.rename(`${file}.tmp`, file);
}
