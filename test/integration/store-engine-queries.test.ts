/**
 * The store functions the engine runs (issue 24), on the real MariaDB: a
 * transition's updates (the conditional one and the one under the row lock,
 * which stays held until the transaction ends), an admission round's reads
 * and its fenced update (refused once the lease was taken over), the disk
 * wait reason, run ids, job directories and a service's own columns.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseLostError } from '../../core/errors.js';
import { inTransaction } from '../../store/pool.js';
import { readJob, readJobDirectories } from '../../store/job-row.js';
import { insertJob } from '../../store/job-submission.js';
import { readWholeRow } from '../../store/job-listing.js';
import { childrenOf } from '../../store/job-operations.js';
import { changeJobState, changeStateIfStill, releaseChildren, setJobDirectory } from '../../store/job-transitions.js';
import {
  admitJobs,
  admittedNotMoved,
  countInFlightJobs,
  countJobsAhead,
  readJobHost,
  stillIncoming,
} from '../../store/admission.js';
import { assertStillHeld, releaseLease, takeLease } from '../../store/lease.js';
import { clearDiskWait, DISK_WAIT_PREFIX, recordDiskWait } from '../../store/disk-wait.js';
import { readRunningJobs, recordRunnerId } from '../../store/run-watch.js';
import { saveJobMetadata } from '../../store/job-metadata.js';
import { lockableElsewhere, newJob, setRow } from '../support/store-rows.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ columns: [{ name: 'score', type: 'INTEGER' }] });
});
after(async () => {
  await fixture.cleanup();
});

test('a transition changes the row only from the state it expects, and holds the row lock to its commit', async () => {
  const { db, frontendDb, config } = fixture;
  await insertJob(frontendDb, newJob('t1'));
  await insertJob(frontendDb, newJob('t2', { parents: ['t1'] }));
  await setRow(db, 't1', { state: 'RUNNING' });

  assert.equal(await changeStateIfStill(db, config, 't1', 'PREPROCESSING', 'POSTPROCESSING'), false);
  assert.equal((await readJob(db, 't1')).state, 'RUNNING');
  assert.equal(await changeStateIfStill(db, config, 't1', 'RUNNING', 'POSTPROCESSING'), true);
  const moved = await readJob(db, 't1');
  assert.equal(moved.state, 'POSTPROCESSING');
  assert.ok(moved.since instanceof Date, 'postprocess_time set');
  assert.equal(
    await changeStateIfStill(db, config, 't1', 'RUNNING', 'POSTPROCESSING'),
    false,
    'a repeat changes nothing',
  );

  const lockedWhileCompleting = await inTransaction(db, async (connection) => {
    await readJob(connection, 't1', { forUpdate: true });
    await changeJobState(connection, config, 't1', 'COMPLETED', '/completed/t1', 'not stored');
    await releaseChildren(connection, 't1');
    return !(await lockableElsewhere(fixture.db, (connection) => readJob(connection, 't1', { forUpdate: true })));
  });
  assert.equal(lockedWhileCompleting, true);
  assert.equal(
    await lockableElsewhere(fixture.db, (connection) => readJob(connection, 't1', { forUpdate: true })),
    true,
    'released by the commit',
  );
  const completed = await readWholeRow(db, 't1');
  assert.equal(completed?.state, 'COMPLETED');
  assert.equal(completed?.directory, '/completed/t1');
  assert.equal(completed?.failure, null);
  const end = completed?.end_time as Date;
  const archive = completed?.archive_time as Date;
  const expire = completed?.expire_time as Date;
  assert.ok(end instanceof Date && archive instanceof Date && expire instanceof Date);
  // [oldjobs] archive 30d, expire 90d in the fixture's config.
  assert.equal(Math.round((archive.getTime() - end.getTime()) / 86_400_000), 30);
  assert.equal(Math.round((expire.getTime() - end.getTime()) / 86_400_000), 90);
  assert.deepEqual(await childrenOf(db, 't1'), [], 't2 no longer waits on t1');

  await setRow(db, 't2', { state: 'RUNNING', runner_id: 'SGE:1', run_time: new Date() });
  await inTransaction(db, async (connection) => {
    await readJob(connection, 't2', { forUpdate: true });
    await changeJobState(connection, config, 't2', 'FAILED', '/failed/t2', 'it broke');
  });
  let row = await readWholeRow(db, 't2');
  assert.deepEqual([row?.state, row?.directory, row?.failure], ['FAILED', '/failed/t2', 'it broke']);

  await inTransaction(db, async (connection) => {
    await readJob(connection, 't2', { forUpdate: true });
    await changeJobState(connection, config, 't2', 'INCOMING', '/preprocessing/t2', 'not stored');
  });
  row = await readWholeRow(db, 't2');
  assert.deepEqual(
    [row?.state, row?.directory, row?.failure, row?.runner_id, row?.run_time],
    ['INCOMING', '/preprocessing/t2', null, null, null],
    'a resubmitted job starts afresh',
  );

  await inTransaction(db, (connection) => setJobDirectory(connection, 't2', '/elsewhere/t2'));
  row = await readWholeRow(db, 't2');
  assert.deepEqual([row?.state, row?.directory], ['INCOMING', '/elsewhere/t2']);
});

test('an admission round reads the line, and its update is refused once the lease was taken over', async () => {
  const { db, frontendDb } = fixture;
  for (const name of ['a1', 'a2', 'a3', 'a4']) await insertJob(frontendDb, newJob(name));
  await setRow(db, 'a1', { submit_time: new Date('2020-01-01T00:00:00Z') });
  await setRow(db, 'a2', { submit_time: new Date('2020-01-01T00:00:01Z') });
  await setRow(db, 'a3', { submit_time: new Date('2020-01-01T00:00:01Z') });
  await setRow(db, 'a4', { state: 'RUNNING' });
  const before = await countInFlightJobs(db);

  assert.equal(await countJobsAhead(db, 'a1'), 0);
  assert.equal(await countJobsAhead(db, 'a3'), 2, 'a2 has the same submit time and an earlier name');
  assert.deepEqual((await stillIncoming(db, ['a1', 'a4', 'nosuch'])).sort(), ['a1']);

  const lease = await takeLease(db, 'store-engine-test', { seconds: 60 });
  try {
    assert.equal(await admitJobs(db, ['a1', 'a4'], lease, undefined), 1, 'only the INCOMING row moves');
    const admitted = await readWholeRow(db, 'a1');
    assert.equal(admitted?.state, 'PREPROCESSING');
    assert.ok(admitted?.preprocess_time instanceof Date);
    assert.equal(await countInFlightJobs(db), before + 1);

    // Another process took the lease over (a newer token): this holder's late write is refused.
    await db.query('UPDATE saliflow_lease SET token = token + 1 WHERE name = ?', [lease.name]);
    assert.equal(await admitJobs(db, ['a2'], lease, undefined), 0);
    assert.equal((await readWholeRow(db, 'a2'))?.state, 'INCOMING');
    await assert.rejects(assertStillHeld(db, lease), LeaseLostError);
  } finally {
    await releaseLease(db, lease);
  }

  // Admitted long ago and still in INCOMING's folder: its workflow did not move on. Admitted just now: not yet.
  await setRow(db, 'a1', {
    directory: '/incoming/a1',
    preprocess_time: new Date('2020-01-02T00:00:00Z'),
  });
  await setRow(db, 'a2', { state: 'PREPROCESSING', directory: '/incoming/a2', preprocess_time: new Date() });
  await setRow(db, 'a3', {
    state: 'PREPROCESSING',
    directory: '/preprocessing/a3',
    preprocess_time: new Date('2020-01-02T00:00:00Z'),
  });
  assert.deepEqual(await admittedNotMoved(db, '/incoming/%', 10), ['a1']);
  assert.deepEqual(await admittedNotMoved(db, '/incoming/%', 0), []);
});

test("an admission records the worker's host in saliflow's table, never in the frontend's hostname", async () => {
  // saliweb: with track_hostname the frontend stores the submitter's address in `hostname`; the backend never
  // writes it. (This test asserted the worker's host in `hostname` before issue 29.)
  const tracking = await createServiceFixture({ trackHostname: true });
  try {
    await tracking.frontendDb.query(
      "INSERT INTO jobs (name, passwd, directory, url, submit_time, hostname) VALUES ('h1', 'pw', '/nowhere/h1', 'http://x/h1', UTC_TIMESTAMP(), '192.0.2.7')",
    );
    const lease = await takeLease(tracking.db, 'store-engine-test', { seconds: 60 });
    try {
      // The database has no saliflow_job_hosts yet (as one made by an older saliflow): made on first use.
      assert.equal(await admitJobs(tracking.db, ['h1'], lease, 'node-7'), 1);
    } finally {
      await releaseLease(tracking.db, lease);
    }
    const row = await readWholeRow(tracking.db, 'h1');
    assert.deepEqual([row?.state, row?.hostname], ['PREPROCESSING', '192.0.2.7']);
    assert.equal(await readJobHost(tracking.db, 'h1'), 'node-7');
  } finally {
    await tracking.cleanup();
  }
});

test('disk waits, run ids, running jobs, job directories and the service’s columns', async () => {
  const { db, frontendDb } = fixture;
  for (const name of ['r1', 'r2', 'r3']) await insertJob(frontendDb, newJob(name));
  const waiting = `${DISK_WAIT_PREFIX}ENOSPC`;

  await recordDiskWait(db, 'r1', waiting);
  assert.equal((await readJob(db, 'r1')).failure, waiting);
  await setRow(db, 'r2', { state: 'COMPLETED' });
  await recordDiskWait(db, 'r2', waiting);
  assert.equal((await readJob(db, 'r2')).failure, null, 'never on a finished job');
  await clearDiskWait(db, 'r1');
  assert.equal((await readJob(db, 'r1')).failure, null);
  await setRow(db, 'r3', { failure: 'some other reason' });
  await clearDiskWait(db, 'r3');
  assert.equal((await readJob(db, 'r3')).failure, 'some other reason', 'only a disk wait is cleared');
  await setRow(db, 'r3', { state: 'FAILED', failure: waiting });
  await clearDiskWait(db, 'r3');
  assert.equal((await readJob(db, 'r3')).failure, waiting, 'a FAILED job keeps its reason');

  await setRow(db, 'r1', { state: 'RUNNING' });
  await setRow(db, 'r2', { state: 'RUNNING' });
  await recordRunnerId(db, 'r1', 'SGE:7');
  assert.equal((await readJob(db, 'r1')).runnerId, 'SGE:7');
  const running = (await readRunningJobs(db)).filter((job) => job.name.startsWith('r'));
  assert.deepEqual(running, [{ name: 'r1', directory: '/nowhere/r1', runnerId: 'SGE:7' }], 'r2 names no run');

  await setRow(db, 'r2', { directory: null });
  const directories = (await readJobDirectories(db)).filter((job) => job.name.startsWith('r'));
  assert.deepEqual(
    directories.sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: 'r1', state: 'RUNNING', directory: '/nowhere/r1' },
      { name: 'r3', state: 'FAILED', directory: '/nowhere/r3' },
    ],
  );

  await saveJobMetadata(db, 'r1', { score: 5 });
  await saveJobMetadata(db, 'r1', {});
  assert.equal((await readJob(db, 'r1')).metadata.score, 5);
  assert.equal((await readJob(db, 'r3')).metadata.score, null);
});
