/**
 * Nothing lost, nothing run twice: 200 jobs per scenario (local runs of about
 * a second, `[limits] running` 20) while the worker, MariaDB or the Temporal
 * server is SIGKILLed and restarted. Afterwards every job is COMPLETED, went
 * only forward through saliweb's states (never FAILED, never out of
 * COMPLETED), has one row, ran each cycle exactly once, sits in COMPLETED's
 * folder with nothing left behind, and the in-flight count never passed the
 * limit.
 *
 * The servers are a private MariaDB and Temporal dev server (free ports, a
 * temporary state folder): the shared dev stack is never killed. The worker
 * is `saliflow worker`'s own entry point in a separate process (Schedules,
 * frontend socket). Jobs arrive through `submitJob` with a frontend's
 * Temporal client that tries once (like saliweb's ping) and through a legacy
 * saliweb frontend (INSERT + `INCOMING <name>` on the socket); the reconcile
 * schedule (`check_minutes` 0.1) starts whatever a ping missed.
 *
 *   SALIFLOW_STATE_DIR=/work/main/.state node --import tsx --test test/integration/fault-suite.test.ts
 *
 * SALIFLOW_FAULT_SEED=<n> replays the fault moments of an earlier run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { startPrivateStack, type PrivateStack } from '../support/private-stack.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { installStateAudit } from '../support/state-audit.js';
import { temporalClient } from '../support/temporal.js';
import {
  IN_FLIGHT_STATES,
  jobName,
  sampleInFlight,
  seededRandom,
  stateCounts,
  submitAsLegacyFrontend,
  WorkerSupervisor,
} from '../support/fault-harness.js';
import { checkScenario, describeFindings, type Finding } from '../support/fault-checks.js';
import { until, UntilTimeoutError } from '../support/until.js';

const JOBS = 200;
const LIMIT = 20;
/** No job changed state for this long: stuck. Temporal notices a dead worker's activities within seconds. */
const STALL_MS = 60_000;
/** The most a scenario waits for its jobs after its faults, progress or not. */
const SETTLE_MS = 240_000;
/** Each scenario draws its fault moments from this seed (printed in its report). */
const SEED = Number(process.env.SALIFLOW_FAULT_SEED ?? Date.now() % 2 ** 31);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a scenario does to the system while its jobs run. */
interface ScenarioRun {
  stack: PrivateStack;
  worker: WorkerSupervisor;
  /** Submits the next `count` jobs (a quarter as a legacy frontend). */
  submit(count: number): Promise<void>;
  /**
   * Waits until `fraction` of all the scenario's jobs have finished, COMPLETED or FAILED (or nothing moves for
   * STALL_MS): a moment for a fault, whatever the verdict on those jobs.
   */
  finishedAtLeast(fraction: number): Promise<void>;
  /** A fault moment for the timeline; milliseconds in [min, max) from the seeded source. */
  between(min: number, max: number): number;
  note(event: string): Promise<void>;
}

interface Scenario {
  name: string;
  play(run: ScenarioRun): Promise<void>;
}

const scenarios: Scenario[] = [
  {
    // The control: whatever fails here is not caused by a fault.
    name: '(0) no faults',
    async play(run) {
      await run.submit(JOBS);
    },
  },
  {
    name: '(a) the worker SIGKILLed 6 times at random moments and restarted',
    async play(run) {
      const submitting = run.submit(JOBS);
      for (let kill = 1; kill <= 6; kill++) {
        await sleep(run.between(1000, 6000));
        await run.worker.kill();
        await run.note(`worker SIGKILL #${kill}`);
        await run.worker.start();
        await run.note('worker ready');
      }
      await submitting;
    },
  },
  {
    name: '(b) MariaDB SIGKILLed twice while jobs run, restarted on its data directory and port',
    async play(run) {
      await run.submit(JOBS);
      for (const fraction of [0.2, 0.6]) {
        await run.finishedAtLeast(fraction);
        await run.note('MariaDB SIGKILL');
        await run.stack.mysql.kill();
        await sleep(run.between(3000, 8000));
        await run.stack.mysql.restart();
        await run.note('MariaDB back');
      }
    },
  },
  {
    name: '(c) the Temporal server SIGKILLed while jobs run and arrive, restarted on its database file',
    async play(run) {
      await run.submit(JOBS / 2);
      await run.finishedAtLeast(0.15);
      await run.note('Temporal SIGKILL');
      await run.stack.temporal.kill();
      await run.submit(JOBS / 4); // nobody can start these now: the reconcile schedule must, later
      await run.note(`${JOBS / 4} jobs submitted while Temporal is down`);
      await sleep(run.between(5000, 10000));
      await run.stack.temporal.restart();
      await run.note('Temporal back');
      await run.submit(JOBS / 4);
    },
  },
];

let stack: PrivateStack;
before(async () => {
  stack = await startPrivateStack();
});
after(async () => {
  await stack?.stop();
});

for (const scenario of scenarios) {
  test(scenario.name, { timeout: 10 * 60_000 }, async (t) => {
    const findings = await runScenario(scenario, (line) => t.diagnostic(line));
    const counts = Object.fromEntries(findings.map((f) => [f.check, f.count]));
    const none = Object.fromEntries(findings.map((f) => [f.check, 0]));
    assert.deepEqual(counts, none, `${scenario.name}:\n${describeFindings(findings)}`);
  });
}

/** Runs `items` through `work`, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function runScenario(scenario: Scenario, report: (line: string) => void): Promise<Finding[]> {
  const fixture = await createServiceFixture({
    stack: stack.settings,
    sections: { limits: { running: String(LIMIT) }, backend: { check_minutes: '0.1' } },
  });
  await installStateAudit(fixture.admin, fixture.config.database.db);
  const observer = await temporalClient(stack.temporalAddress);
  // A frontend tries to start the workflow once and moves on, as saliweb's socket ping did.
  const frontendConnection = await Connection.connect({ address: stack.temporalAddress, interceptors: [] });
  const frontend = new Client({ connection: frontendConnection });
  const worker = new WorkerSupervisor(fixture.configFile, 'counted-runs', stack.env);
  const t0 = Date.now();
  const since = () => `+${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const timeline: string[] = [];
  const jobs: string[] = [];
  const submitted = { submitJob: 0, notStarted: 0, legacy: 0 };
  const random = seededRandom(SEED);
  const sampler = sampleInFlight(fixture, LIMIT);
  try {
    await worker.start();
    let nextIndex = 0;
    const run: ScenarioRun = {
      stack,
      worker,
      between: random.between,
      async submit(count) {
        const indices = Array.from({ length: count }, (_, i) => nextIndex + i);
        nextIndex += count;
        await inParallel(indices, 4, async (index) => {
          const name = jobName(index);
          if (index % 4 === 1) {
            await submitAsLegacyFrontend(fixture, name);
            submitted.legacy++;
          } else {
            const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client: frontend, name });
            assert.equal(job.name, name, 'job names are unique, so submitJob keeps them');
            submitted.submitJob++;
            if (!job.started) submitted.notStarted++;
          }
          jobs.push(name);
        });
      },
      async finishedAtLeast(fraction) {
        await progressOrStall(fixture, async () => {
          const counts = await stateCounts(fixture.db);
          return (counts.COMPLETED ?? 0) + (counts.FAILED ?? 0) >= fraction * JOBS;
        });
      },
      async note(event) {
        const counts = await stateCounts(fixture.db).catch(() => undefined);
        const inFlight = IN_FLIGHT_STATES.reduce((sum, state) => sum + (counts?.[state] ?? 0), 0);
        timeline.push(
          `${since()} ${event}` +
            (counts
              ? ` (${counts.COMPLETED ?? 0} COMPLETED, ${counts.FAILED ?? 0} FAILED, ${inFlight} in flight)`
              : ' (database unreachable)'),
        );
      },
    };

    await scenario.play(run);
    const faultsDone = Date.now();
    await run.note(`faults over, ${jobs.length} jobs submitted`);
    // Settled: every row COMPLETED or FAILED (nothing moves a job on from either) and no job workflow open.
    const settled = await progressOrStall(
      fixture,
      async () => (await unfinishedRows(fixture)) === 0 && (await openJobWorkflows(observer.client, fixture)) === 0,
    );
    await run.note(settled ? 'settled: no job in progress, no job workflow open' : 'gave up waiting for the jobs');
    const settleSeconds = (Date.now() - faultsDone) / 1000;
    const outcome = await describeOutcome(observer.client, fixture);
    await worker.stop();
    const samples = await sampler.stop();
    const findings = await checkScenario({ fixture, client: observer.client, jobs, samples });

    report(
      `seed ${random.seed}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all, ${settleSeconds.toFixed(0)} s after the faults`,
    );
    for (const line of timeline) report(line);
    report(
      `submitted ${jobs.length}: ${submitted.submitJob} by submitJob (${submitted.notStarted} not started: Temporal down), ` +
        `${submitted.legacy} by a legacy frontend`,
    );
    report(
      `in flight: peak ${samples.peak} (limit ${LIMIT}); ${samples.samples} samples, longest gap ${samples.maxGapMs} ms, ` +
        `${samples.failed} failed (database down)`,
    );
    report(`worker: ${worker.kills} SIGKILLs by the test, ${worker.unexpectedExits.length} exits of its own`);
    for (const exit of worker.unexpectedExits.slice(0, 3)) report(`  worker exit: ${exit}`);
    report(`admin e-mails: ${fixture.smtp.messages.length}`);
    for (const line of outcome) report(line);
    for (const line of describeFindings(findings).split('\n')) report(line);
    return findings;
  } finally {
    await worker.stop();
    await sampler.stop();
    await deleteSchedules(observer.client, fixture.config).catch(() => undefined);
    await observer.close();
    await frontendConnection.close();
    await fixture.cleanup();
  }
}

/**
 * Polls `done` until it holds (true), or until no job changed state for
 * STALL_MS or `limitMs` passed (false). Polls that fail (a server down) just
 * count as "not yet".
 */
async function progressOrStall(fixture: ServiceFixture, done: () => Promise<boolean>, limitMs = SETTLE_MS) {
  let marker = -1;
  let lastMove = Date.now();
  return until(
    'the jobs to settle',
    async () => {
      if (await done().catch(() => false)) return true;
      const [[row]] = (await fixture.db
        .query('SELECT COALESCE(MAX(id), 0) AS id FROM job_state_audit')
        .catch(() => [[{ id: marker }]])) as unknown as [[{ id: number }]];
      if (Number(row.id) !== marker) [marker, lastMove] = [Number(row.id), Date.now()];
      return Date.now() - lastMove >= STALL_MS ? false : undefined;
    },
    { timeoutMs: limitMs, everyMs: 250 },
  ).catch((error: Error) => {
    if (error instanceof UntilTimeoutError) return false;
    throw error;
  });
}

const openJobWorkflowsQuery = (fixture: ServiceFixture) =>
  `WorkflowType = "jobWorkflow" AND ExecutionStatus = "Running" AND JobService = "${fixture.config.general.serviceName}"`;

async function openJobWorkflows(client: Client, fixture: ServiceFixture): Promise<number> {
  return (await client.workflow.count(openJobWorkflowsQuery(fixture))).count;
}

async function unfinishedRows(fixture: ServiceFixture): Promise<number> {
  const [[row]] = (await fixture.db.query(
    "SELECT COUNT(*) AS n FROM jobs WHERE state NOT IN ('COMPLETED', 'FAILED')",
  )) as unknown as [[{ n: number }]];
  return Number(row.n);
}

/**
 * Jobs per state, why jobs failed (grouped), and a few job workflows still
 * open with their pending activities: what to look at when a check fails.
 */
async function describeOutcome(client: Client, fixture: ServiceFixture): Promise<string[]> {
  const lines = [`jobs per state: ${JSON.stringify(await stateCounts(fixture.db))}`];
  const [failed] = await fixture.db.query<mysql.RowDataPacket[]>(
    "SELECT name, failure FROM jobs WHERE state = 'FAILED'",
  );
  const reasons = new Map<string, number>();
  for (const row of failed) {
    const reason = String(row.failure ?? '(none)')
      .split('\n')[0]!
      .replaceAll(String(row.name), '<job>');
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  for (const [reason, count] of reasons) lines.push(`  ${count} FAILED with: ${reason}`);
  let shown = 0;
  for await (const workflow of client.workflow.list({ query: openJobWorkflowsQuery(fixture) })) {
    if (shown++ === 0) lines.push(`job workflows still open: ${await openJobWorkflows(client, fixture)}, e.g.`);
    if (shown > 5) break;
    const job = workflow.workflowId.split('/').at(-1)!;
    const [[row]] = (await fixture.db.query('SELECT state FROM jobs WHERE name = ?', [job])) as unknown as [
      [{ state: string } | undefined],
    ];
    const description = await client.workflow.getHandle(workflow.workflowId).describe();
    const pending = (description.raw.pendingActivities ?? []).map(
      (activity) =>
        `${activity.activityType?.name} attempt ${activity.attempt}` +
        (activity.lastFailure?.message ? ` (${activity.lastFailure.message.split('\n')[0]})` : ''),
    );
    lines.push(
      `  ${job} (row ${row?.state ?? 'missing'}): ${pending.length ? `pending ${pending.join('; ')}` : 'no pending activity'}`,
    );
  }
  return lines;
}
