/**
 * Why a job waits stays true while it waits, at a cost bounded by the head
 * of the line: the admitter's sweep tells the first jobs in line (here 2)
 * their new reason when it changes, and a job further back is told once a
 * reason that stays true and is not signalled again. A slot freed by the
 * CLI is handed out at once, not at the next sweep, and the children of a
 * job that fails or is deleted are told at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import type { Client } from '@temporalio/client';
import { defineService, localCommand } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { coarseReason } from '../../engine/admission.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { until } from '../support/until.js';
import { saliflowFor } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '1' } } });
});
after(async () => {
  await fixture.cleanup();
});

const service = defineService({ run: () => localCommand(['sleep', '60']) });

const saliflow = saliflowFor(() => fixture.configFile);

async function stateOf(job: string): Promise<string | undefined> {
  const [rows] = (await fixture.db.query('SELECT state FROM jobs WHERE name = ?', [job])) as unknown as [
    { state: string }[],
  ];
  return rows[0]?.state;
}

/** Until the job's workflow says (jobStatus, as the Web UI's current details) it waits for `reason`. */
const says = (client: Client, job: string, reason: string) =>
  until(`${job} to say "${reason}"`, async () => {
    const answer = await queryJobStatus(client, fixture.config, job);
    return 'status' in answer && answer.status.waiting === reason ? true : undefined;
  });

const historyLength = async (client: Client, job: string) =>
  (await client.workflow.getHandle(`${fixture.config.general.serviceName}/${job}`).fetchHistory()).events?.length ?? 0;

test('the head of the line is told when its reason changes; jobs further back are told once', async () => {
  let sweeps = 0;
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const submit = (name: string) => submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
      await submit('busy');
      await until('busy to run', async () => ((await stateOf('busy')) === 'RUNNING' ? true : undefined));
      for (const name of ['w1', 'w2', 'w3', 'w4']) await submit(name);
      await says(client, 'w1', '1 of 1 running slots taken, 1st in line');
      await says(client, 'w2', '1 of 1 running slots taken, 2nd in line');
      await says(client, 'w3', coarseReason(2));
      await says(client, 'w4', coarseReason(2));
      const w4Events = await historyLength(client, 'w4');

      // w1 leaves the line: w2 and w3 move up, and the sweep tells them so.
      const failed = await saliflow('failjob', 'w1', '--reason', 'not needed', '--no-email');
      assert.equal(failed.exitCode, 0, failed.stderr);
      await says(client, 'w2', '1 of 1 running slots taken, 1st in line');
      await says(client, 'w3', '1 of 1 running slots taken, 2nd in line');
      const listed = await saliflow('list', '--json', 'incoming');
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { name: string; waiting: string }[]).map((job) => [job.name, job.waiting]),
        [
          ['w2', '1 of 1 running slots taken, 1st in line'],
          ['w3', '1 of 1 running slots taken, 2nd in line'],
          ['w4', '1 of 1 running slots taken, 3rd in line'],
        ],
        '`list` computes every reason now',
      );
      // Several sweeps later, the job further back still has its true coarse reason and no new events.
      const swept = sweeps;
      await until('three more sweeps', async () => (sweeps >= swept + 3 ? true : undefined));
      await says(client, 'w4', coarseReason(2));
      assert.equal(await historyLength(client, 'w4'), w4Events, 'no signal to a job outside the head of the line');
      await saliflow('delete-all-jobs', '--force');
    },
    { admission: { sweepMs: 300, refreshFirst: 2, onSweep: () => void sweeps++ } },
  );
});

test('a slot freed by delete goes to the next job at once, not at the next sweep; its children are released', async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const submit = (name: string) => submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
      await submit('first');
      await until('first to run', async () => ((await stateOf('first')) === 'RUNNING' ? true : undefined));
      await submit('next');
      await says(client, 'next', '1 of 1 running slots taken, 1st in line');
      await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'kid', parents: ['first'] });
      await says(client, 'kid', 'waiting for parent job first (RUNNING)');
      const deleted = await saliflow('delete', 'first', '--state', 'RUNNING', '--force');
      assert.equal(deleted.exitCode, 0, deleted.stderr);
      assert.match(deleted.stdout, /deleted first \(RUNNING\): workflow stopped, row deleted/);
      // saliweb: deleting a parent releases its children (issue 29), so kid is in line beside next now.
      assert.match(
        deleted.stdout,
        /\n {2}jobs waiting for it are released \(they start once their other parents are done\): kid/,
      );
      const winner = /\n {2}the freed slot went to (next|kid)\b/.exec(deleted.stdout)?.[1];
      assert.ok(winner, deleted.stdout);
      // The worker's sweep is 10 minutes away: only the command's own round can have admitted it.
      await until(`${winner} to run`, async () => ((await stateOf(winner)) === 'RUNNING' ? true : undefined));
      // The other waits in line, kid without its dependency row.
      assert.equal(await stateOf(winner === 'next' ? 'kid' : 'next'), 'INCOMING');
      const [rows] = await fixture.db.query<mysql.RowDataPacket[]>("SELECT * FROM dependencies WHERE child = 'kid'");
      assert.deepEqual(rows, [], "kid's dependency on the deleted parent is gone");
      await saliflow('delete-all-jobs', '--force');
    },
    { admission: { sweepMs: 600_000 } },
  );
});
