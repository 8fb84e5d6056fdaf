/**
 * Malformed rows and directories get an error naming the job and the
 * problem, and nothing is lost: the row and the directory stay as they were.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSaliflowActivities } from '../../activities/index.js';
import { submitJob } from '../../client/submit.js';
import { resubmitJob } from '../../client/admin.js';
import { defineService, doNothing } from '../../core/index.js';
import type { JobState } from '../../core/states.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import type { Client } from '@temporalio/client';

let fixture: ServiceFixture;
let parts: ReturnType<typeof createSaliflowActivities>;
let client: Client;
let closeClient: () => Promise<void>;

const service = defineService<{ [column: string]: string | number | Date | null; score: number | null }>({
  columns: [{ name: 'score', type: 'INTEGER' }],
  preprocess(job) {
    if (job.name.startsWith('unknown-column')) (job.metadata as Record<string, unknown>).no_such_column = 1;
  },
  run: () => doNothing(),
});

before(async () => {
  fixture = await createServiceFixture({ columns: service.columns ?? [] });
  parts = createSaliflowActivities({ config: fixture.config, service: service as never });
  ({ client, close: closeClient } = await temporalClient());
});
after(async () => {
  await parts.close();
  await closeClient();
  await fixture.cleanup();
});

/** Makes a job, puts its row in `state` with `directory`, returns its name. */
async function jobIn(
  name: string,
  state: JobState,
  tweak?: (job: { name: string; directory: string }) => Promise<void>,
) {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name, files: { 'in.txt': 'x' } });
  await fixture.db.query('UPDATE jobs SET state = ? WHERE name = ?', [state, job.name]);
  await tweak?.(job);
  return job;
}

async function snapshot(name: string) {
  const [rows] = await fixture.db.query('SELECT * FROM jobs WHERE name = ?', [name]);
  const listing: Record<string, string[]> = {};
  for (const dir of ['incoming', 'running', 'completed', 'failed'])
    listing[dir] = (await fs.readdir(path.join(fixture.root, dir))).sort();
  return { rows, listing };
}

type Case = { name: string; make: () => Promise<string>; act: (job: string) => Promise<unknown>; error: RegExp };

const transition = (to: JobState) => (job: string) => parts.activities.transitionJob({ job, to });
const invalid = (from: JobState, to: JobState): Case => ({
  name: `${from} → ${to} is refused`,
  make: async () => (await jobIn(`bad-${from.slice(0, 4)}-${to.slice(0, 4)}`.toLowerCase(), from)).name,
  act: transition(to),
  error: new RegExp(`job \\S+: cannot move from ${from} to ${to}`),
});

const cases: Case[] = [
  {
    name: 'a row deleted under a running job',
    make: async () => {
      const job = await jobIn('deleted-row', 'INCOMING');
      await fixture.db.query('DELETE FROM jobs WHERE name = ?', [job.name]);
      return job.name;
    },
    act: transition('PREPROCESSING'),
    error: /job deleted-row: no such row in the jobs table/,
  },
  {
    name: 'a state outside the ENUM (stored as empty by a non-strict client)',
    make: async () => {
      const job = await jobIn('empty-state', 'INCOMING');
      const connection = await fixture.db.getConnection();
      await connection.query("SET SESSION sql_mode = ''");
      await connection.query("UPDATE jobs SET state = 'BOGUS' WHERE name = ?", [job.name]);
      connection.release();
      return job.name;
    },
    act: transition('PREPROCESSING'),
    error: /job empty-state: row has unknown state ""/,
  },
  {
    name: 'a NULL directory',
    make: async () =>
      (
        await jobIn('null-dir', 'INCOMING', (job) =>
          fixture.db.query('UPDATE jobs SET directory = NULL WHERE name = ?', [job.name]).then(() => undefined),
        )
      ).name,
    act: transition('PREPROCESSING'),
    error: /job null-dir: its directory null is empty/,
  },
  {
    name: 'a directory missing on disk',
    make: async () => (await jobIn('gone-dir', 'INCOMING', (job) => fs.rm(job.directory, { recursive: true }))).name,
    act: transition('PREPROCESSING'),
    error: /job gone-dir: its directory \S+gone-dir is missing/,
  },
  {
    name: 'a directory pointing at a file',
    make: async () =>
      (
        await jobIn('file-dir', 'INCOMING', async (job) => {
          await fs.rm(job.directory, { recursive: true });
          await fs.writeFile(job.directory, 'not a directory');
        })
      ).name,
    act: transition('PREPROCESSING'),
    error: /job file-dir: its directory "\S+file-dir" is not a directory/,
  },
  {
    name: 'the target directory already taken',
    make: async () =>
      (await jobIn('clash', 'INCOMING', (job) => fs.mkdir(path.join(fixture.root, 'running', job.name)))).name,
    act: transition('PREPROCESSING'),
    error: /job clash: cannot move \S+ to \S+: the target already exists/,
  },
  invalid('INCOMING', 'RUNNING'),
  invalid('INCOMING', 'COMPLETED'),
  invalid('PREPROCESSING', 'POSTPROCESSING'),
  invalid('RUNNING', 'FINALIZING'),
  invalid('RUNNING', 'COMPLETED'),
  invalid('POSTPROCESSING', 'ARCHIVED'),
  invalid('COMPLETED', 'RUNNING'),
  invalid('ARCHIVED', 'COMPLETED'),
  invalid('EXPIRED', 'ARCHIVED'),
  invalid('FAILED', 'COMPLETED'),
  {
    name: 'resubmitting a job that does not exist',
    make: async () => 'never-submitted',
    act: (job) => resubmitJob({ config: fixture.config, db: fixture.db, client, job }),
    error: /no job never-submitted in Test\w+; `saliflow list` shows the jobs there are/,
  },
  ...(['INCOMING', 'RUNNING', 'COMPLETED', 'EXPIRED'] as JobState[]).map((state): Case => ({
    name: `resubmitting a ${state} job`,
    make: async () => (await jobIn(`resub-${state.toLowerCase()}`, state)).name,
    act: (job) => resubmitJob({ config: fixture.config, db: fixture.db, client, job }),
    error: new RegExp(`job resub-${state.toLowerCase()}: is ${state}; only FAILED jobs can be resubmitted`),
  })),
  {
    name: 'a step writing a metadata column the service did not declare',
    make: async () =>
      (
        await jobIn('unknown-column', 'PREPROCESSING', async (job) => {
          const running = path.join(fixture.root, 'running', job.name);
          await fs.rename(job.directory, running);
          await fixture.db.query('UPDATE jobs SET directory = ? WHERE name = ?', [running, job.name]);
        })
      ).name,
    act: (job) => parts.activities.advanceJob({ job }),
    error:
      /preprocess of job unknown-column failed: JobStateError: job unknown-column: metadata has no column "no_such_column"/,
  },
  {
    name: 'archiving an expired job (no directory)',
    make: async () =>
      (
        await jobIn('expired-step', 'EXPIRED', (job) =>
          fixture.db.query('UPDATE jobs SET directory = NULL WHERE name = ?', [job.name]).then(() => undefined),
        )
      ).name,
    act: (job) => parts.activities.archiveJob(job),
    error: /job expired-step: cannot move from EXPIRED to ARCHIVED/,
  },
  {
    name: 'a run submitted for a job without a directory',
    make: async () =>
      (
        await jobIn('run-nodir', 'RUNNING', (job) =>
          fixture.db.query('UPDATE jobs SET directory = NULL WHERE name = ?', [job.name]).then(() => undefined),
        )
      ).name,
    act: (job) => parts.activities.advanceJob({ job }),
    error: /job run-nodir: its directory null is empty/,
  },
  ...(
    [
      ['empty-dir', () => '', /is empty/],
      ['relative-dir', () => 'incoming/relative-dir', /is not an absolute path/],
      ['outside-dir', () => os.tmpdir(), /is not directly inside a state folder/],
      ['state-folder', () => path.join(fixture.root, 'running'), /is a state folder itself/],
      ['nested-dir', (dir: string) => path.join(dir, 'deeper'), /is not directly inside a state folder/],
    ] as [string, (dir: string) => string, RegExp][]
  ).map(([name, directory, error]): Case => ({
    name: `a row directory that ${error.source.replace(/\\/g, '')} (${name}) is never moved`,
    make: async () =>
      (
        await jobIn(name, 'RUNNING', (job) =>
          fixture.db
            .query('UPDATE jobs SET directory = ? WHERE name = ?', [directory(job.directory), job.name])
            .then(() => undefined),
        )
      ).name,
    act: transition('POSTPROCESSING'),
    error,
  })),
  {
    name: 'a job directory that is a symlink to a folder outside the job tree is never followed',
    make: async () =>
      (
        await jobIn('symlinked', 'RUNNING', async (job) => {
          const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-outside-'));
          await fs.rm(job.directory, { recursive: true });
          await fs.symlink(outside, job.directory);
        })
      ).name,
    act: (job) => parts.activities.advanceJob({ job }),
    error: /job symlinked: its directory "\S+symlinked" is a symbolic link/,
  },
];

test(`at least 20 malformed rows (${cases.length} here)`, () => {
  assert.ok(cases.length >= 20);
});

for (const { name, make, act, error } of cases) {
  test(name, async () => {
    const job = await make();
    const before = await snapshot(job);
    await assert.rejects(act(job), error);
    assert.deepEqual(await snapshot(job), before, 'row and directories unchanged');
  });
}

test('an input file escaping the job directory is refused, and no directory or row is left', async () => {
  const before = await snapshot('escape');
  await assert.rejects(
    submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'escape', files: { '../../evil.txt': 'x' } }),
    /input file "..\/..\/evil.txt" would be written outside the job directory/,
  );
  assert.deepEqual(await snapshot('escape'), before);
});
