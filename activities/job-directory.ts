/**
 * A row's `directory` is input from a frontend: it is trusted only after it
 * resolves to a directory of its own directly inside one of the configured
 * state folders. Anything else (empty, relative, outside the job tree, a
 * symlink, a state folder itself, a file) fails that job with a clear
 * error, and nothing outside its own directory is moved, written or deleted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';

async function realFolder(folder: string): Promise<string> {
  return fs.realpath(folder).catch(() => path.resolve(folder));
}

/** The real paths of the configured state folders. */
export async function stateFolders(config: Pick<ServiceConfig, 'directories'>): Promise<Set<string>> {
  return new Set(await Promise.all(Object.values(config.directories).map(realFolder)));
}

/**
 * Checks `directory` (a row's value) and returns it when it is a real
 * directory (not a symlink) whose parent is a state folder. Throws a
 * non-retryable JobStateError naming the job and the problem otherwise;
 * `missingOk` lets a caller handle a directory that is not there at all.
 */
export async function checkJobDirectory(
  config: Pick<ServiceConfig, 'directories'>,
  job: string,
  directory: string | null,
  { missingOk = false } = {},
): Promise<string> {
  const fail = (problem: string): never => {
    throw new JobStateError(job, `its directory ${JSON.stringify(directory)} ${problem}; fix the row or fail the job`);
  };
  if (directory === null || directory.trim() === '') return fail('is empty');
  if (!path.isAbsolute(directory)) return fail('is not an absolute path');
  const resolved = path.resolve(directory);
  const folders = await stateFolders(config);
  if (folders.has(resolved) || folders.has(await realFolder(resolved))) return fail('is a state folder itself');
  const parent = await realFolder(path.dirname(resolved));
  if (!folders.has(parent)) return fail(`is not directly inside a state folder (${[...folders].join(', ')})`);
  const stat = await fs.lstat(resolved).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stat === undefined) return missingOk ? resolved : fail('is missing');
  if (stat.isSymbolicLink()) return fail('is a symbolic link (a job directory must be a real directory)');
  if (!stat.isDirectory()) return fail('is not a directory');
  return resolved;
}
