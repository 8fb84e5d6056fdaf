/** The `job-state` file in a job directory: STARTED while running, DONE at the end. */
import fs from 'node:fs/promises';
import path from 'node:path';

export const JOB_STATE_FILE = 'job-state';

export async function readJobStateFile(directory: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(path.join(directory, JOB_STATE_FILE), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function writeJobStateFile(directory: string, state: 'STARTED' | 'DONE'): Promise<void> {
  await fs.writeFile(path.join(directory, JOB_STATE_FILE), `${state}\n`);
}

/**
 * saliweb: job-state is removed when a job enters PREPROCESSING and right
 * after a run's results are taken, so each run starts without one and a
 * run that leaves the queue before its script wrote anything is never taken
 * for finished by an earlier cycle's DONE. saliflow also removes it just
 * before each submission (retries by cause go from run to run without a
 * POSTPROCESSING in between).
 */
export async function removeJobStateFile(directory: string): Promise<void> {
  await fs.rm(path.join(directory, JOB_STATE_FILE), { force: true });
}
