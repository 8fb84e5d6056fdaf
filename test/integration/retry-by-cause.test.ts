/**
 * Retries by typed run cause (the service's `retryOn`), end to end through
 * a worker, on the fake SGE and SLURM (test/support/fake-scheduler/), which
 * enforce `h_vmem`/`--mem` (a script's memory use is what it writes to
 * `fake-memory-use`) and `h_rt`/`--time` as the real daemons would: memory
 * doubles up to its cap, walltime grows from the observed wall time, an
 * exit code is never retried unless declared, and the budgets and resources
 * show in the failure text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, sgeScript, slurmScript, type RetryOn, type Service } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { createFakeScheduler, type FakeScheduler } from '../support/fake-scheduler.js';
import { readCycleRecord } from '../../engine/run-cycle-record.js';
import { until } from '../support/until.js';
import { spawnWorkerProcess } from '../support/processes.js';
import memoryRetryJob from '../support/services/memory-retry-job.js';
import { clusterUnderTest } from '../support/clusters.js';
import { formatJobDetails, showJob } from '../../client/show-job.js';

const MiB = 1024 ** 2;

for (const kind of ['sge', 'slurm'] as const) {
  describe(`retry by cause on the fake ${kind.toUpperCase()}`, () => {
    let fake: FakeScheduler;
    let fixture: ServiceFixture;
    const script = kind === 'sge' ? sgeScript : slurmScript;
    const scriptFile = kind === 'sge' ? 'sge-script.sh' : 'slurm-script.sh';
    const memoryOption = (mib: number) => (kind === 'sge' ? `-l h_vmem=${mib}M` : `--mem=${mib}M`);
    // SGE takes h_rt in seconds; SLURM's --time M:SS.
    const timeOption = (seconds: number) => (kind === 'sge' ? `-l h_rt=${seconds}` : `--time=0:${seconds}`);

    before(async () => {
      fake = await createFakeScheduler();
      const section = kind === 'sge' ? fake.sgeSection : fake.slurmSection;
      fixture = await createServiceFixture({ sections: { [kind]: { ...section, poll_seconds: '0.2' } } });
    });
    after(async () => {
      await fixture?.cleanup();
      await fake?.cleanup();
    });

    async function runJob(service: Service, name: string, detailsWhileRunning?: RegExp) {
      return withWorker(fixture, service, async ({ client }) => {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
        const details = detailsWhileRunning
          ? await until(`Web UI details matching ${detailsWhileRunning}`, async () => {
              const metadata = (await client.workflow
                .getHandle(job.workflowId)
                .query('__temporal_workflow_metadata')) as { currentDetails?: string };
              return detailsWhileRunning.test(metadata.currentDetails ?? '') ? metadata.currentDetails : undefined;
            })
          : undefined;
        const outcome = await workflowOutcome(client, job.workflowId);
        const row = await jobRow(fixture.db, job.name);
        const shown = formatJobDetails(
          await showJob({ config: fixture.config, db: fixture.db, client, job: job.name }),
        );
        return { job, outcome, row, record: await readCycleRecord(row.directory!), shown, details };
      });
    }

    const submissionsNamed = async (prefix: string) =>
      (await fake.jobs()).filter((job) => job.name.startsWith(prefix)).length;

    test('a memory kill is rerun with twice the memory until it fits; the service sees one cycle', async () => {
      const retryOn: RetryOn = { memory_exceeded: { attempts: 3, factor: 2, cap: '1G' } };
      const service = defineService({
        retryOn,
        // Needs 300 MiB; asks for 100 MiB: killed at 100, then 200, fits in 400.
        run: () => script(`echo ${300 * MiB} > fake-memory-use\nsleep 3`, { options: memoryOption(100) }),
        postprocess: async (job) => fs.writeFile(job.path('cycle.txt'), String(job.cycle)),
      });
      const name = `${kind}-memory`;
      // The last run (400 MiB) lasts 3 s: the Web UI says it is the second retry, and why.
      const { outcome, row, record, shown, details } = await runJob(
        service,
        name,
        /retries: memory_exceeded 2\/3 \(last run with memory 400 MiB\), after memory_exceeded/,
      );
      assert.match(details ?? '', /^RUNNING \(cycle 3, on (sge|slurm):\d+; retries: /);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assert.equal(await submissionsNamed(name), 3, 'the first run and two retries');
      assert.match(
        shown,
        /retries +memory_exceeded 2 \(last run with memory 400 MiB\); the last retry followed memory_exceeded \((peak|wall) /,
      );
      assert.deepEqual(record?.retry?.byCause, { memory_exceeded: 2 });
      assert.equal(record?.retry?.resources?.memoryBytes, 400 * MiB);
      assert.match(record?.retry?.after ?? '', /^memory_exceeded/);
      const submitted = await fs.readFile(path.join(row.directory!, scriptFile), 'utf8');
      assert.match(submitted, kind === 'sge' ? /-l h_vmem=400M/ : /--mem=400M/);
      assert.equal(await fs.readFile(path.join(row.directory!, 'cycle.txt'), 'utf8'), '1');
    });

    test('memory stops growing at the cap, and the failure says why and what was tried', async () => {
      const service = defineService({
        retryOn: { memory_exceeded: { attempts: 3, cap: '250M' } },
        run: () => script(`echo ${300 * MiB} > fake-memory-use\nsleep 2`, { options: memoryOption(100) }),
      });
      const name = `${kind}-memcap`;
      const { row } = await runJob(service, name);
      assert.equal(row.state, 'FAILED');
      assert.equal(await submissionsNamed(name), 3, '100 MiB, 200 MiB, then the cap of 250 MiB');
      assert.match(row.failure ?? '', /^RunDiedError: job \S+: run cause memory_exceeded/);
      assert.match(row.failure ?? '', /not retried: memory 250 MiB is already at its cap \(250M\)/);
      assert.match(row.failure ?? '', /retries: memory_exceeded 2\/3 \(last run with memory 250 MiB\)/);
    });

    test('a walltime kill is rerun with more time, sized from the wall time it used', async () => {
      const service = defineService({
        retryOn: { walltime_exceeded: { attempts: 2, cap: '1h' } },
        run: () => script('sleep 2.5', { options: timeOption(1) }),
      });
      const name = `${kind}-walltime`;
      const { outcome, row, record } = await runJob(service, name);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      const runs = await submissionsNamed(name);
      assert.ok(runs >= 2 && runs <= 3, `completed within 2 retries (${runs} runs)`);
      assert.equal(record?.retry?.byCause.walltime_exceeded, runs - 1);
      assert.ok((record?.retry?.resources?.wallclockSeconds ?? 0) >= 2, 'at least twice the first limit');
      assert.match(
        await fs.readFile(path.join(row.directory!, scriptFile), 'utf8'),
        kind === 'sge' ? /h_rt=\d+/ : /--time=\d\d:\d\d:\d\d/,
      );
    });

    test('the retry budget is kept in the job directory: a worker SIGKILLed after a retry does not reset it', async () => {
      const child = spawnWorkerProcess(fixture.configFile, 'memory-retry-job', { SALIFLOW_TEST_CLUSTER: kind });
      const { client, close } = await temporalClient();
      try {
        const name = `${kind}-budget`;
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
        // Killed once the first retry is recorded (and may be submitted): mid-budget.
        const directory = path.join(fixture.root, 'running', job.name);
        await until(
          `a retry recorded in ${directory}`,
          async () =>
            (await readCycleRecord(directory).catch(() => undefined))?.retry?.total === 1 ? true : undefined,
          { everyMs: 50 },
        );
        child.kill('SIGKILL');
        assert.equal((await child).signal, 'SIGKILL');
        process.env.SALIFLOW_TEST_CLUSTER = kind;
        const outcome = await withWorker(fixture, memoryRetryJob, () => workflowOutcome(client, job.workflowId));
        assert.match(outcome.failure ?? '', /FAILED|memory_exceeded/);
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.state, 'FAILED');
        // 100, 200 and 400 MiB: two retries in all, not two more after the restart.
        assert.equal(await submissionsNamed(name), 3);
        assert.match(row.failure ?? '', /not retried: its 2 retries on memory_exceeded are used/);
        assert.match(row.failure ?? '', /retries: memory_exceeded 2\/2 \(last run with memory 400 MiB\)/);
      } finally {
        child.kill('SIGKILL');
        await close();
      }
    });

    test('an exit code is not retried unless the service declares it', async () => {
      const service = defineService({
        retryOn: {
          memory_exceeded: { attempts: 3 },
          walltime_exceeded: { attempts: 3 },
          node_failure: { attempts: 3 },
        },
        run: () => script('exit 3'),
      });
      const name = `${kind}-exit`;
      const { row, record } = await runJob(service, name);
      assert.equal(row.state, 'FAILED');
      assert.equal(await submissionsNamed(name), 1);
      assert.equal(record?.retry, undefined);
      assert.match(row.failure ?? '', /run cause exit_code\(3\)/);
      assert.match(row.failure ?? '', /not retried: the service declares no retry on exit_code/);
    });
  });
}

/**
 * On the real single-node SGE and SLURM (skipped when they are down): a run
 * killed for walltime is typed so and rerun with twice its wall time, and
 * completes. Memory kills cannot be made here: SGE's h_vmem is a ulimit the
 * program sees as a failed allocation (exit 1, `failed 0`, maxvmem 0: typed
 * exit_code, see test/unit/run-cause.test.ts), and the SLURM has no cgroup
 * or accounting gatherer to enforce --mem; the fake scheduler covers them.
 */
for (const kind of ['sge', 'slurm'] as const) {
  describe(`retry by cause on the real ${kind.toUpperCase()}`, async () => {
    const cluster = await clusterUnderTest(kind);
    let fixture: ServiceFixture | undefined;
    after(async () => {
      await fixture?.cleanup();
    });

    test(
      'a walltime kill is rerun with doubled walltime and completes',
      // SLURM enforces whole minutes and kills about a minute after the limit.
      { skip: cluster.skip, timeout: 400_000 },
      async () => {
        fixture = await createServiceFixture({ sections: { [kind]: cluster.section } });
        const service = defineService({
          retryOn: { walltime_exceeded: { attempts: 2, cap: '1h' } },
          run: () =>
            kind === 'sge'
              ? sgeScript('sleep 4\necho ran >> runs.txt', { options: '-l h_rt=2' })
              : slurmScript('sleep 100\necho ran >> runs.txt', { options: '--time=0:02' }),
        });
        const outcome = await withWorker(fixture, service, async ({ client }) => {
          const job = await submitJob({
            config: fixture!.config,
            db: fixture!.frontendDb,
            client,
            name: `${kind}-real-walltime`,
          });
          return { ...(await workflowOutcome(client, job.workflowId)), name: job.name };
        });
        assert.equal(outcome.result, 'COMPLETED', outcome.failure);
        const row = await jobRow(fixture.db, outcome.name);
        const record = await readCycleRecord(row.directory!);
        assert.deepEqual(record?.retry?.byCause, { walltime_exceeded: 1 }, 'one retry was enough');
        assert.match(record?.retry?.after ?? '', /^walltime_exceeded \(.*wall \d+ s/);
        const first = kind === 'sge' ? 2 : 60;
        assert.ok((record?.retry?.resources?.wallclockSeconds ?? 0) >= 2 * first, JSON.stringify(record?.retry));
        assert.equal(
          await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8'),
          'ran\n',
          'only the retry finished',
        );
      },
    );
  });
}
