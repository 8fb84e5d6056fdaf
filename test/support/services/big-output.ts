/**
 * A job whose preprocess writes 3 MiB (`big.bin`, the same bytes every time,
 * so a test can check the moved directory is whole): more than a small
 * COMPLETED folder (a tmpfs) holds. Runs nothing.
 */
import fs from 'node:fs/promises';
import { defineService, doNothing } from '../../../core/index.js';

export const BIG_FILE_BYTES = 3 * 1024 * 1024;

export function bigFileContent(): Buffer {
  const content = Buffer.alloc(BIG_FILE_BYTES);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) % 251;
  return content;
}

export default defineService({
  preprocess: async (job) => {
    await fs.writeFile(job.path('big.bin'), bigFileContent());
  },
  run: () => doNothing(),
});
