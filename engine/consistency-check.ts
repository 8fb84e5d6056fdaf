/**
 * saliweb refused to start when the file system and the database disagreed;
 * so does the saliflow worker. Problems found: a job's directory missing, a
 * stray file or folder in a state directory that no job owns (INCOMING
 * folders younger than an hour are a frontend mid-submission, and left to the
 * reconcile schedule). saliflow's own partial copies (`*.saliflow-partial`,
 * left by a worker killed while it copied a directory across file systems)
 * never count: a job still on its way removes its own at its next move, and
 * a worker removes the others when it starts. Only the state folders are scanned, never
 * `[directories] install`: saliweb's own layout keeps the state folders (and
 * the socket) inside it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { DIRECTORY_STATES, type ServiceConfig } from '../core/config/index.js';
import { ConsistencyError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { readJobDirectories } from '../store/job-row.js';

export { ConsistencyError };

const YOUNG_INCOMING_MS = 60 * 60 * 1000;

/** One disagreement between the file system and the jobs table. */
export type FileProblem =
  | { kind: 'missing-directory'; job: string; state: string; directory: string; message: string }
  | { kind: 'stray'; path: string; inIncoming: boolean; message: string }
  /** saliflow's own copy cut short, of a job that will not move again (or of no job): safe to remove. */
  | { kind: 'partial'; path: string; message: string };

export const PARTIAL_COPY_SUFFIX = '.saliflow-partial';
/** Finished: nothing runs for them again until an operator acts (or archive/expire, which name their own faults). */
const FINISHED_STATES = new Set(['COMPLETED', 'ARCHIVED', 'FAILED']);
/** A job in these states moves no more by itself: a partial copy of it is left over. */
const SETTLED_STATES = new Set(['FAILED', 'EXPIRED']);

/**
 * Workers on other hosts keep moving jobs between state folders (folder
 * first, then row) while this one starts or an operator checks: a problem
 * counts only if a second look `settleMs` later still sees it.
 */
export async function findFileProblems(
  config: ServiceConfig,
  db: Pick<mysql.Pool, 'query'>,
  settleMs = 2000,
): Promise<FileProblem[]> {
  const first = await scanFileProblems(config, db);
  if (first.length === 0 || settleMs <= 0) return first;
  await sleep(settleMs);
  const seen = new Set(first.map((problem) => problem.message));
  return (await scanFileProblems(config, db)).filter((problem) => seen.has(problem.message));
}

async function scanFileProblems(config: ServiceConfig, db: Pick<mysql.Pool, 'query'>): Promise<FileProblem[]> {
  const rows = await readJobDirectories(db);
  const owned = new Set<string>();
  const stateByBasename = new Map<string, string>();
  const problems: FileProblem[] = [];
  for (const row of rows) {
    owned.add(path.resolve(row.directory));
    stateByBasename.set(path.basename(row.directory), row.state);
    const exists = await fs.stat(row.directory).then(
      (stat) => stat.isDirectory(),
      () => false,
    );
    if (!exists) {
      problems.push({
        kind: 'missing-directory',
        job: row.name,
        state: row.state,
        directory: row.directory,
        message: `job ${row.name} (${row.state}): its directory ${row.directory} is missing`,
      });
    }
  }
  const incoming = path.resolve(config.directories.INCOMING);
  const stateFolders = new Set(DIRECTORY_STATES.map((state) => path.resolve(config.directories[state])));
  // Folders nested in one another (archived inside completed) and the backend's own files are not strays.
  const expected = new Set([
    ...stateFolders,
    path.resolve(config.general.socket),
    path.resolve(config.backend.stateFile),
  ]);
  for (const dir of stateFolders) {
    const entries = await fs.readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      const full = path.join(dir, entry);
      if (owned.has(full) || expected.has(full)) continue;
      if (entry.endsWith(PARTIAL_COPY_SUFFIX)) {
        const state = stateByBasename.get(entry.slice(0, -PARTIAL_COPY_SUFFIX.length));
        if (state !== undefined && !SETTLED_STATES.has(state)) continue;
        problems.push({
          kind: 'partial',
          path: full,
          message: `${full} is a copy saliflow left unfinished (a worker stopped mid-copy) of ${state ? `a ${state} job` : 'no job'}; a worker removes it when it starts`,
        });
        continue;
      }
      if (dir === incoming) {
        // Gone since the listing: a frontend cleaned up after itself.
        const stat = await fs.stat(full).catch(() => undefined);
        if (!stat || Date.now() - stat.mtimeMs < YOUNG_INCOMING_MS) continue;
      }
      problems.push({
        kind: 'stray',
        path: full,
        inIncoming: dir === incoming,
        message: `${full} belongs to no job in the jobs table; move it away or delete it`,
      });
    }
  }
  return withoutInterruptedMoves(problems);
}

/**
 * A job's directory missing where its row says, and found in exactly one
 * other state folder, is a state change cut short between its move and its
 * commit (a worker or MySQL killed): the job's next step puts it back
 * (engine/job-transitions.ts `restoreMisplaced`). Not for an operator.
 */
function withoutInterruptedMoves(problems: FileProblem[]): FileProblem[] {
  const strays = problems.filter((problem) => problem.kind === 'stray');
  const explained = new Set<FileProblem>();
  for (const problem of problems) {
    if (problem.kind !== 'missing-directory') continue;
    const found = strays.filter((stray) => path.basename(stray.path) === path.basename(problem.directory));
    if (found.length === 1) explained.add(problem).add(found[0]!);
  }
  return problems.filter((problem) => !explained.has(problem));
}

export async function findInconsistencies(config: ServiceConfig, db: Pick<mysql.Pool, 'query'>): Promise<string[]> {
  return (await findFileProblems(config, db)).map((problem) => problem.message);
}

/** Removes saliflow's leftover partial copies (only those), then refuses to start on any other disagreement. */
export async function checkConsistency(
  config: ServiceConfig,
  db: Pick<mysql.Pool, 'query'>,
  log: (message: string) => void = () => undefined,
): Promise<void> {
  const problems = await findFileProblems(config, db);
  for (const problem of problems) {
    if (problem.kind !== 'partial' || !problem.path.endsWith(PARTIAL_COPY_SUFFIX)) continue;
    await fs.rm(problem.path, { recursive: true, force: true });
    log(`removed ${problem.path}: a copy saliflow left unfinished (a worker stopped mid-copy)`);
  }
  const finishedMissing = (problem: FileProblem) =>
    problem.kind === 'missing-directory' && FINISHED_STATES.has(problem.state);
  const report = config.worker.missingFinishedDirectories === 'report';
  for (const problem of problems) {
    if (!report || !finishedMissing(problem) || problem.kind !== 'missing-directory') continue;
    log(
      `${problem.message}: left to you ([worker] missing_finished_directories: report); restore it, or ` +
        `\`saliflow delete ${problem.job}\` if it is gone for good`,
    );
  }
  const refused = problems.filter((problem) => problem.kind !== 'partial' && !(report && finishedMissing(problem)));
  if (refused.length === 0) return;
  const messages = refused.map((problem) => problem.message);
  if (refused.some(finishedMissing)) {
    // saliweb refuses on any missing directory; one finished job's should not keep a lab's service down unasked.
    messages.push(
      "a finished job's missing directory: restore it, or `saliflow delete <job>`; or set [worker] " +
        'missing_finished_directories: report to start anyway and leave such jobs to you',
    );
  }
  throw new ConsistencyError(messages);
}
