/**
 * With 50 jobs waiting on the cluster at once, the scheduler's status
 * command runs once per poll interval, not once per job.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineService, sgeScript, slurmScript } from '../../core/index.js';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { cancelJob } from '../../client/admin.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { clusterUnderTest, type ClusterKind } from '../support/clusters.js';
import { countingCommand } from '../support/counting-command.js';
import { untilHolds } from '../support/until.js';
import type mysql from 'mysql2/promise';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const JOBS = 50;
const POLL_SECONDS = 1;
const WINDOW_MS = 6000;

for (const kind of ['sge', 'slurm'] as ClusterKind[]) {
  describe(`${kind.toUpperCase()} status queries`, async () => {
    const cluster = await clusterUnderTest(kind, POLL_SECONDS);
    let fixture: ServiceFixture | undefined;
    after(async () => {
      await fixture?.cleanup();
    });

    test(
      `${JOBS} jobs on the cluster cost one status query per interval`,
      { skip: cluster.skip, timeout: 240_000 },
      async (t) => {
        const statusKey = kind === 'sge' ? 'qstat' : 'squeue';
        const counter = await countingCommand(
          await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-count-')),
          cluster.section[statusKey]!,
        );
        fixture = await createServiceFixture({
          sections: {
            limits: { running: String(JOBS + 10) },
            [kind]: { ...cluster.section, [statusKey]: counter.path },
          },
        });
        const script = kind === 'sge' ? sgeScript : slurmScript;
        const service = defineService({ run: () => script('sleep 600') });
        const db = fixture.db;
        const runningWithId = async () => {
          const [[row]] = (await db.query<mysql.RowDataPacket[]>(
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'RUNNING' AND runner_id IS NOT NULL",
          )) as unknown as [[{ n: number }]];
          return row.n;
        };
        await withWorker(
          fixture,
          service,
          async ({ client }) => {
            const jobs: SubmittedJob[] = [];
            for (let i = 0; i < JOBS; i++) {
              jobs.push(
                await submitJob({
                  config: fixture!.config,
                  db: fixture!.frontendDb,
                  client,
                  name: `${kind}-many-${i}`,
                }),
              );
            }
            try {
              await untilHolds(
                `all ${JOBS} jobs to reach the cluster (jobs there)`,
                runningWithId,
                (count) => count >= JOBS,
                { timeoutMs: 120_000, everyMs: 200 },
              );
              const start = Date.now();
              await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
              const calls = (await counter.calls()).filter((at) => at >= start && at < start + WINDOW_MS).length;
              const intervals = WINDOW_MS / (POLL_SECONDS * 1000);
              t.diagnostic(
                `${calls} ${statusKey} calls in ${WINDOW_MS} ms (${intervals} intervals) with ${JOBS} jobs on the cluster`,
              );
              // One query per interval (plus slack for the interval boundaries and the query's own duration).
              assert.ok(calls >= intervals / 2, `polling goes on: ${calls} calls in ${WINDOW_MS} ms`);
              assert.ok(
                calls <= intervals + 2,
                `${calls} ${statusKey} calls in ${WINDOW_MS} ms with ${JOBS} jobs waiting`,
              );
            } finally {
              await Promise.all(
                jobs.map((job) =>
                  cancelJob({ config: fixture!.config, db: fixture!.db, client, job: job.name }).catch(() => undefined),
                ),
              );
              await Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
            }
          },
          {},
        );
      },
    );
  });
}
