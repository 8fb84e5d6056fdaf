/**
 * A scheduler whose status query fails for many intervals in a row (the
 * fake SGE's qstat failing, the fake SLURM's squeue printing garbage):
 * no job moves, one warning is raised (log, metric, `saliflow status`),
 * and the recovery is reported when the query answers again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineService, sgeScript, slurmScript } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { formatServiceStatus, serviceStatus } from '../../client/service-status.js';
import { readStatusOutages } from '../../store/status-outages.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { createFakeScheduler, type FakeScheduler } from '../support/fake-scheduler.js';
import { until } from '../support/until.js';
import { formatJobDetails, showJob } from '../../client/show-job.js';
import { cancelJob } from '../../client/admin.js';

for (const [kind, query, mode] of [
  ['sge', 'qstat', 'fail'],
  ['slurm', 'squeue', 'garbage'],
] as const) {
  describe(`status-query outage on the fake ${kind.toUpperCase()}`, () => {
    let fake: FakeScheduler;
    let fixture: ServiceFixture;
    before(async () => {
      fake = await createFakeScheduler();
      const section = kind === 'sge' ? fake.sgeSection : fake.slurmSection;
      fixture = await createServiceFixture({ sections: { [kind]: { ...section, poll_seconds: '0.1' } } });
    });
    after(async () => {
      await fixture?.cleanup();
      await fake?.cleanup();
    });

    test('20 failed intervals move no job; one outage line, then its recovery', async () => {
      const script = kind === 'sge' ? sgeScript : slurmScript;
      const service = defineService({ run: () => script('sleep 1\necho ran > out.txt') });
      await withWorker(fixture, service, async ({ client }) => {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `${kind}-outage` });
        await until(
          'the job is on the cluster',
          async () => (await jobRow(fixture.db, job.name)).runner_id ?? undefined,
        );
        await fake.fault(query, mode);
        const before = await fake.calls(query);
        await until('20 failed status queries', async () =>
          (await fake.calls(query)) - before >= 20 ? true : undefined,
        );
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.state, 'RUNNING', 'the run ended meanwhile, but nobody could tell: the job stays');
        const outages = await until('the outage is recorded', async () => {
          const found = await readStatusOutages(fixture.db);
          return found.length > 0 ? found : undefined;
        });
        assert.equal(outages.length, 1, 'one outage for the one worker');
        assert.equal(outages[0]!.recoveredAt, null);
        const status = formatServiceStatus(await serviceStatus({ config: fixture.config, db: fixture.db, client }));
        assert.match(
          status,
          new RegExp(`Scheduler  ${kind.toUpperCase()} status queries FAILING since \\S+ \\(\\d+\\+ in a row`),
        );
        await fake.clearFaults();
        const outcome = await workflowOutcome(client, job.workflowId);
        assert.equal(outcome.result, 'COMPLETED', outcome.failure);
        const [recovered] = await until('the recovery is recorded', async () => {
          const found = await readStatusOutages(fixture.db);
          return found[0]?.recoveredAt ? found : undefined;
        });
        assert.equal(recovered!.since.getTime(), outages[0]!.since.getTime(), 'the same outage, ended');
        const after = formatServiceStatus(await serviceStatus({ config: fixture.config, db: fixture.db, client }));
        assert.match(after, new RegExp(`Scheduler  ${kind.toUpperCase()} status queries recovered at `));
        assert.doesNotMatch(after, /FAILING/);
      });
    });

    test('a run the scheduler lost shows "unknown since …, last evidence …" in show and the Web UI details', async () => {
      const script = kind === 'sge' ? sgeScript : slurmScript;
      const service = defineService({ run: () => script('sleep 60') });
      await withWorker(fixture, service, async ({ client }) => {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `${kind}-lost` });
        const runnerId = await until(
          'the job is on the cluster',
          async () => (await jobRow(fixture.db, job.name)).runner_id ?? undefined,
        );
        await fake.lose(runnerId.split(':')[1]!.split(/[._]/)[0]!);
        const shown = await until('show says the run is unknown', async () => {
          const text = formatJobDetails(
            await showJob({ config: fixture.config, db: fixture.db, client, job: job.name }),
          );
          return /status unknown: .*unknown since \d{4}-/.test(text) ? text : undefined;
        });
        assert.match(shown, /now +RUNNING, cycle 1, run (sge|slurm):\S+, status unknown: /);
        const metadata = (await client.workflow.getHandle(job.workflowId).query('__temporal_workflow_metadata')) as {
          currentDetails?: string;
        };
        assert.match(metadata.currentDetails ?? '', /^RUNNING \(cycle 1, on \S+\): status unknown: .*unknown since /);
        assert.equal((await jobRow(fixture.db, job.name)).state, 'RUNNING', 'waited out, not failed');
        await cancelJob({ config: fixture.config, db: fixture.db, client, job: job.name });
        await workflowOutcome(client, job.workflowId);
      });
    });
  });
}
