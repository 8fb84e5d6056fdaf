/**
 * `saliflow pause` during a burst: from the moment the command returns no
 * job is admitted on any worker, the jobs in flight go on to COMPLETED,
 * arriving jobs wait with the pause as their reason (`list`, `show`, and
 * the workflow's own account, which the Web UI shows), `status` says so,
 * and the pause holds across a worker's SIGKILL and restart. After
 * `saliflow resume` every job runs, once. MySQL's triggers record every
 * state change, so "nothing admitted while paused" is read from the rows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { pauseReason, readServiceControl } from '../../store/service-control.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';
import { WORKER_READY, saliflowFor, spawnWorkerProcess } from '../support/processes.js';
import { assertEachStateOnce, installStateAudit, readStateAudit } from '../support/state-audit.js';

const LIMIT = 3;

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: String(LIMIT) } } });
  await installStateAudit(fixture.admin, fixture.config.database.db);
});
after(async () => {
  await fixture.cleanup();
});

const saliflow = saliflowFor(() => fixture.configFile);

async function startWorker() {
  const child = spawnWorkerProcess(fixture.configFile, 'go-file-job');
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await until('a worker to poll', async () => {
    if (child.exitCode !== null) throw new Error(`the worker exited: ${String((await child).stderr).slice(-2000)}`);
    return WORKER_READY.test(output) ? true : undefined;
  });
  return { child };
}

async function states(names: readonly string[]): Promise<Map<string, string>> {
  const [rows] = (await fixture.db.query('SELECT name, state FROM jobs WHERE name IN (?)', [names])) as unknown as [
    { name: string; state: string }[],
  ];
  return new Map(rows.map((row) => [row.name, row.state]));
}

test(
  'a pause during a burst: nothing admitted while paused, across a SIGKILL; everything runs once after resume',
  {
    timeout: 300_000,
  },
  async (t) => {
    const { client, close } = await temporalClient();
    let worker = await startWorker();
    try {
      const submit = (name: string, go: boolean) =>
        submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, files: go ? { go: '' } : {} });
      // Two jobs hold slots until the test drops their `go`; the third slot stays free, so only the pause holds the burst.
      const held = [await submit('held0', false), await submit('held1', false)];
      await until('the held jobs to run', async () =>
        [...(await states(['held0', 'held1'])).values()].every((state) => state === 'RUNNING') ? true : undefined,
      );

      const paused = await saliflow('pause', '--reason', 'disk maintenance');
      assert.equal(paused.exitCode, 0, paused.stderr);
      const { pause } = await readServiceControl(fixture.db, fixture.config);
      assert.ok(pause, 'the pause is recorded in MySQL');
      const reason = pauseReason(pause);
      assert.match(reason, /^service paused by \S+@\S+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: disk maintenance$/);
      assert.match(paused.stdout, /service paused by .*: disk maintenance/);
      const auditAtPause = (await readStateAudit(fixture.db)).length;

      const burst: SubmittedJob[] = [];
      for (let i = 0; i < 12; i++) burst.push(await submit(`burst${String(i).padStart(2, '0')}`, true));
      const names = burst.map((job) => job.name);
      // Each arriving job asked for admission and was told the pause (what the Web UI's details show).
      for (const name of [names[0]!, names.at(-1)!]) {
        await until(`${name} to say the service is paused`, async () => {
          const answer = await queryJobStatus(client, fixture.config, name);
          return 'status' in answer && answer.status.waiting === reason ? true : undefined;
        });
      }
      const listed = JSON.parse((await saliflow('list', '--json', 'incoming')).stdout) as {
        name: string;
        waiting: string;
      }[];
      assert.deepEqual(
        listed.map((job) => [job.name, job.waiting]),
        names.map((name) => [name, reason]),
      );
      const shown = await saliflow('show', names[5]!);
      assert.match(shown.stdout, new RegExp(`waiting\\s+${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const status = await saliflow('status');
      assert.match(status.stdout, /\n {2}Admission {2}PAUSED: service paused by .*: disk maintenance/);

      // Running jobs go on while paused.
      for (const job of held) await fs.writeFile(path.join(fixture.root, 'running', job.name, 'go'), '');
      await Promise.all(held.map((job) => workflowOutcome(client, job.workflowId)));

      // The worker dies and comes back: the pause is in MySQL, so the new worker admits nothing either.
      worker.child.kill('SIGKILL');
      await worker.child;
      worker = await startWorker();
      const late = await submit('late', true);
      await until('the new worker to tell the late job of the pause', async () => {
        const answer = await queryJobStatus(client, fixture.config, late.name);
        return 'status' in answer && answer.status.waiting === reason ? true : undefined;
      });
      const waiting = await states([...names, late.name]);
      assert.deepEqual([...new Set(waiting.values())], ['INCOMING'], 'no job was admitted while paused');
      const admittedWhilePaused = (await readStateAudit(fixture.db))
        .slice(auditAtPause)
        .filter((change) => change.to === 'PREPROCESSING');
      assert.deepEqual(admittedWhilePaused, [], 'no row entered PREPROCESSING while paused');

      const resumedAt = Date.now();
      const resumed = await saliflow('resume');
      assert.equal(resumed.exitCode, 0, resumed.stderr);
      assert.match(resumed.stdout, /resumed/);
      assert.equal((await readServiceControl(fixture.db, fixture.config)).pause, undefined);
      assert.doesNotMatch((await saliflow('status')).stdout, /PAUSED/);

      const all = [...held, ...burst, late];
      const outcomes = await Promise.all(all.map((job) => workflowOutcome(client, job.workflowId)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome.result ?? outcome.failure),
        all.map(() => 'COMPLETED'),
      );
      const changes = await readStateAudit(fixture.db);
      // Recorded, not asserted: how long `resume` took to get the line moving (includes the command's start-up).
      const firstAdmitted = changes.find((change) => change.to === 'PREPROCESSING' && change.atMs > resumedAt);
      if (firstAdmitted) t.diagnostic(`resume -> first job admitted: ${Math.round(firstAdmitted.atMs - resumedAt)} ms`);
      assertEachStateOnce(changes);
      for (const job of all) {
        const runs = await fs.readFile(path.join(fixture.root, 'completed', job.name, 'runs.txt'), 'utf8');
        assert.equal(runs, 'ran\n', `${job.name} ran once`);
      }
    } finally {
      worker.child.kill('SIGTERM');
      await worker.child;
      await close();
    }
  },
);
