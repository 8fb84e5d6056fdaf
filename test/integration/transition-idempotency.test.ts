/**
 * Each state change is one idempotent activity: calling it twice, or again
 * after a crash between the directory move and the row update, leaves the
 * same row and directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createJobTransitions, type MadeChange } from '../../engine/job-transitions.js';
import { createPool } from '../../store/pool.js';
import { submitJob } from '../../client/submit.js';
import type { JobState } from '../../core/states.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { jobRow } from '../support/jobs.js';

let fixture: ServiceFixture;
let transitionJob: ReturnType<typeof createJobTransitions>['transitionJob'];
let pool: ReturnType<typeof createPool>;
/** What the metrics and the worker's log are told: each change made, once. */
const reported: MadeChange[] = [];

before(async () => {
  fixture = await createServiceFixture({ sections: { oldjobs: { archive: '1h', expire: 'NEVER' } } });
  pool = createPool(fixture.config);
  transitionJob = createJobTransitions(fixture.config, pool, (change) => reported.push(change)).transitionJob;
});
after(async () => {
  await pool.end();
  await fixture.cleanup();
});

async function snapshot(job: string) {
  const row = await jobRow(fixture.db, job);
  const dirs: Record<string, string[]> = {};
  for (const state of ['incoming', 'running', 'completed', 'failed'])
    dirs[state] = await fs.readdir(path.join(fixture.root, state));
  return { row, dirs };
}

const PATH: JobState[] = [
  'PREPROCESSING',
  'RUNNING',
  'POSTPROCESSING',
  'FINALIZING',
  'COMPLETED',
  'ARCHIVED',
  'EXPIRED',
];

test('every transition run twice changes nothing the second time', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'twice', files: { a: '1' } });
  for (const state of PATH) {
    const first = await transitionJob({ job: job.name, to: state });
    assert.equal(first.changed, true, `${state} first call changes`);
    const once = await snapshot(job.name);
    const second = await transitionJob({ job: job.name, to: state });
    assert.equal(second.changed, false, `${state} second call is a no-op`);
    assert.deepEqual(await snapshot(job.name), once, `${state} twice = once`);
  }
  const { row } = await snapshot(job.name);
  assert.equal(row.state, 'EXPIRED');
  // Reported once per change, from the state it left (metrics count each once, however often the call is retried).
  const mine = reported.filter((change) => change.job === job.name);
  assert.deepEqual(
    mine.map((change) => `${change.from}→${change.to}`),
    PATH.map((state, i) => `${i === 0 ? 'INCOMING' : PATH[i - 1]}→${state}`),
  );
  // When each left state was entered, from the row (saliweb's timestamps), where the row keeps one.
  for (const change of mine.filter((c) => ['RUNNING', 'POSTPROCESSING', 'FINALIZING', 'COMPLETED'].includes(c.from))) {
    assert.ok(change.since instanceof Date, `${change.from} has an entry time`);
  }
  assert.equal(row.directory, null);
  assert.equal(row.expire_time, null, 'NEVER gives a NULL expire_time');
  assert.equal(row.archive_time!.getTime() - row.end_time!.getTime(), 3600_000);
});

test('a retry after a crash between the move and the row update completes the change', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'crash', files: { a: '1' } });
  await transitionJob({ job: job.name, to: 'PREPROCESSING' });
  // The move to RUNNING's directory happened; the row update did not.
  // (RUNNING shares PREPROCESSING's folder here, so go on to COMPLETED's.)
  await transitionJob({ job: job.name, to: 'RUNNING' });
  await transitionJob({ job: job.name, to: 'POSTPROCESSING' });
  await transitionJob({ job: job.name, to: 'FINALIZING' });
  const from = path.join(fixture.root, 'running', job.name);
  const to = path.join(fixture.root, 'completed', job.name);
  await fs.rename(from, to);
  const result = await transitionJob({ job: job.name, to: 'COMPLETED' });
  assert.equal(result.changed, true);
  const { row } = await snapshot(job.name);
  assert.equal(row.state, 'COMPLETED');
  assert.equal(row.directory, to);
});

test('invalid transitions are refused and leave row and directory as they were', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'invalid', files: { a: '1' } });
  const before = await snapshot(job.name);
  for (const to of ['RUNNING', 'COMPLETED', 'ARCHIVED', 'EXPIRED', 'POSTPROCESSING', 'FINALIZING'] as JobState[]) {
    await assert.rejects(
      transitionJob({ job: job.name, to }),
      new RegExp(`job invalid: cannot move from INCOMING to ${to}`),
    );
  }
  assert.deepEqual(await snapshot(job.name), before);
});

test('a job whose directory vanished gets an error naming it, and stays put', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'vanished', files: { a: '1' } });
  await fs.rm(job.directory, { recursive: true });
  await assert.rejects(
    transitionJob({ job: job.name, to: 'PREPROCESSING' }),
    /job vanished: its directory .*vanished is missing/,
  );
  assert.equal((await jobRow(fixture.db, job.name)).state, 'INCOMING');
});

test('a target directory already taken is an error, and nothing moves', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'taken', files: { a: '1' } });
  await fs.mkdir(path.join(fixture.root, 'running', job.name));
  await assert.rejects(transitionJob({ job: job.name, to: 'PREPROCESSING' }), /target already exists/);
  assert.equal((await jobRow(fixture.db, job.name)).state, 'INCOMING');
  await fs.access(job.directory);
});

test('FAILED → INCOMING (resubmit) puts the directory in PREPROCESSING’s folder and clears the failure', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'resub', files: { a: '1' } });
  await transitionJob({ job: job.name, to: 'PREPROCESSING' });
  await transitionJob({ job: job.name, to: 'FAILED', failure: 'Error: boom' });
  let row = await jobRow(fixture.db, job.name);
  assert.equal(row.failure, 'Error: boom');
  assert.equal(row.directory, path.join(fixture.root, 'failed', job.name));
  await transitionJob({ job: job.name, to: 'INCOMING' });
  row = await jobRow(fixture.db, job.name);
  assert.equal(row.state, 'INCOMING');
  assert.equal(row.failure, null);
  assert.equal(row.preprocess_time, null);
  assert.equal(row.directory, path.join(fixture.root, 'running', job.name));
});

test('failing a job whose directory vanished still records FAILED, saying why it was not moved', async () => {
  const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'lostdir', files: { a: '1' } });
  await fs.rm(job.directory, { recursive: true });
  await transitionJob({ job: job.name, to: 'FAILED', failure: 'Error: boom' });
  const row = await jobRow(fixture.db, job.name);
  assert.equal(row.state, 'FAILED');
  assert.match(
    row.failure ?? '',
    /^Error: boom\n\(the job directory was not moved: job lostdir: its directory \S+ is missing/,
  );
  assert.equal(row.directory, job.directory);
});
