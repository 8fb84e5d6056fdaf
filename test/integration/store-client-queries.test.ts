/**
 * The store functions the client, the frontend socket, job starts and the
 * maintenance activities run (issue 24), on the real MariaDB: what each
 * returns, that the submit insert is all or nothing, that the delete locks
 * hold the rows until the transaction ends, and that the resubmit named
 * lock is exclusive per connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { inTransaction } from '../../store/pool.js';
import { insertJob } from '../../store/job-submission.js';
import {
  countJobsByState,
  jobExists,
  jobsInStates,
  readJobState,
  readStateAndUser,
  readWholeRow,
  unfinishedJobs,
} from '../../store/job-listing.js';
import {
  allJobs,
  childrenOf,
  deleteAllJobRows,
  deleteJobRows,
  isJobFailed,
  lockAllJobsForDelete,
  lockJobForDelete,
  readStateAndRun,
  releaseNamedLock,
  takeNamedLock,
} from '../../store/job-operations.js';
import { jobDirectory, jobsToAdopt, setAdoptedRunnerId, usersOfJobs } from '../../store/adoption.js';
import { jobsDueForArchive, jobsDueForExpiry, jobsToReconcile } from '../../store/maintenance.js';
import { lockableElsewhere, newJob, setRow } from '../support/store-rows.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test('the submit insert is all or nothing, and the reads see what it wrote', async () => {
  const { db, frontendDb } = fixture;
  await insertJob(frontendDb, newJob('parent1', { user: 'alice' }));
  await insertJob(frontendDb, newJob('child1', { parents: ['parent1'] }));
  assert.deepEqual(await readStateAndUser(db, 'parent1'), { user: 'alice', state: 'INCOMING' });
  assert.deepEqual(await readStateAndUser(db, 'child1'), { user: null, state: 'INCOMING' });
  assert.deepEqual(await childrenOf(db, 'parent1'), ['child1']);

  // A name taken fails as MySQL says (submit picks another name on ER_DUP_ENTRY).
  await assert.rejects(insertJob(frontendDb, newJob('parent1')), { code: 'ER_DUP_ENTRY' });
  // A dependency that cannot be written (a parent name longer than the column) takes the job row with it.
  await assert.rejects(insertJob(frontendDb, newJob('orphan1', { parents: ['p'.repeat(41)] })), {
    code: 'ER_DATA_TOO_LONG',
  });
  assert.equal(await jobExists(db, 'orphan1'), false);
  assert.equal(await readStateAndUser(db, 'orphan1'), undefined);

  const row = await readWholeRow(db, 'parent1');
  assert.equal(row?.name, 'parent1');
  assert.equal(row?.user, 'alice');
  assert.ok(row?.submit_time instanceof Date);
  assert.equal(await readWholeRow(db, 'nosuch'), undefined);
  assert.equal(await readJobState(db, 'child1'), 'INCOMING');
  assert.equal(await readJobState(db, 'nosuch'), undefined);

  await inTransaction(db, (connection) => deleteAllJobRows(connection));
});

test('listing, counting and the maintenance reads', async () => {
  const { db, frontendDb } = fixture;
  for (const name of ['l1', 'l2', 'l3', 'l4', 'l5']) await insertJob(frontendDb, newJob(name, { user: `u-${name}` }));
  await setRow(fixture.db, 'l1', {
    state: 'RUNNING',
    runner_id: 'SGE:1',
    submit_time: new Date('2020-01-01T00:00:00Z'),
  });
  await setRow(fixture.db, 'l2', {
    state: 'FAILED',
    failure: 'first line\nsecond',
    submit_time: new Date('2020-01-02T00:00:00Z'),
  });
  await setRow(fixture.db, 'l3', { state: 'COMPLETED', archive_time: new Date('2020-01-05T00:00:00Z') });
  await setRow(fixture.db, 'l4', { state: 'ARCHIVED', expire_time: new Date('2020-01-04T00:00:00Z') });

  const listed = await jobsInStates(db, ['FAILED', 'RUNNING']);
  assert.deepEqual(
    listed.map((job) => [job.name, job.state, job.user, job.runnerId, job.failure]),
    [
      ['l1', 'RUNNING', 'u-l1', 'SGE:1', null],
      ['l2', 'FAILED', 'u-l2', null, 'first line\nsecond'],
    ],
  );
  assert.ok(listed[0]!.submitTime instanceof Date);
  assert.deepEqual(await countJobsByState(db), { RUNNING: 1, FAILED: 1, COMPLETED: 1, ARCHIVED: 1, INCOMING: 1 });

  const unfinished = [
    { name: 'l1', user: 'u-l1' },
    { name: 'l5', user: 'u-l5' },
  ];
  // With what the reconcile needs to tell a job left for an operator (a RUNNING one without a run record).
  assert.deepEqual(await jobsToReconcile(db), [
    { ...unfinished[0], state: 'RUNNING', directory: '/nowhere/l1', runnerId: 'SGE:1' },
    { ...unfinished[1], state: 'INCOMING', directory: '/nowhere/l5', runnerId: null },
  ]);
  assert.deepEqual(await unfinishedJobs(db), [
    { name: 'l1', state: 'RUNNING', user: 'u-l1' },
    { name: 'l5', state: 'INCOMING', user: 'u-l5' },
  ]);
  assert.deepEqual(await jobsDueForArchive(db, 10), [{ name: 'l3', user: 'u-l3' }]);
  assert.deepEqual(await jobsDueForExpiry(db, 10), [{ name: 'l4', user: 'u-l4' }]);
  assert.deepEqual(await jobsDueForArchive(db, 0), []);

  assert.deepEqual(await readStateAndRun(db, 'l1'), { state: 'RUNNING', runnerId: 'SGE:1' });
  assert.equal(await readStateAndRun(db, 'nosuch'), undefined);
  assert.deepEqual(await readStateAndUser(db, 'l2'), { state: 'FAILED', user: 'u-l2' });
  assert.equal(await isJobFailed(db, 'l2'), true);
  assert.equal(await isJobFailed(db, 'l1'), false);
  assert.equal(await isJobFailed(db, 'nosuch'), false);
  assert.deepEqual((await allJobs(db)).map((job) => job.name).sort(), ['l1', 'l2', 'l3', 'l4', 'l5']);

  // Adoption: the rows, the runner id set only while RUNNING, users of named jobs.
  const adopted = await jobsToAdopt(db);
  assert.deepEqual(adopted[0], {
    name: 'l1',
    user: 'u-l1',
    state: 'RUNNING',
    runnerId: 'SGE:1',
    directory: '/nowhere/l1',
    runTime: null,
  });
  await setAdoptedRunnerId(db, 'l1', 'SGE:2');
  await setAdoptedRunnerId(db, 'l2', 'SGE:3');
  assert.equal((await readStateAndRun(db, 'l1'))?.runnerId, 'SGE:2');
  assert.equal((await readStateAndRun(db, 'l2'))?.runnerId, null);
  assert.equal(await jobDirectory(db, 'l2'), '/nowhere/l2');
  assert.equal(await jobDirectory(db, 'nosuch'), null);
  assert.deepEqual(await usersOfJobs(db, []), new Map());
  assert.deepEqual(await usersOfJobs(db, ['l1', 'nosuch']), new Map([['l1', 'u-l1']]));

  await inTransaction(db, (connection) => deleteAllJobRows(connection));
  assert.deepEqual(await allJobs(db), []);
});

test('a delete holds its rows locked until its transaction ends', async () => {
  const { db, frontendDb } = fixture;
  await insertJob(frontendDb, newJob('d1'));
  await insertJob(frontendDb, newJob('d2', { parents: ['d1'] }));
  await insertJob(frontendDb, newJob('d3', { parents: ['d2'] }));
  const seenLocked = await inTransaction(db, async (connection) => {
    const row = await lockJobForDelete(connection, 'd2');
    assert.deepEqual(row, { state: 'INCOMING', directory: '/nowhere/d2', runnerId: null });
    const locked = !(await lockableElsewhere(fixture.db, (connection) => lockJobForDelete(connection, 'd2')));
    // saliweb's deljob: every dependencies row naming it goes, its children are released (issue 29).
    assert.deepEqual(await deleteJobRows(connection, 'd2'), ['d3']);
    return locked;
  });
  assert.equal(seenLocked, true);
  assert.equal(await lockableElsewhere(fixture.db, (connection) => lockJobForDelete(connection, 'd1')), true);
  assert.equal(await jobExists(db, 'd2'), false);
  // Its dependencies rows went with it, on both sides: its own and its children's.
  assert.deepEqual(await childrenOf(db, 'd1'), []);
  assert.deepEqual(await childrenOf(db, 'd2'), []);
  assert.equal(await inTransaction(db, (connection) => lockJobForDelete(connection, 'd2')), undefined);

  const allLocked = await inTransaction(db, async (connection) => {
    const rows = await lockAllJobsForDelete(connection);
    assert.deepEqual(rows.map((row) => row.name).sort(), ['d1', 'd3']);
    const locked = !(await lockableElsewhere(fixture.db, (connection) => lockJobForDelete(connection, 'd3')));
    await deleteAllJobRows(connection);
    return locked;
  });
  assert.equal(allLocked, true);
  assert.deepEqual(await allJobs(db), []);
  assert.deepEqual(await childrenOf(db, 'd2'), []);
});

test('the resubmit named lock is held by one connection at a time', async () => {
  const first = await fixture.db.getConnection();
  const second = await fixture.db.getConnection();
  const name = `saliflow-test-${fixture.config.database.db}`;
  try {
    assert.equal(await takeNamedLock(first, name, 0), true);
    assert.equal(await takeNamedLock(second, name, 0), false);
    await releaseNamedLock(first, name);
    assert.equal(await takeNamedLock(second, name, 0), true);
    await releaseNamedLock(second, name);
  } finally {
    first.release();
    second.release();
  }
});
