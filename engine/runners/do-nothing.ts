/** Runs nothing: writes DONE and reports finished at once. */
import type { DoNothingSpec } from '../../core/runner-spec.js';
import type { RunHandle, RunnerBackend, RunStatus } from './runner.js';
import { writeJobStateFile } from './job-state-file.js';

export function createDoNothingRunner(): RunnerBackend<DoNothingSpec> {
  return {
    name: 'DoNothing',
    kind: 'do-nothing',
    pollIntervalMs: 100,
    async submit(job) {
      await writeJobStateFile(job.directory, 'DONE');
      return `cycle-${job.cycle}`;
    },
    async status(handles: readonly RunHandle[]) {
      return new Map<string, RunStatus>(handles.map((handle) => [handle.id, { state: 'finished' }]));
    },
    async cancel() {},
  };
}
