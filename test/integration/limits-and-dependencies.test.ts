/**
 * `[limits] running` holds across the service however many jobs arrive, in
 * submit order, and a child job waits for its parents to complete.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { defineService, localCommand } from '../../core/index.js';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { deleteJob } from '../../client/job-operations.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '2' } } });
});
after(async () => {
  await fixture.cleanup();
});

const service = defineService({
  // Waits until the test drops a file `go` into the job directory (or 20 s pass).
  run: () => localCommand('for i in $(seq 200); do [ -e go ] && break; sleep 0.1; done; sleep 0.3'),
});

/** The database's UTC_TIMESTAMP(), which stamps submit_time, read as jobRow reads that column. */
async function databaseNow(): Promise<number> {
  const [[row]] = (await fixture.db.query<mysql.RowDataPacket[]>('SELECT UTC_TIMESTAMP() AS now')) as unknown as [
    [{ now: Date }],
  ];
  return row.now.getTime();
}

async function inFlight(): Promise<number> {
  const [[row]] = (await fixture.db.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM jobs WHERE state IN ('PREPROCESSING','RUNNING','POSTPROCESSING','FINALIZING')",
  )) as unknown as [[{ n: number }]];
  return row.n;
}

test('no more than [limits] running jobs are in flight, and they start in submit order', async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const jobs: SubmittedJob[] = [];
      for (let i = 0; i < 6; i++) {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `capped${i}` });
        jobs.push(job);
        // submit_time has whole seconds: the next job is submitted once the database's clock has left this one's.
        const submitted = (await jobRow(fixture.db, job.name)).submit_time.getTime();
        await until(
          `a submit_time later than ${job.name}'s`,
          async () => ((await databaseNow()) > submitted ? true : undefined),
          { everyMs: 50 },
        );
      }
      let peak = 0;
      const done = Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
      let finished = false;
      void done.then(() => (finished = true));
      // Release the jobs one by one, watching the in-flight count all along.
      for (const job of jobs) {
        await until(
          `${job.name} to run`,
          async () => {
            peak = Math.max(peak, await inFlight());
            return (await jobRow(fixture.db, job.name)).state === 'RUNNING' ? true : undefined;
          },
          { timeoutMs: 120_000, everyMs: 50 },
        );
        await fs.writeFile(goFile(job), '');
      }
      await until(
        'every job to finish',
        async () => {
          peak = Math.max(peak, await inFlight());
          return finished ? true : undefined;
        },
        { timeoutMs: 120_000, everyMs: 50 },
      );
      const outcomes = await done;
      assert.deepEqual(
        outcomes.map((outcome) => outcome.result),
        jobs.map(() => 'COMPLETED'),
      );
      assert.equal(peak, 2, 'the cap was reached and never exceeded');
      const starts = await Promise.all(
        jobs.map(async (job) => (await jobRow(fixture.db, job.name)).preprocess_time!.getTime()),
      );
      assert.deepEqual(
        [...starts].sort((a, b) => a - b),
        starts,
        'admitted in submit order',
      );
    },
    {},
  );
});

function goFile(job: SubmittedJob): string {
  return path.join(fixture.root, 'running', job.name, 'go');
}

test('a child job waits for its parents to complete; the parents’ dependency rows are then removed', async () => {
  let sweeps = 0;
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const parent = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'parent' });
      const child = await submitJob({
        config: fixture.config,
        db: fixture.frontendDb,
        client,
        name: 'child',
        parents: [parent.name],
      });
      await fs.writeFile(path.join(fixture.root, 'incoming', child.name, 'go'), '');
      await until(
        'the parent to run',
        async () => ((await jobRow(fixture.db, parent.name)).state === 'RUNNING' ? true : undefined),
        { everyMs: 50 },
      );
      // The admitter's rounds are what could start the child: two whole sweeps after the parent started.
      const swept = sweeps;
      await until('two admission sweeps', async () => (sweeps >= swept + 2 ? true : undefined));
      assert.equal((await jobRow(fixture.db, child.name)).state, 'INCOMING', 'the child waits while the parent runs');
      await fs.writeFile(path.join(fixture.root, 'running', parent.name, 'go'), '');
      assert.equal((await workflowOutcome(client, child.workflowId)).result, 'COMPLETED');
      const parentRow = await jobRow(fixture.db, parent.name);
      const childRow = await jobRow(fixture.db, child.name);
      assert.ok(childRow.preprocess_time! >= parentRow.end_time!, 'the child started after the parent completed');
      const [rows] = await fixture.db.query<mysql.RowDataPacket[]>('SELECT * FROM dependencies WHERE parent = ?', [
        parent.name,
      ]);
      assert.equal(rows.length, 0);
    },
    { admission: { sweepMs: 300, onSweep: () => void sweeps++ } },
  );
});

test('a waiting child costs nothing while it waits, says why, and starts when its parent completes', async () => {
  let sweeps = 0;
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const parent = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'slowparent' });
      const child = await submitJob({
        config: fixture.config,
        db: fixture.frontendDb,
        client,
        name: 'patientchild',
        parents: [parent.name],
      });
      const handle = client.workflow.getHandle(child.workflowId);
      const status = await until(
        'the child to say it waits for its parent',
        async () => {
          const seen: { state: string; waiting?: string } = await handle.query('jobStatus');
          return seen.waiting?.includes('waiting for parent') ? seen : undefined;
        },
        20_000,
      );
      assert.match(status.waiting!, new RegExp(`waiting for parent job ${parent.name} \\((PREPROCESSING|RUNNING)\\)`));
      const events = async () => (await handle.fetchHistory()).events?.length ?? 0;
      const waitingEvents = await events();
      // The admitter's sweeps are what could touch a waiting job: two of them, and its history has not grown.
      const swept = sweeps;
      await until('two admission sweeps', async () => (sweeps >= swept + 2 ? true : undefined));
      assert.equal(await events(), waitingEvents, 'no polling: the history of a waiting job does not grow');
      assert.equal((await jobRow(fixture.db, child.name)).state, 'INCOMING');
      await fs.writeFile(path.join(fixture.root, 'incoming', child.name, 'go'), '');
      await fs.writeFile(path.join(fixture.root, 'running', parent.name, 'go'), '');
      assert.equal((await workflowOutcome(client, child.workflowId)).result, 'COMPLETED');
    },
    { admission: { sweepMs: 1000, onSweep: () => void sweeps++ } },
  );
});

test('deleting a parent releases its children: a child waiting on a deleted parent starts when its other parents are done', async () => {
  let sweeps = 0;
  const failing = defineService({
    run: (job) => {
      if (job.name.startsWith('doomed')) throw new Error('doomed to fail');
      return service.run!(job);
    },
  });
  await withWorker(
    fixture,
    failing,
    async ({ client }) => {
      const submit = (name: string, parents?: string[]) =>
        submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, ...(parents ? { parents } : {}) });
      const keeper = await submit('keeper');
      const doomed = await submit('doomed');
      const child = await submit('released', [keeper.name, doomed.name]);
      await fs.writeFile(path.join(fixture.root, 'incoming', child.name, 'go'), '');
      assert.match((await workflowOutcome(client, doomed.workflowId)).failure ?? '', /doomed to fail/);
      const outcome = await deleteJob({
        config: fixture.config,
        pool: fixture.db,
        client,
        job: doomed.name,
        state: 'FAILED',
      });
      // saliweb's deljob removes every dependencies row naming the job, as parent or child.
      assert.deepEqual(outcome.children, [child.name]);
      const [left] = await fixture.db.query<mysql.RowDataPacket[]>(
        'SELECT child, parent FROM dependencies WHERE child = ? OR parent = ? OR child = ?',
        [doomed.name, doomed.name, child.name],
      );
      assert.deepEqual(
        left.map((row) => ({ ...row })),
        [{ child: child.name, parent: keeper.name }],
      );
      // Its other parent still runs: two admission sweeps later the child still waits.
      const swept = sweeps;
      await until('two admission sweeps', async () => (sweeps >= swept + 2 ? true : undefined));
      assert.equal((await jobRow(fixture.db, child.name)).state, 'INCOMING');
      await until(
        'the keeper to run',
        async () => ((await jobRow(fixture.db, keeper.name)).state === 'RUNNING' ? true : undefined),
        { everyMs: 50 },
      );
      await fs.writeFile(path.join(fixture.root, 'running', keeper.name, 'go'), '');
      assert.equal((await workflowOutcome(client, child.workflowId)).result, 'COMPLETED');
    },
    { admission: { sweepMs: 300, onSweep: () => void sweeps++ } },
  );
});
