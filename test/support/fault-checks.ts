/**
 * The fault suite's promises, checked after a scenario from the outside
 * (the jobs table, the trigger-fed state audit, the job directories, the
 * Temporal workflows). Each check yields the offenders, so one run reports
 * every broken promise with counts instead of stopping at the first.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { jobWorkflowId } from '../../core/job-workflow-contract.js';
import type { ServiceFixture } from './service-fixture.js';
import { jobsThatLeftCompleted, readStateAudit, statePaths } from './state-audit.js';
import { expectedCycles, runsFile } from './services/counted-runs.js';
import type { InFlightSamples } from './fault-harness.js';

export interface Finding {
  check: string;
  /** Offenders: jobs, run cycles, samples or directories, as the check says. */
  count: number;
  examples: string[];
}

export const CHECKS = {
  notCompleted: 'job not COMPLETED',
  workflowNotCompleted: 'workflow not closed as Completed',
  leftCompleted: 'job left COMPLETED',
  everFailed: 'job was FAILED at some point',
  invalidPath: 'state path not a valid saliweb path',
  rows: 'job without exactly one row (missing, extra or deleted)',
  ranTwice: 'run cycle executed more than once (or never due)',
  neverRan: 'run cycle of a COMPLETED job never executed',
  overLimit: 'in-flight samples above [limits] running',
  wrongDirectory: "job directory not in its row's (COMPLETED) folder",
  leftovers: 'leftover in a state folder',
} as const;

/** Pipeline order; a path only moves forward, except POSTPROCESSING → RUNNING (reschedule). */
const RANK: Record<string, number> = {
  INCOMING: 0,
  PREPROCESSING: 1,
  RUNNING: 2,
  POSTPROCESSING: 3,
  FINALIZING: 4,
  COMPLETED: 5,
};

/**
 * Why `states` is not a valid saliweb path for a job of `cycles` run cycles
 * (INCOMING → PREPROCESSING → RUNNING → POSTPROCESSING → FINALIZING →
 * COMPLETED, states may be skipped, never backwards, never FAILED), or
 * undefined when it is.
 */
export function pathProblem(states: readonly string[], cycles: number): string | undefined {
  if (states[0] !== 'INCOMING') return `starts at ${states[0] ?? 'nothing'}`;
  let reschedules = 0;
  for (let i = 1; i < states.length; i++) {
    const [from, to] = [states[i - 1]!, states[i]!];
    if (RANK[from] === undefined || RANK[to] === undefined) return `${from}→${to}`;
    if (from === 'POSTPROCESSING' && to === 'RUNNING') reschedules++;
    else if (RANK[to]! <= RANK[from]!) return `${from}→${to} goes backwards`;
  }
  if (reschedules > Math.max(0, cycles - 1)) return `rescheduled ${reschedules} times for ${cycles} cycles`;
  if (states.at(-1) !== 'COMPLETED') return `ends at ${states.at(-1)}`;
  return undefined;
}

function finding(check: string, offenders: string[]): Finding {
  return { check, count: offenders.length, examples: offenders.slice(0, 5) };
}

async function linesIn(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

export async function checkScenario(input: {
  fixture: ServiceFixture;
  client: Client;
  /** Every job the scenario submitted. */
  jobs: readonly string[];
  samples: InFlightSamples;
}): Promise<Finding[]> {
  const { fixture, client, jobs, samples } = input;
  const { config } = fixture;
  const [rows] = await fixture.db.query<mysql.RowDataPacket[]>('SELECT name, state, directory, failure FROM jobs');
  const rowOf = new Map(rows.map((row) => [String(row.name), row]));
  const audit = await readStateAudit(fixture.db);
  const paths = statePaths(audit);
  const submitted = new Set(jobs);

  const notCompleted = jobs.filter((job) => rowOf.get(job)?.state !== 'COMPLETED');
  const workflowNotCompleted: string[] = [];
  for (const job of jobs) {
    const status = await client.workflow
      .getHandle(jobWorkflowId(config.general.serviceName, job))
      .describe()
      .then(
        (description) => description.status.name,
        (error: Error) => error.name,
      );
    if (status !== 'COMPLETED') workflowNotCompleted.push(`${job}: ${status}`);
  }

  const rowProblems = [
    ...jobs.filter((job) => !rowOf.has(job)).map((job) => `${job}: no row`),
    ...[...rowOf.keys()].filter((name) => !submitted.has(name)).map((name) => `${name}: row nobody submitted`),
    ...audit.filter((change) => change.to === null).map((change) => `${change.job}: row deleted`),
  ];

  const ranTwice: string[] = [];
  const neverRan: string[] = [];
  const wrongDirectory: string[] = [];
  for (const job of jobs) {
    const expected = path.join(config.directories.COMPLETED, job);
    const directory = rowOf.get(job)?.directory as string | null | undefined;
    const isDir = await fs.stat(expected).then(
      (stat) => stat.isDirectory(),
      () => false,
    );
    if (directory !== expected || !isDir) {
      wrongDirectory.push(`${job}: row says ${directory}, ${expected} ${isDir ? 'exists' : 'missing'}`);
    }
    const where = directory ?? expected;
    const cycles = expectedCycles(job);
    const counted = (await fs.readdir(where).catch(() => [] as string[]))
      .map((file) => /^runs\.(\d+)$/.exec(file)?.[1])
      .filter((cycle) => cycle !== undefined)
      .map(Number);
    for (const cycle of new Set([...counted, ...Array.from({ length: cycles }, (_, i) => i + 1)])) {
      const lines = await linesIn(path.join(where, runsFile(cycle)));
      if (lines > 1 || (cycle > cycles && lines > 0)) ranTwice.push(`${job} cycle ${cycle}: ${lines} runs`);
      if (lines === 0 && cycle <= cycles && rowOf.get(job)?.state === 'COMPLETED') {
        neverRan.push(`${job} cycle ${cycle}`);
      }
    }
  }

  const leftovers: string[] = [];
  const completedFolder = path.resolve(config.directories.COMPLETED);
  for (const folder of new Set(Object.values(config.directories).map((dir) => path.resolve(dir)))) {
    for (const entry of await fs.readdir(folder).catch(() => [] as string[])) {
      if (folder !== completedFolder || !submitted.has(entry)) leftovers.push(path.join(folder, entry));
    }
  }

  const invalidPaths: string[] = [];
  for (const job of jobs) {
    const states = paths.get(job) ?? [];
    const problem = pathProblem(states, expectedCycles(job));
    if (problem) invalidPaths.push(`${job}: ${problem} (${states.join('→')})`);
  }

  return [
    finding(
      CHECKS.notCompleted,
      notCompleted.map((job) => `${job}: ${rowOf.get(job)?.state ?? 'no row'}`),
    ),
    finding(CHECKS.workflowNotCompleted, workflowNotCompleted),
    finding(
      CHECKS.leftCompleted,
      jobsThatLeftCompleted(audit).map(({ job, path: states }) => `${job}: ${states.join('→')}`),
    ),
    finding(
      CHECKS.everFailed,
      jobs
        .filter((job) => paths.get(job)?.includes('FAILED'))
        .map((job) => `${job}: ${String(rowOf.get(job)?.failure ?? '(no failure text)').split('\n')[0]}`),
    ),
    finding(CHECKS.invalidPath, invalidPaths),
    finding(CHECKS.rows, rowProblems),
    finding(CHECKS.ranTwice, ranTwice),
    finding(CHECKS.neverRan, neverRan),
    finding(CHECKS.overLimit, samples.overLimit),
    finding(CHECKS.wrongDirectory, wrongDirectory),
    finding(CHECKS.leftovers, leftovers),
  ];
}

/** A failure message: every count, with examples of what broke. */
export function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map(
      (f) =>
        `${String(f.count).padStart(5)}  ${f.check}` +
        (f.count > 0 ? `\n${f.examples.map((example) => `         e.g. ${example}`).join('\n')}` : ''),
    )
    .join('\n');
}
