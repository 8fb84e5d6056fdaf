/**
 * `.saliflow-completion.json` in the job directory: which of a completion's
 * side effects (the service's `complete` step, then the user's e-mail) have
 * been done. Written, with nothing done, before the row becomes COMPLETED
 * and updated after each side effect, so a worker that dies at any instant
 * around the COMPLETED commit leaves a retry that does exactly what is left:
 * the row alone cannot say whether `complete` ran. A COMPLETED job without
 * the file (completed before it existed) has nothing left to do.
 *
 * The record stays after the completion, with the failure of `complete` or
 * the e-mail if there was one, so a repeated call reports it again rather
 * than forgetting it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readJsonRecord } from './json-record.js';

export const COMPLETION_RECORD = '.saliflow-completion.json';

export interface CompletionRecord {
  /** The `complete` step returned (or threw: see `failure`). */
  completeDone?: boolean;
  /** The user's e-mail was accepted by the mail server (or `sendJobCompletedEmail` returned). */
  emailDone?: boolean;
  /** Why `complete` or the e-mail failed; the job stays COMPLETED, the admin is told. */
  failure?: string;
}

/** The record, or undefined when there is none; a record that cannot be read is an error (retried). */
export async function readCompletionRecord(directory: string): Promise<CompletionRecord | undefined> {
  return readJsonRecord<CompletionRecord>(path.join(directory, COMPLETION_RECORD));
}

/** Written to a temporary file, flushed and renamed, so a crash never leaves half a record. */
export async function writeCompletionRecord(directory: string, record: CompletionRecord): Promise<void> {
  const file = path.join(directory, COMPLETION_RECORD);
  const handle = await fs.open(`${file}.tmp`, 'w');
  try {
    await handle.writeFile(JSON.stringify(record));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(`${file}.tmp`, file);
}
