/**
 * Draining a worker before its host reboots (`saliflow drain`): with local
 * runs in flight on that host, the worker takes no new work (new jobs run
 * on the other worker), keeps watching its local runs until they end, hands
 * their ends to the other worker, reports itself empty and exits 0.
 * Nothing fails and nothing runs twice: MySQL's triggers record every
 * state change, and each run appends to `runs.txt`. With an SGE run in
 * flight, the draining worker exits at once and the other one takes over
 * the wait (a cluster run is not tied to a host).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';
import { spawnWorkerProcess, WORKER_READY } from '../support/processes.js';
import { assertEachStateOnce, installStateAudit, readStateAudit } from '../support/state-audit.js';
import { clusterUnderTest } from '../support/clusters.js';
import { jobRow } from '../support/jobs.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '10' } } });
  await installStateAudit(fixture.admin, fixture.config.database.db);
});
after(async () => {
  await fixture.cleanup();
});

/** A `saliflow worker` process as host `host` (its own local-run queue and frontend socket). */
async function startWorker(host: string, of: ServiceFixture = fixture, service = 'go-file-job') {
  const child = spawnWorkerProcess(
    of.configFile,
    service,
    { SALIFLOW_HOST_ID: host, SALIFLOW_SOCKET: path.join(of.root, `${host}.socket`) },
    { asSaliflowWorker: true },
  );
  const worker = { child, output: '' };
  child.stdout?.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (worker.output += chunk.toString()));
  await until(`the worker on ${host} to poll`, async () => {
    if (child.exitCode !== null) throw new Error(`the worker exited: ${worker.output.slice(-2000)}`);
    return WORKER_READY.test(worker.output) ? true : undefined;
  });
  return worker;
}

/** `saliflow drain --worker PID@hosta`, as the operator on host A types it. */
function drainCommand(of: ServiceFixture, pid: number) {
  return execa(
    'node',
    [path.join(REPO_ROOT, 'bin/saliflow.js'), 'drain', '--worker', `${pid}@hosta`, '--config', of.configFile],
    { env: { SALIFLOW_CONFIG: '', SALIFLOW_HOST_ID: 'hosta' }, reject: false },
  );
}

async function rows(names: readonly string[]) {
  const [found] = (await fixture.db.query('SELECT name, state, runner_id, directory FROM jobs WHERE name IN (?)', [
    names,
  ])) as unknown as [{ name: string; state: string; runner_id: string | null; directory: string }[]];
  return found;
}

test(
  'drain with local runs in flight: no new work taken, the runs finish, nothing fails or runs twice',
  {
    timeout: 300_000,
  },
  async (t) => {
    const { client, close } = await temporalClient();
    const a = await startWorker('hosta');
    let b: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const submit = (name: string, go: boolean) =>
        submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, files: go ? { go: '' } : {} });
      // Local runs on host A that wait for the test's `go`.
      const held: SubmittedJob[] = [];
      for (let i = 0; i < 3; i++) held.push(await submit(`held${i}`, false));
      const heldNames = held.map((job) => job.name);
      await until('the held jobs to run on host A', async () => {
        const found = await rows(heldNames);
        return found.length === 3 &&
          found.every((row) => row.state === 'RUNNING' && /@hosta$/.test(row.runner_id ?? ''))
          ? true
          : undefined;
      });
      b = await startWorker('hostb');

      const drainAt = Date.now();
      const drain = drainCommand(fixture, a.child.pid!);
      await until('worker A to wait for its local runs', async () =>
        /draining: waiting for 3 local run\(s\)/.test(a.output) ? true : undefined,
      );

      // New work goes to B while A drains.
      const later: Pick<SubmittedJob, 'name' | 'workflowId'>[] = [];
      for (let i = 0; i < 3; i++) later.push(await submit(`later${i}`, true));
      // A frontend that still announces its jobs on A's socket: A starts the workflow, B runs it.
      const announced = 'socket0';
      const directory = path.join(fixture.root, 'incoming', announced);
      await fs.mkdir(directory);
      await fs.writeFile(path.join(directory, 'go'), '');
      await fixture.frontendDb.query(
        "INSERT INTO jobs (name, passwd, directory, url, submit_time) VALUES (?, 'abcdefghij', ?, 'http://x/', UTC_TIMESTAMP())",
        [announced, directory],
      );
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(path.join(fixture.root, 'hosta.socket'), () =>
          socket.end(`INCOMING ${announced}\n`, () => resolve()),
        );
        socket.on('error', reject);
      });
      const announcedId = `${fixture.config.general.serviceName}/${announced}`;
      await until('the announced job to have its workflow', () =>
        client.workflow
          .getHandle(announcedId)
          .describe()
          .then(
            () => true,
            () => undefined,
          ),
      );
      later.push({ name: announced, workflowId: announcedId });
      const laterOutcomes = await Promise.all(later.map((job) => workflowOutcome(client, job.workflowId)));
      assert.deepEqual(
        laterOutcomes.map((outcome) => outcome.result ?? outcome.failure),
        later.map(() => 'COMPLETED'),
      );
      const [laterRuns] = (await fixture.db.query(
        "SELECT COUNT(*) AS n FROM jobs WHERE name LIKE 'later%' AND runner_id LIKE '%@hostb'",
      )) as unknown as [[{ n: number }]];
      const [socketRuns] = (await fixture.db.query(
        "SELECT COUNT(*) AS n FROM jobs WHERE name = 'socket0' AND runner_id LIKE '%@hostb'",
      )) as unknown as [[{ n: number }]];
      assert.equal(Number(laterRuns[0].n) + Number(socketRuns[0].n), 4, 'the jobs submitted during the drain ran on B');
      assert.equal(a.child.exitCode, null, 'A waits while its local runs go on');
      assert.equal(drain.exitCode, null, '`saliflow drain` waits for A');
      assert.deepEqual(
        (await rows(heldNames)).map((row) => row.state),
        ['RUNNING', 'RUNNING', 'RUNNING'],
      );

      // While it waits, the command says so, counting what it waits for.
      let drainOutput = '';
      drain.stdout?.on('data', (chunk: Buffer) => (drainOutput += chunk.toString()));
      await until('`saliflow drain` to say it still waits', async () =>
        /still draining after \d+ s: 3 local run\(s\) of this host still RUNNING/.test(drainOutput) ? true : undefined,
      );

      const goAt = Date.now();
      for (const row of await rows(heldNames)) await fs.writeFile(path.join(row.directory, 'go'), '');
      const exited = await a.child;
      // Recorded, not asserted.
      t.diagnostic(
        `drain asked -> exited: ${Date.now() - drainAt} ms; local runs released -> exited: ${Date.now() - goAt} ms`,
      );
      assert.equal(exited.exitCode, 0, a.output.slice(-2000));
      assert.match(a.output, /drained: no work left on this worker/);
      const drained = await drain;
      assert.equal(drained.exitCode, 0, drained.stderr);
      assert.match(drained.stdout, /worker \d+@hosta drained and exited/);

      const all = [...held, ...later];
      const outcomes = await Promise.all(all.map((job) => workflowOutcome(client, job.workflowId)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome.result ?? outcome.failure),
        all.map(() => 'COMPLETED'),
      );
      assertEachStateOnce(await readStateAudit(fixture.db));
      for (const job of all) {
        const runs = await fs.readFile(path.join(fixture.root, 'completed', job.name, 'runs.txt'), 'utf8');
        assert.equal(runs, 'ran\n', `${job.name} ran once`);
      }
    } finally {
      for (const worker of [a, b]) {
        if (worker && worker.child.exitCode === null) worker.child.kill('SIGTERM');
        if (worker) await worker.child;
      }
      await close();
    }
  },
);

const sge = await clusterUnderTest('sge');

test(
  'drain with an SGE run in flight: the worker exits, the other one takes over the wait; submitted once, run once',
  { skip: sge.skip, timeout: 300_000 },
  async (t) => {
    const clustered = await createServiceFixture({ sections: { sge: sge.section, limits: { running: '10' } } });
    await installStateAudit(clustered.admin, clustered.config.database.db);
    const { client, close } = await temporalClient();
    const a = await startWorker('hosta', clustered, 'go-file-cluster-job');
    let b: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const job = await submitJob({ config: clustered.config, db: clustered.frontendDb, client, name: 'onsge' });
      const running = await until('the SGE run to start', async () => {
        const row = await jobRow(clustered.db, job.name);
        if (row.state !== 'RUNNING' || !/^SGE:\d+$/.test(row.runner_id ?? '')) return undefined;
        const started = await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8').catch(() => '');
        return started === 'ran\n' ? row : undefined;
      });
      b = await startWorker('hostb', clustered, 'go-file-cluster-job');

      const drainAt = Date.now();
      const drain = await drainCommand(clustered, a.child.pid!);
      assert.equal(drain.exitCode, 0, drain.stderr);
      const exited = await a.child;
      t.diagnostic(`drain asked -> A exited: ${Date.now() - drainAt} ms, its SGE run still going`);
      assert.equal(exited.exitCode, 0, a.output.slice(-2000));
      assert.match(a.output, /drained: no work left on this worker/);
      assert.equal((await jobRow(clustered.db, job.name)).state, 'RUNNING', 'the run goes on without A');

      await fs.writeFile(path.join(running.directory!, 'go'), '');
      const outcome = await workflowOutcome(client, job.workflowId);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assertEachStateOnce(await readStateAudit(clustered.db));
      const runs = await fs.readFile(path.join(clustered.root, 'completed', job.name, 'runs.txt'), 'utf8');
      assert.equal(runs, 'ran\n', 'ran once');
      // The run's SGE name (saliflow's exactly-once name for this cycle), then every SGE job ever given it.
      const qacct = (key: string) => execa(sge.section.qacct!, ['-j', key], { env: sge.env, reject: false });
      const sgeName = await until('qacct to know the run', async () => {
        const result = await qacct(running.runner_id!.replace(/^SGE:/, ''));
        return /^jobname\s+(\S+)/m.exec(result.stdout)?.[1];
      });
      assert.equal((await qacct(sgeName)).stdout.match(/^jobnumber\s/gm)?.length, 1, `one SGE job named ${sgeName}`);
    } finally {
      for (const worker of [a, b]) {
        if (worker && worker.child.exitCode === null) worker.child.kill('SIGTERM');
        if (worker) await worker.child;
      }
      await close();
      await clustered.cleanup();
    }
  },
);
