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

type FolderConfig = Pick<ServiceConfig, 'directories'>;

async function realFolder(folder: string): Promise<string> {
  return fs.realpath(folder).catch(() => path.resolve(folder));
}

/** The real paths of the configured state folders. */
export async function stateFolders(config: FolderConfig): Promise<Set<string>> {
  return new Set(await Promise.all(Object.values(config.directories).map(realFolder)));
}

/**
 * Resolving the ~9 folders on every check tripled its CPU (270 against
 * 77 µs per check with the parent's real path the only one resolved; a
 * worker checks a job's directory several times per job). Their real paths
 * change only when an admin moves the storage, so they are reused for a
 * while, and a verdict against a job is only given after resolving them
 * afresh.
 */
const FOLDERS_REUSED_MS = 30_000;
const resolvedFolders = new WeakMap<FolderConfig, { folders: Promise<Set<string>>; at: number }>();

function recentStateFolders(config: FolderConfig, fresh: boolean): Promise<Set<string>> {
  const known = resolvedFolders.get(config);
  if (!fresh && known && Date.now() - known.at < FOLDERS_REUSED_MS) return known.folders;
  const folders = stateFolders(config);
  resolvedFolders.set(config, { folders, at: Date.now() });
  return folders;
}

/** Why `resolved` cannot be a job directory as far as the state folders go, or undefined if it can. */
async function placementProblem(resolved: string, folders: Set<string>): Promise<string | undefined> {
  const parent = await realFolder(path.dirname(resolved));
  // A symlink is refused after this, so its real path is its real parent's plus its name.
  if (folders.has(resolved) || folders.has(path.join(parent, path.basename(resolved))))
    return 'is a state folder itself';
  if (!folders.has(parent)) return `is not directly inside a state folder (${[...folders].join(', ')})`;
  return undefined;
}

/**
 * saliweb archives and expires a finished job wherever its row says its
 * directory is, even in a folder the config no longer names (a lab moved
 * `completed/`): archive moves it into ARCHIVED's folder, expire deletes it.
 */
export function isOldJob(state: string): boolean {
  return state === 'COMPLETED' || state === 'ARCHIVED';
}

/** A finished job's directory that may lie outside today's state folders: `<some folder>/<job name>`, not at the top. */
function oldLocation(job: string, resolved: string): boolean {
  return path.basename(resolved) === job && path.dirname(path.dirname(resolved)) !== path.dirname(resolved);
}

/**
 * Checks `directory` (a row's value) and returns it when it is a real
 * directory (not a symlink) whose parent is a state folder. Throws a
 * non-retryable JobStateError naming the job and the problem otherwise;
 * `missingOk` lets a caller handle a directory that is not there at all;
 * `oldLocationOk` (a COMPLETED or ARCHIVED job's) accepts one in a folder
 * no longer configured.
 */
export async function checkJobDirectory(
  config: FolderConfig,
  job: string,
  directory: string | null,
  { missingOk = false, oldLocationOk = false } = {},
): Promise<string> {
  const fail = (problem: string): never => {
    throw new JobStateError(job, `its directory ${JSON.stringify(directory)} ${problem}; fix the row or fail the job`);
  };
  if (directory === null || directory.trim() === '') return fail('is empty');
  if (!path.isAbsolute(directory)) return fail('is not an absolute path');
  const resolved = path.resolve(directory);
  let problem =
    (await placementProblem(resolved, await recentStateFolders(config, false))) &&
    (await placementProblem(resolved, await recentStateFolders(config, true)));
  // saliweb tolerates a finished job's directory in a folder the config no longer names (a lab moved
  // `completed/` or `archived/`): used where the row says. Only a directory named after its job, never
  // a state folder itself or a top-level one.
  if (problem && oldLocationOk && !problem.startsWith('is a state folder') && oldLocation(job, resolved)) {
    problem = undefined;
  }
  if (problem) return fail(problem);
  const stat = await fs.lstat(resolved).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stat === undefined) return missingOk ? resolved : fail('is missing');
  if (stat.isSymbolicLink()) return fail('is a symbolic link (a job directory must be a real directory)');
  if (!stat.isDirectory()) return fail('is not a directory');
  return resolved;
}
