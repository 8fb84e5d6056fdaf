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
