/**
 * Per-user fairness across two worker processes: `[limits] running` 4,
 * `running_per_user` 2, `running_per_anonymous` 1. Alice submits first and
 * most; her jobs beyond her share are skipped, not a barrier, so Bob's and
 * anonymous jobs behind them start; each waiting job says why. One worker
 * is SIGKILLed and restarted halfway. MySQL's own triggers record every
 * state change: replayed in commit order, they prove that no limit was ever
 * exceeded and that every job ran and completed exactly once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { spawnWorkerProcess, WORKER_READY } from '../support/processes.js';
import { assertEachStateOnce, installStateAudit, readStateAudit } from '../support/state-audit.js';
import { until } from '../support/until.js';

const LIMIT = 4;
const PER_USER = 2;
const PER_ANONYMOUS = 1;

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({
    sections: {
      limits: {
        running: String(LIMIT),
        running_per_user: String(PER_USER),
        running_per_anonymous: String(PER_ANONYMOUS),
      },
    },
  });
  await installStateAudit(fixture.admin, fixture.config.database.db);
});
after(async () => {
  await fixture.cleanup();
});

/** A bare worker process for the go-file service (its run waits for a file `go` in the job directory). */
async function startWorker() {
  const child = spawnWorkerProcess(fixture.configFile, 'go-file-job');
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until('a worker to poll', async () => {
    if (child.exitCode !== null) throw new Error(`the worker exited: ${String((await child).stderr).slice(-2000)}`);
    return WORKER_READY.test(output) ? true : undefined;
  });
  // Wrapped: a subprocess is a promise, and returning it from an async function would wait for its exit.
  return { child };
}

async function inFlight(): Promise<string[]> {
  const [rows] = (await fixture.db.query(
    "SELECT name FROM jobs WHERE state IN ('PREPROCESSING','RUNNING','POSTPROCESSING','FINALIZING') ORDER BY name",
  )) as unknown as [{ name: string }[]];
  return rows.map((row) => row.name);
}

test(
  'two users and anonymous jobs on two workers: no limit is ever exceeded, a user at their share does not hold up others',
  { timeout: 300_000 },
  async () => {
    const { client, close } = await temporalClient();
    let workers = [await startWorker(), await startWorker()];
    try {
      // The first two jobs of Alice and of Bob wait for the test's `go` (every limit binds); the others run through.
      const held = new Set(['alice0', 'alice1', 'bob0', 'bob1']);
      const submit = (name: string, user: string | null) =>
        submitJob({
          config: fixture.config,
          db: fixture.frontendDb,
          client,
          name,
          user,
          files: held.has(name) ? {} : { go: '' },
        });
      const jobs: SubmittedJob[] = [];
      for (let i = 0; i < 10; i++) jobs.push(await submit(`alice${i}`, 'alice'));
      for (let i = 0; i < 10; i++) jobs.push(await submit(`bob${i}`, 'bob'));
      // Names sort in submit order too: jobs submitted in the same second are ordered by name.
      for (let i = 0; i < 4; i++) jobs.push(await submit(`public${i}`, null));
      assert.deepEqual(
        jobs.map((job) => job.name),
        [...Array(10).keys()]
          .map((i) => `alice${i}`)
          .concat(
            [...Array(10).keys()].map((i) => `bob${i}`),
            [...Array(4).keys()].map((i) => `public${i}`),
          ),
      );

      // Alice's third job is skipped for her share; Bob's first two, submitted after all of hers, take the other slots.
      await until('alice0, alice1, bob0 and bob1 to hold the slots', async () =>
        (await inFlight()).join() === 'alice0,alice1,bob0,bob1' ? true : undefined,
      );
      const listed = await execa(
        'node',
        [path.join(REPO_ROOT, 'bin/saliflow.js'), 'list', '--json', 'incoming', '--config', fixture.configFile],
        { env: { SALIFLOW_CONFIG: '' } },
      );
      const reasons = Object.fromEntries(
        (JSON.parse(listed.stdout) as { name: string; waiting: string }[]).map((job) => [job.name, job.waiting]),
      );
      assert.equal(reasons.alice2, 'user alice: 2 of 2 running');
      assert.equal(reasons.alice9, 'user alice: 2 of 2 running');
      assert.equal(reasons.bob2, 'user bob: 2 of 2 running');
      assert.equal(reasons.public0, '4 of 4 running slots taken, 1st in line');
      assert.equal(reasons.public1, 'anonymous jobs: 0 of 1 running, 2nd anonymous job in line');
      // The workflow of a job at the head of the line was told the same, for the Web UI.
      await until('alice2 to say why it waits', async () => {
        const answer = await queryJobStatus(client, fixture.config, 'alice2');
        return 'status' in answer && answer.status.waiting === 'user alice: 2 of 2 running' ? true : undefined;
      });

      for (const name of held) await fs.writeFile(path.join(fixture.root, 'running', name, 'go'), '');
      // Halfway, one worker dies and comes back: the rows are the slots, so nothing leaks or doubles.
      await until('half of the jobs to complete', async () => {
        const [[row]] = (await fixture.db.query(
          "SELECT COUNT(*) AS n FROM jobs WHERE state = 'COMPLETED'",
        )) as unknown as [[{ n: number }]];
        return row.n >= jobs.length / 2 ? true : undefined;
      });
      workers[0]!.child.kill('SIGKILL');
      await workers[0]!.child;
      workers = [await startWorker(), workers[1]!];

      const outcomes = await Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome.result ?? outcome.failure),
        jobs.map(() => 'COMPLETED'),
      );

      const changes = await readStateAudit(fixture.db);
      const [users] = (await fixture.db.query('SELECT name, user FROM jobs')) as unknown as [
        { name: string; user: string | null }[],
      ];
      const userOf = new Map(users.map((row) => [row.name, row.user ?? '']));
      const IN_FLIGHT = new Set(['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING']);
      const holding = new Map<string, number>();
      const peaks = new Map<string, number>();
      let total = 0;
      let peak = 0;
      for (const change of changes) {
        const who = userOf.get(change.job) ?? '?';
        const delta =
          Number(IN_FLIGHT.has(change.to ?? '')) - Number(change.from !== null && IN_FLIGHT.has(change.from));
        if (delta === 0) continue;
        total += delta;
        holding.set(who, (holding.get(who) ?? 0) + delta);
        peak = Math.max(peak, total);
        peaks.set(who, Math.max(peaks.get(who) ?? 0, holding.get(who)!));
      }
      assert.equal(peak, LIMIT, `[limits] running ${LIMIT} was reached and never exceeded`);
      assert.deepEqual(
        Object.fromEntries(peaks),
        { alice: PER_USER, bob: PER_USER, '': PER_ANONYMOUS },
        'each share was reached and never exceeded',
      );
      assertEachStateOnce(changes);
      for (const job of jobs) {
        const runs = await fs.readFile(path.join(fixture.root, 'completed', job.name, 'runs.txt'), 'utf8');
        assert.equal(runs, 'ran\n', `${job.name} ran once`);
      }
    } finally {
      for (const { child } of workers) child.kill('SIGTERM');
      await Promise.all(workers.map(({ child }) => child));
      await close();
    }
  },
);
