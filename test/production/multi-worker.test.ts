/**
 * saliflow on the production-like topology (npm run production: Temporal
 * v1.32 on PostgreSQL, one process per service, mutual TLS), with two
 * `saliflow worker` processes as two hosts sharing one config file
 * (SALIFLOW_HOST_ID host-a and host-b, SALIFLOW_SOCKET its own socket):
 *
 * - jobs arriving every way (submitJob, a legacy frontend's ping, a bare
 *   INSERT only the reconcile Schedule finds), some waiting for parents,
 *   under `[limits] running`, all complete exactly once on both hosts;
 * - one worker SIGKILLed while the other carries on, then the history and
 *   matching processes each SIGKILLed and restarted, then the first worker
 *   back (its startup check must not mistake the other host's moves for
 *   strays): nothing lost, nothing run twice (the fault suite's checks).
 *
 *   SALIFLOW_STATE_DIR=/work/main/.state node --import tsx --test test/production/multi-worker.test.ts
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { jobWorkflowId } from '../../core/job-workflow-contract.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { checkScenario, describeFindings } from '../support/fault-checks.js';
import {
  jobName,
  sampleInFlight,
  stateCounts,
  submitAsLegacyFrontend,
  WorkerSupervisor,
} from '../support/fault-harness.js';
import { clientFor, productionCluster, type ProductionCluster } from '../support/production-cluster.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { firstEntered, installStateAudit, readStateAudit } from '../support/state-audit.js';
import { randomToken } from '../../client/job-names.js';

const LIMIT = 6;
/** No job changed state for this long: stuck. */
const STALL_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: ProductionCluster;
before(async () => {
  cluster = await productionCluster();
});

/** Polls `done` until it holds (true), or until no job changed state for STALL_MS (false); failed polls count as "not yet". */
async function progressOrStall(fixture: ServiceFixture, done: () => Promise<boolean>): Promise<boolean> {
  let marker = -1;
  let lastMove = Date.now();
  while (Date.now() - lastMove < STALL_MS) {
    if (await done().catch(() => false)) return true;
    const [[row]] = (await fixture.db
      .query('SELECT COALESCE(MAX(id), 0) AS id FROM job_state_audit')
      .catch(() => [[{ id: marker }]])) as unknown as [[{ id: number }]];
    if (Number(row.id) !== marker) [marker, lastMove] = [Number(row.id), Date.now()];
    await sleep(250);
  }
  return false;
}

const finished = async (fixture: ServiceFixture) => {
  const counts = await stateCounts(fixture.db);
  return (counts.COMPLETED ?? 0) + (counts.FAILED ?? 0);
};

/** Every row COMPLETED or FAILED and no job workflow of the service open. */
async function settled(fixture: ServiceFixture, client: Client, jobs: number): Promise<boolean> {
  if ((await finished(fixture)) < jobs) return false;
  const query = `WorkflowType = "jobWorkflow" AND ExecutionStatus = "Running" AND JobService = "${fixture.config.general.serviceName}"`;
  return (await client.workflow.count(query)).count === 0;
}

/** A row and a directory, as a frontend leaves them, and no ping: only the reconcile Schedule will start it. */
async function insertWithoutPing(fixture: ServiceFixture, name: string): Promise<void> {
  const directory = path.join(fixture.config.directories.INCOMING, name);
  await fs.mkdir(directory);
  const passwd = randomToken(10);
  await fixture.frontendDb.query(
    'INSERT INTO jobs (name, passwd, user, contact_email, directory, url, submit_time) VALUES (?, ?, NULL, NULL, ?, ?, UTC_TIMESTAMP())',
    [name, passwd, directory, `${fixture.config.general.urltop}/job/${name}?passwd=${passwd}`],
  );
}

/** The hosts (SALIFLOW_HOST_ID) whose workers started any activity of these jobs. */
async function workerHosts(client: Client, fixture: ServiceFixture, jobs: readonly string[]): Promise<Set<string>> {
  const hosts = new Set<string>();
  for (const job of jobs) {
    const history = await client.workflow
      .getHandle(jobWorkflowId(fixture.config.general.serviceName, job))
      .fetchHistory();
    for (const event of history.events ?? []) {
      // Steps run as local activities inside workflow tasks; runs end by the watcher's signal.
      const identity =
        event.workflowTaskStartedEventAttributes?.identity ?? event.activityTaskStartedEventAttributes?.identity;
      if (identity) hosts.add(identity.split('@').at(-1)!);
    }
  }
  return hosts;
}

interface Run {
  fixture: ServiceFixture;
  client: Client;
  workers: { a: WorkerSupervisor; b: WorkerSupervisor };
  report(line: string): void;
}

/** A service on the cluster, its two worker hosts, the in-flight sampler; cleaned up whatever happens. */
async function withTwoHosts(report: (line: string) => void, body: (run: Run) => Promise<string[]>): Promise<void> {
  const fixture = await createServiceFixture({
    stack: cluster.stack(),
    sections: {
      temporal: cluster.temporalSection(),
      limits: { running: String(LIMIT) },
      backend: { check_minutes: '0.1' },
    },
  });
  await installStateAudit(fixture.admin, fixture.config.database.db);
  const { client, close } = await clientFor(fixture.config);
  const workers = {
    a: new WorkerSupervisor(fixture.configFile, 'counted-runs', { SALIFLOW_HOST_ID: 'host-a' }),
    // One config file for both hosts, as on a shared filesystem; a Unix socket belongs to one host.
    b: new WorkerSupervisor(fixture.configFile, 'counted-runs', {
      SALIFLOW_HOST_ID: 'host-b',
      SALIFLOW_SOCKET: path.join(fixture.root, 'backend-host-b.socket'),
    }),
  };
  const sampler = sampleInFlight(fixture, LIMIT);
  try {
    await Promise.all([workers.a.start(), workers.b.start()]);
    const jobs = await body({ fixture, client, workers, report });
    const done = await progressOrStall(fixture, () => settled(fixture, client, jobs.length));
    report(`${done ? 'settled' : 'stalled'}: ${JSON.stringify(await stateCounts(fixture.db))}`);
    await Promise.all([workers.a.stop(), workers.b.stop()]);
    const samples = await sampler.stop();
    report(`in flight: peak ${samples.peak} (limit ${LIMIT}) in ${samples.samples} samples`);
    for (const [host, worker] of Object.entries(workers)) {
      report(`worker ${host}: ${worker.kills} SIGKILLs by the test, ${worker.unexpectedExits.length} exits of its own`);
    }
    const findings = await checkScenario({ fixture, client, jobs, samples });
    const counts = Object.fromEntries(findings.map((f) => [f.check, f.count]));
    assert.deepEqual(counts, Object.fromEntries(findings.map((f) => [f.check, 0])), describeFindings(findings));
    assert.equal(samples.peak, LIMIT, 'the limit was reached (and, above, never passed)');
    const hosts = await workerHosts(client, fixture, jobs);
    assert.deepEqual(
      [...hosts].sort(),
      ['host-a', 'host-b'],
      "both hosts ran the jobs' workflow tasks (and so their steps)",
    );
  } finally {
    await Promise.all([workers.a.stop(), workers.b.stop()]);
    await sampler.stop();
    await deleteSchedules(client, fixture.config).catch(() => undefined);
    await close();
    await fixture.cleanup();
  }
}

test(
  'two worker hosts: every way in, parents and the limit, each job completed exactly once',
  { timeout: 8 * 60_000 },
  async (t) => {
    await withTwoHosts(
      (line) => t.diagnostic(line),
      async ({ fixture, client }) => {
        const jobs: string[] = [];
        const children = new Map<string, string>();
        for (let index = 0; index < 32; index++) {
          const name = jobName(index);
          if (index % 4 === 1) await submitAsLegacyFrontend(fixture, name);
          else if (index % 8 === 2) await insertWithoutPing(fixture, name);
          else {
            // Every sixth job waits for the one before it.
            const parents = index % 6 === 5 ? [jobs.at(-1)!] : [];
            if (parents.length) children.set(name, parents[0]!);
            await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, parents });
          }
          jobs.push(name);
        }
        await progressOrStall(fixture, async () => (await finished(fixture)) >= jobs.length);
        const changes = await readStateAudit(fixture.db);
        const [started, completed] = [firstEntered(changes, 'PREPROCESSING'), firstEntered(changes, 'COMPLETED')];
        for (const [child, parent] of children) {
          assert.ok(
            started.get(child)! >= completed.get(parent)!,
            `${child} started ${started.get(child)} before its parent ${parent} completed ${completed.get(parent)}`,
          );
        }
        return jobs;
      },
    );
  },
);

test(
  'a worker SIGKILLed while the other carries on; history and matching SIGKILLed and restarted',
  { timeout: 10 * 60_000 },
  async (t) => {
    const JOBS = 36;
    await withTwoHosts(
      (line) => t.diagnostic(line),
      async ({ fixture, client, workers, report }) => {
        const t0 = Date.now();
        const note = async (event: string) =>
          report(
            `+${((Date.now() - t0) / 1000).toFixed(1)} s ${event}: ${JSON.stringify(await stateCounts(fixture.db))}`,
          );
        const jobs: string[] = [];
        for (let index = 0; index < JOBS; index++) {
          const name = jobName(index);
          if (index % 4 === 1) await submitAsLegacyFrontend(fixture, name);
          else await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
          jobs.push(name);
        }
        const atLeast = (count: number) => progressOrStall(fixture, async () => (await finished(fixture)) >= count);

        assert.ok(await atLeast(JOBS * 0.15), 'jobs finish before any fault');
        await workers.a.kill();
        const whenKilled = await finished(fixture);
        await note('worker host-a SIGKILLed');
        assert.ok(await atLeast(whenKilled + 8), 'host-b carries on while host-a is down');
        await note('host-b finished 8 more jobs alone');

        for (const service of ['history', 'matching'] as const) {
          const before = cluster.pid(service);
          await cluster.kill(service);
          await note(`temporal ${service} (pid ${before}) SIGKILLed`);
          await sleep(3000);
          await cluster.restart(service);
          await note(`temporal ${service} restarted (pid ${cluster.pid(service)})`);
          assert.ok(await atLeast((await finished(fixture)) + 4), `jobs finish again after ${service} restarted`);
        }
        // host-a's own local runs are waited for on host-a: it comes back, as a service manager would bring it.
        await workers.a.start();
        await note('worker host-a back');
        return jobs;
      },
    );
  },
);
