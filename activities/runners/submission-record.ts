/**
 * Exactly-once submission to a scheduler. Before calling qsub/sbatch the
 * runner writes a record holding the unique cluster job name it is about to
 * use; after, the scheduler's id. A retry after a crash between the two
 * finds the record without an id and asks the scheduler for a job of that
 * name (running or finished) before it submits anything again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface SubmissionRecord {
  /** The unique cluster job name of this run cycle. */
  name: string;
  id?: string;
}

function recordPath(directory: string, kind: string, cycle: number): string {
  return path.join(directory, `.saliflow-${kind}-${cycle}.json`);
}

export async function readRecord(
  directory: string,
  kind: string,
  cycle: number,
): Promise<SubmissionRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(recordPath(directory, kind, cycle), 'utf8')) as SubmissionRecord;
  } catch {
    return undefined;
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a record. */
export async function writeRecord(
  directory: string,
  kind: string,
  cycle: number,
  record: SubmissionRecord,
): Promise<void> {
  const file = recordPath(directory, kind, cycle);
  await fs.writeFile(`${file}.tmp`, JSON.stringify(record));
  await fs.rename(`${file}.tmp`, file);
}

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export interface ExactlyOnce {
  kind: string;
  directory: string;
  cycle: number;
  baseName: string;
  /** The scheduler's id of a job with this exact name, running or finished, if any. */
  findByName(name: string): Promise<string | undefined>;
  /** Submits under `name`, returning the scheduler's id. */
  submit(name: string): Promise<string>;
}

export async function submitExactlyOnce(run: ExactlyOnce): Promise<string> {
  const { kind, directory, cycle } = run;
  const earlier = await readRecord(directory, kind, cycle);
  if (earlier?.id) return earlier.id;
  if (earlier) {
    const found = await run.findByName(earlier.name);
    if (found) {
      await writeRecord(directory, kind, cycle, { ...earlier, id: found });
      return found;
    }
  }
  const name = earlier?.name ?? `${run.baseName}_${uniqueSuffix()}`;
  if (!earlier) await writeRecord(directory, kind, cycle, { name });
  const id = await run.submit(name);
  // Fault injection for the crash test: die exactly where a lost id would hurt.
  if (process.env.SALIFLOW_FAILPOINT === 'after-submit') process.kill(process.pid, 'SIGKILL');
  await writeRecord(directory, kind, cycle, { name, id });
  return id;
}
