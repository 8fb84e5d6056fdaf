/**
 * Every entry point that starts a job's workflow (the submit API, the
 * frontend socket's start, reconcile) racing each other on the same jobs,
 * and reconcile racing their completion: one workflow run per job, a path
 * through the states that never goes back, no COMPLETED job touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type mysql from 'mysql2/promise';
import { createSaliflowActivities } from '../../activities/index.js';
import { startJob } from '../../activities/job-start.js';
import { jobWorkflowId } from '../../core/job-workflow-contract.js';
import { defineService, doNothing } from '../../core/index.js';
import { adminConnection, createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { installStateAudit, jobsThatLeftCompleted, readStateAudit, statePaths } from '../support/state-audit.js';
import { untilHolds } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '10' } } });
  await installStateAudit(adminConnection(), fixture.config.database.db);
});
after(async () => {
  await fixture.cleanup();
});

const JOBS = 40;
const service = defineService({ run: () => doNothing() });

test(
  'submit, socket and reconcile racing on the same jobs: one run each, nothing finished touched',
  { timeout: 300_000 },
  async () => {
    await withWorker(fixture, service, async ({ client }) => {
      const { activities, close } = createSaliflowActivities({ config: fixture.config, service, client: () => client });
      try {
        const names = Array.from({ length: JOBS }, (_, i) => `race-${i}`);
        const start = (job: string, eager = false) =>
          startJob(client, fixture.config, { job, user: null, eager }).catch((error: Error) => error);
        let racing = true;
        // Reconcile over and over, while the jobs arrive, run and complete.
        const reconciler = (async () => {
          let rounds = 0;
          while (racing || rounds < 3) {
            await activities.reconcileJobs();
            rounds++;
          }
          return rounds;
        })();
        for (const job of names) {
          await fixture.frontendDb.query(
            'INSERT INTO jobs (name, passwd, directory, url, submit_time) VALUES (?, ?, ?, ?, UTC_TIMESTAMP())',
            [job, 'pw', `${fixture.config.directories.INCOMING}/${job}`, `http://example.org/${job}`],
          );
          await fs.mkdir(`${fixture.config.directories.INCOMING}/${job}`);
          // The API and the socket at once, several times each.
          await Promise.all([start(job), start(job, true), start(job), start(job, true)]);
        }
        await untilHolds(
          'every job to be COMPLETED (jobs not COMPLETED)',
          async () => {
            const [[row]] = (await fixture.db.query<mysql.RowDataPacket[]>(
              "SELECT COUNT(*) AS n FROM jobs WHERE state <> 'COMPLETED'",
            )) as unknown as [[{ n: number }]];
            return Number(row.n);
          },
          (notCompleted) => notCompleted === 0,
          120_000,
        );
        // After completion: every entry point again, many times.
        for (let round = 0; round < 3; round++)
          await Promise.all(names.flatMap((job) => [start(job), start(job, true)]));
        racing = false;
        assert.ok((await reconciler) >= 3);

        const changes = await readStateAudit(fixture.db);
        assert.deepEqual(jobsThatLeftCompleted(changes), []);
        for (const [job, path] of statePaths(changes)) {
          assert.deepEqual(
            path,
            ['INCOMING', 'PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING', 'COMPLETED'],
            `states of ${job}`,
          );
        }
        for (const job of names) {
          const runs = [];
          for await (const run of client.workflow.list({
            query: `WorkflowId = "${jobWorkflowId(fixture.config.general.serviceName, job)}"`,
          }))
            runs.push(run);
          assert.equal(runs.length, 1, `one workflow run for ${job}`);
          assert.equal(runs[0]!.status.name, 'COMPLETED');
        }
      } finally {
        await close();
      }
    });
  },
);
