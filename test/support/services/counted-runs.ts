/**
 * The fault suite's service: each run cycle is a local command of about a
 * second that first appends a line to `runs.<cycle>` in the job directory,
 * so a test can prove every cycle executed exactly once. The job's name
 * chooses its path: `…-skip` skips the run (PREPROCESSING → COMPLETED),
 * `…-twice` is rescheduled once (POSTPROCESSING → RUNNING), anything else
 * runs one cycle.
 */
import fs from 'node:fs';
import { defineService, localCommand, type JobContext } from '../../../core/index.js';

/** How many run cycles a job of this name has. */
export function expectedCycles(name: string): number {
  if (name.endsWith('-skip')) return 0;
  if (name.endsWith('-twice')) return 2;
  return 1;
}

/** The counter file of one cycle. */
export const runsFile = (cycle: number) => `runs.${cycle}`;

/** The cycle the framework asked for, as the run/rerun hook saw it; distinct from what executed. */
const CYCLE_FILE = 'cycle';

function startCycle(job: JobContext, cycle: number) {
  fs.writeFileSync(job.path(CYCLE_FILE), String(cycle));
  return localCommand(`echo x >> ${runsFile(cycle)}; sleep 1`);
}

export default defineService({
  preprocess: (job) => (expectedCycles(job.name) === 0 ? { skipRun: true } : {}),
  run: (job) => startCycle(job, 1),
  rerun: (job, data) => startCycle(job, Number(data)),
  postprocess(job) {
    const cycle = Number(fs.readFileSync(job.path(CYCLE_FILE), 'utf8'));
    return cycle < expectedCycles(job.name) ? { reschedule: { data: cycle + 1 } } : {};
  },
});
