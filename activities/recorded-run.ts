/**
 * The run a RUNNING job's directory records. A cancel that reaches a job's
 * workflow before it learned of its run (an adopted run cancelled before the
 * workflow's first task, or a run submitted by an advance the cancel cut
 * short) still has a run to delete: this is where the workflow finds it.
 */
import type { Pool } from '../store/pool.js';
import { readJob } from '../store/job-row.js';
import { readCycleRecord, type SubmittedRun } from '../engine/run-cycle-record.js';

export function createRecordedRunActivity(pool: Pool) {
  return async function recordedRun(job: string): Promise<SubmittedRun | undefined> {
    const row = await readJob(pool, job);
    if (row.state !== 'RUNNING' || !row.directory) return undefined;
    const record = await readCycleRecord(row.directory);
    return record?.run ? { ...record.run, directory: row.directory } : undefined;
  };
}
