/** What `npm run demo` shows while its jobs run: one line for the batch, one per job. */
import { bar } from '../cli/progress.js';

/** The way from submission to COMPLETED, for a job's little bar. */
const PATH = ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING', 'COMPLETED'];

export interface DemoJob {
  name: string;
  state: string;
}

const finished = (state: string) => state === 'COMPLETED' || state === 'FAILED';

/**
 * `ModFoo demo: 2 of 5 jobs finished [####------]` (plus the time taken,
 * when given: on a terminal), then `  name  STATE  [##----]` per job. Each
 * line changes only when its job (or the count) does, so printed off a
 * terminal it is a log of the changes.
 */
export function demoProgressLines(service: string, jobs: readonly DemoJob[], elapsedMs?: number): string[] {
  const done = jobs.filter((job) => finished(job.state)).length;
  const time = elapsedMs === undefined ? '' : `  ${(elapsedMs / 1000).toFixed(1)} s`;
  const width = Math.max(...jobs.map((job) => job.name.length));
  return [
    `${service} demo: ${done} of ${jobs.length} jobs finished ${bar(done, jobs.length, 20)}${time}`,
    ...jobs.map((job) => {
      const step = job.state === 'FAILED' ? 0 : Math.max(PATH.indexOf(job.state), 0);
      return `  ${job.name.padEnd(width)}  ${job.state.padEnd(14)}  ${job.state === 'FAILED' ? '[ FAILED ]' : bar(step, PATH.length - 1, 8)}`;
    }),
  ];
}
