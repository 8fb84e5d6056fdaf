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
import { RunnerError } from '../../core/errors.js';

export interface SubmissionRecord {
  /** The unique cluster job name of this run cycle. */
  name: string;
  id?: string;
}

function recordPath(directory: string, kind: string, cycle: number): string {
  return path.join(directory, `.saliflow-${kind}-${cycle}.json`);
}

/**
 * The record of this cycle, or undefined when there is none. Only a missing
 * file means "not submitted yet": a record that exists but cannot be read or
 * parsed throws (RunnerError, retried by Temporal), because treating it as
 * absent would submit the cluster job a second time.
 */
export async function readRecord(
  directory: string,
  kind: string,
  cycle: number,
): Promise<SubmissionRecord | undefined> {
  const file = recordPath(directory, kind, cycle);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(file, (error as Error).message);
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    throw unreadable(file, `not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(record)) throw unreadable(file, `not a submission record: ${JSON.stringify(text.slice(0, 200))}`);
  return record;
}

function isRecord(value: unknown): value is SubmissionRecord {
  if (typeof value !== 'object' || value === null) return false;
  const { name, id } = value as Record<string, unknown>;
  return typeof name === 'string' && name !== '' && (id === undefined || typeof id === 'string');
}

function unreadable(file: string, problem: string): RunnerError {
  return new RunnerError(
    `cannot read the submission record ${file}: ${problem}. The step is retried; if this persists, check the ` +
      `scheduler for a job of the name the record held before removing or repairing the file (without it the run ` +
      `is submitted again)`,
  );
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
