/**
 * Disaster recovery: the MySQL rows and the job directories are the record of
 * truth, so a Temporal whose database is lost is recoverable. With jobs
 * COMPLETED, FAILED, RUNNING (local and SGE runs in flight) and waiting
 * behind `[limits] running`, the Temporal server is SIGKILLed and its
 * database deleted; a fresh server starts on the same address, the worker
 * starts again, and `saliflow check --repair` starts a workflow for every
 * unfinished job. Then every unfinished job completes, each run was
 * submitted once (same runner id, one line in its runs.txt), and the
 * COMPLETED and FAILED jobs are untouched. README "Disaster recovery" is the
 * procedure this test follows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import type mysql from 'mysql2/promise';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { startPrivateStack, type PrivateStack } from '../support/private-stack.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { clusterUnderTest } from '../support/clusters.js';
import { WorkerSupervisor } from '../support/fault-harness.js';
import { jobRow, type JobRowSnapshot } from '../support/jobs.js';
import { saliflowFor } from '../support/processes.js';
import { untilHolds } from '../support/until.js';
import { portIsOpen } from '../../scripts/stack/processes.js';

const sge = await clusterUnderTest('sge');
let stack: PrivateStack;
let fixture: ServiceFixture;
let worker: WorkerSupervisor;

before(async () => {
  if (sge.skip) return;
  stack = await startPrivateStack();
  fixture = await createServiceFixture({
    stack: stack.settings,
    sections: { limits: { running: '4' }, backend: { check_minutes: '60' }, sge: sge.section },
  });
  worker = new WorkerSupervisor(fixture.configFile, 'recovery-job', stack.env);
});
after(async () => {
  if (sge.skip) return;
  await worker?.stop();
  // A failed run of this test leaves no SGE job holding the cell's slots for the tests after it.
  if (fixture) {
    const [rows] = await fixture.db.query<mysql.RowDataPacket[]>(
      "SELECT runner_id FROM jobs WHERE runner_id LIKE 'SGE:%' AND state <> 'COMPLETED'",
    );
    const ids = rows.map(({ runner_id }) => String(runner_id).slice('SGE:'.length).split('.')[0]!);
    if (ids.length > 0) await execa(sge.section.qdel!, ids, { reject: false, env: sge.env });
  }
  await fixture?.cleanup();
  await stack?.stop();
});

async function connect(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  return { client: new Client({ connection }), close: () => connection.close() };
}

const row = (job: string) => jobRow(fixture.db, job);
const untilState = (job: string, state: string, what = `job ${job} to be ${state}`) =>
  untilHolds(
    what,
    () => row(job),
    (found) => found.state === state,
    { timeoutMs: 120_000 },
  );
const untilRunning = (job: string) =>
  untilHolds(
    `job ${job} to be RUNNING with its run started`,
    async () => {
      const found = await row(job);
      const started = found.directory
        ? await fs.readFile(path.join(found.directory, 'runs.txt'), 'utf8').catch(() => '')
        : '';
      return { ...found, started };
    },
    (found) => found.state === 'RUNNING' && !!found.runner_id && found.started !== '',
    { timeoutMs: 120_000 },
  );
const release = async (job: string) => fs.writeFile(path.join((await row(job)).directory!, 'go'), '');

test(
  'a lost Temporal database: a fresh server and `saliflow check --repair` finish every unfinished job, none run twice',
  { skip: sge.skip, timeout: 600_000 },
  async () => {
    await worker.start();
    let { client, close } = await connect();
    const submit = (name: string) => submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });

    // Before the disaster: one job COMPLETED, one FAILED (its run exited 3), four running, three waiting for a slot.
    await submit('done1');
    await untilRunning('done1');
    await release('done1');
    const completed = await untilState('done1', 'COMPLETED');
    await submit('bad1');
    const failed = await untilState('bad1', 'FAILED');
    const running = ['local1', 'local2', 'sge1', 'sge2'];
    const waiting = ['wait1', 'wait2', 'wait3'];
    for (const job of running) await submit(job);
    const before = new Map<string, JobRowSnapshot>();
    for (const job of running) before.set(job, await untilRunning(job));
    for (const job of waiting) await submit(job);
    for (const job of waiting) assert.equal((await row(job)).state, 'INCOMING', `${job} waits behind the limit`);

    // The disaster: the worker and Temporal die, and Temporal's database is gone.
    await close();
    await worker.kill();
    await stack.temporal.kill();
    const { host, port } = stack.settings.temporal;
    await untilHolds(
      `port ${port} to be free after Temporal's SIGKILL`,
      () => portIsOpen(host, port),
      (open) => !open,
    );
    const dbFile = stack.settings.temporal.dbFile;
    for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) await fs.rm(file, { force: true });
    await stack.temporal.restart();
    ({ client, close } = await connect());
    const lost = await client.workflow.list({ query: `WorkflowType = 'jobWorkflow'` });
    for await (const execution of lost) assert.fail(`a fresh Temporal knows no job, yet lists ${execution.workflowId}`);

    // The procedure: start the workers, then `saliflow check --repair`.
    await worker.start();
    const repair = await saliflowFor(() => fixture.configFile)('check', '--repair');
    const repaired = `${repair.stdout}\n${repair.stderr}`;
    for (const job of [...running, ...waiting]) assert.match(repaired, new RegExp(`\\b${job}\\b`), repaired);
    assert.doesNotMatch(repaired, /\bdone1\b|\bbad1\b/, 'finished jobs need nothing');

    for (const job of running) await release(job);
    for (const job of waiting) {
      await untilRunning(job);
      await release(job);
    }
    for (const job of [...running, ...waiting]) await untilState(job, 'COMPLETED');

    for (const job of running) {
      const now = await row(job);
      assert.equal(now.runner_id, before.get(job)!.runner_id, `${job}'s run was watched, never submitted again`);
    }
    for (const job of [...running, ...waiting]) {
      const runs = await fs.readFile(path.join((await row(job)).directory!, 'runs.txt'), 'utf8');
      assert.equal(runs, 'ran\n', `${job} ran once`);
    }
    assert.deepEqual(await row('done1'), completed, 'the COMPLETED job is untouched');
    assert.deepEqual(await row('bad1'), failed, 'the FAILED job is untouched');
    await deleteSchedules(client, fixture.config).catch(() => undefined);
    await close();
  },
);
