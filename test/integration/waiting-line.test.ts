/**
 * The waiting line on real MySQL rows: which INCOMING jobs a round may
 * admit under `[limits] running`, `running_per_user` and
 * `running_per_anonymous`, and why each of the others waits. No Temporal:
 * rounds are run directly (runAdmissionRound), as the admitter and the CLI do.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LimitsConfig } from '../../core/config/index.js';
import { runAdmissionRound } from '../../engine/admission.js';
import { admissibleJobs, waitingReasons } from '../../store/waiting-line.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({
    sections: { limits: { running: '4', running_per_user: '2', running_per_anonymous: '1' } },
  });
});
after(async () => {
  await fixture.cleanup();
});
beforeEach(async () => {
  await fixture.db.query('DELETE FROM jobs');
  await fixture.db.query('DELETE FROM dependencies');
});

let clock = 0;
const round = async () => (await runAdmissionRound(fixture.config, fixture.db)).map((job) => job.name);
const admissible = async (limits: LimitsConfig, count: number) =>
  (await admissibleJobs(fixture.db, limits, count)).map((job) => job.name);
/** Rows as a frontend inserts them, one second apart, in the order given. */
async function insert(rows: [name: string, user: string | null, state?: string][]): Promise<void> {
  for (const [name, user, state = 'INCOMING'] of rows) {
    clock++;
    await fixture.db.query(
      `INSERT INTO jobs (name, user, passwd, directory, url, state, submit_time)
       VALUES (?, ?, 'x', ?, 'http://x', ?, TIMESTAMP('2026-01-01') + INTERVAL ? SECOND)`,
      [name, user, `/nowhere/${name}`, state, clock],
    );
  }
}

const reasons = async (limits: LimitsConfig = fixture.config.limits, first = 100) =>
  Object.fromEntries((await waitingReasons(fixture.db, limits, { first })).map((job) => [job.name, job.reason]));

test('a user at their share is skipped, not a barrier; submit order holds among the rest', async () => {
  await insert([
    ['a1', 'alice'],
    ['a2', 'alice'],
    ['a3', 'alice'],
    ['a4', 'alice'],
    ['b1', 'bob'],
    ['n1', null],
    ['n2', ''],
    ['b2', 'bob'],
    ['b3', 'bob'],
  ]);
  assert.deepEqual(await admissible(fixture.config.limits, 10), ['a1', 'a2', 'b1', 'n1', 'b2']);
  assert.deepEqual(await admissible(fixture.config.limits, 3), ['a1', 'a2', 'b1']);
  assert.deepEqual(await round(), ['a1', 'a2', 'b1', 'n1']);
  assert.deepEqual(await reasons(), {
    a3: 'user alice: 2 of 2 running',
    a4: 'user alice: 2 of 2 running',
    n2: 'anonymous jobs: 1 of 1 running',
    b2: '4 of 4 running slots taken, 1st in line',
    b3: "user bob: 1 of 2 running, 2nd of bob's jobs in line",
  });
  // A slot frees: the oldest job that may go takes it, alice's third (she is below her share again).
  await fixture.db.query("UPDATE jobs SET state = 'COMPLETED' WHERE name = 'a1'");
  assert.deepEqual(await round(), ['a3']);
  assert.deepEqual(await round(), [], 'the global limit binds again');
  assert.equal((await reasons()).a4, 'user alice: 2 of 2 running');
  await fixture.db.query("UPDATE jobs SET state = 'FAILED' WHERE name IN ('a2', 'n1')");
  assert.deepEqual(await round(), ['a4', 'n2']);
  assert.deepEqual(await reasons(), {
    b2: '4 of 4 running slots taken, 1st in line',
    b3: "user bob: 1 of 2 running, 2nd of bob's jobs in line",
  });
});

test('user names compare as MySQL compares them; jobs with parents and in-flight rows of any state count', async () => {
  await insert([
    ['run1', 'Carol', 'RUNNING'],
    ['post1', 'carol', 'POSTPROCESSING'],
    ['c1', 'CAROL'],
    ['parent', 'dave'],
    ['child', 'dave'],
    ['d2', 'dave'],
  ]);
  await fixture.db.query("INSERT INTO dependencies (child, parent) VALUES ('child', 'parent')");
  assert.deepEqual(await reasons(), {
    c1: 'user CAROL: 2 of 2 running',
    parent: '2 of 4 running slots taken, 1st in line',
    child: 'waiting for parent job parent (INCOMING)',
    d2: '2 of 4 running slots taken, 2nd in line',
  });
  assert.deepEqual(await round(), ['parent', 'd2']);
  await fixture.db.query("UPDATE jobs SET state = 'FAILED' WHERE name = 'parent'");
  assert.deepEqual(await reasons(), {
    c1: 'user CAROL: 2 of 2 running',
    child: 'parent parent FAILED: resubmit or delete it',
  });
});

test('without shares the line is plain submit order; the head can be asked for alone', async () => {
  await insert([
    ['x1', 'alice'],
    ['x2', 'alice'],
    ['x3', 'alice'],
    ['x4', null],
  ]);
  const plain: LimitsConfig = { running: 4 };
  assert.deepEqual(await admissible(plain, 3), ['x1', 'x2', 'x3']);
  assert.deepEqual(await reasons(plain, 2), {
    x1: '0 of 4 running slots taken, 1st in line',
    x2: '0 of 4 running slots taken, 2nd in line',
  });
  const named = await waitingReasons(fixture.db, plain, { names: ['x4', 'nosuchjob'] });
  assert.deepEqual(
    named.map((job) => [job.name, job.position, job.reason]),
    [['x4', 4, '0 of 4 running slots taken, 4th in line']],
  );
});
