/** Reading the small JSON records saliflow keeps in a job's directory. */
import fs from 'node:fs/promises';

/** The record in `file`, or undefined when there is none; a record that cannot be read is an error (retried). */
export async function readJsonRecord<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as T;
}
