/**
 * A service for the metrics and logs test: what a job does is in its
 * `mode.txt` (ok, step-throws, run-fails, slow, sge, slurm), and its steps write to
 * `job.log`, one line far longer than any log line may be.
 */
import fs from 'node:fs/promises';
import { defineService, localCommand, sgeScript, slurmScript } from '../../../core/index.js';

export const LONG_TEXT = 'x'.repeat(20_000);

export default defineService({
  async preprocess(job) {
    const mode = (await fs.readFile(job.path('mode.txt'), 'utf8')).trim();
    job.log.info(`preprocess saw mode ${mode}`);
    job.log.warn(`a long line: ${LONG_TEXT}`);
    if (mode === 'step-throws') throw new Error(`the step threw: ${LONG_TEXT}`);
  },
  async run(job) {
    const mode = (await fs.readFile(job.path('mode.txt'), 'utf8')).trim();
    if (mode === 'run-fails') return localCommand('exit 3');
    if (mode === 'slow') return localCommand('sleep 600');
    if (mode === 'sge') return sgeScript('echo ran');
    if (mode === 'slurm') return slurmScript('echo ran');
    return localCommand('sleep 1');
  },
});
