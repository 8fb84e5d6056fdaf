/**
 * The result files a web-service run hands to `postprocess`, as saliweb
 * passes its list of result URLs: each can be downloaded into the job
 * directory.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResultFile, RunResults } from '../core/runner-spec.js';
import { RunnerError } from '../core/errors.js';

export type { ResultFile };

function fileName(url: string): string {
  const segment =
    new URL(url).pathname
      .split('/')
      .filter((part) => part !== '')
      .pop() ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    decoded = segment;
  }
  // An encoded slash must not turn a name into a path.
  return decoded.replace(/[/\\\0]/g, '_');
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

async function download(url: string, directory: string, target: string, fetchImpl: typeof fetch): Promise<string> {
  const root = path.resolve(directory);
  const destination = path.resolve(root, target);
  const refuse = () =>
    new Error(`refusing to download ${url} to ${JSON.stringify(target)}: that is outside the job directory ${root}`);
  if (target === '' || !isInside(root, destination)) throw refuse();
  await fs.mkdir(path.dirname(destination), { recursive: true });
  // A symlinked subdirectory could still lead out of the job directory.
  const realParent = await fs.realpath(path.dirname(destination));
  const realRoot = await fs.realpath(root);
  if (realParent !== realRoot && !isInside(realRoot, realParent)) throw refuse();

  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    throw new RunnerError(`GET ${url}: ${(error as Error).message}${cause ? ` (${cause.message})` : ''}`, {
      cause: error,
    });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new RunnerError(`GET ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
  // Streamed to a temporary name and renamed, so a failed download never
  // leaves a truncated file where postprocess expects a whole one.
  const temporary = `${destination}.${randomBytes(4).toString('hex')}.part`;
  try {
    await fs.writeFile(temporary, response.body);
    await fs.rename(temporary, destination);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw new RunnerError(`GET ${url}: download to ${destination} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return destination;
}

export function toResultFiles(
  results: RunResults | undefined,
  directory: string,
  fetchImpl: typeof fetch = globalThis.fetch,
): ResultFile[] {
  return (results?.urls ?? []).map((url) => {
    const name = fileName(url);
    return { url, name, download: (target = name) => download(url, directory, target, fetchImpl) };
  });
}
