/**
 * Exactly-once submission: a worker killed with SIGKILL right after
 * qsub/sbatch returned, before the id was recorded, leaves one cluster job;
 * the retry on another worker finds it instead of submitting again.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import service from '../support/services/cluster-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { clusterUnderTest, schedulerCommand, schedulerStillHas, type ClusterKind } from '../support/clusters.js';
import { readJobStateFile } from '../../engine/runners/job-state-file.js';
import { readRecord, writeRecord } from '../../engine/runners/submission-record.js';
import { createSgeRunner } from '../../engine/runners/sge.js';
import { createSlurmRunner } from '../../engine/runners/slurm.js';
import { sgeScript, slurmScript } from '../../core/runner-spec.js';
import os from 'node:os';
import { spawnWorkerProcess } from '../support/processes.js';
import { until } from '../support/until.js';

for (const kind of ['sge', 'slurm'] as ClusterKind[]) {
  describe(`${kind.toUpperCase()} exactly-once submission`, async () => {
    const cluster = await clusterUnderTest(kind);
    let fixture: ServiceFixture | undefined;
    after(async () => {
      await fixture?.cleanup();
    });

    /** How many jobs the scheduler has ever seen with this exact name. */
    async function jobsNamed(name: string): Promise<number> {
      if (kind === 'sge') {
        const queued = await schedulerCommand(cluster, cluster.section.qstat!, ['-xml', '-u', '*']);
        const inQueue = [...queued.stdout.matchAll(/<JB_name>([^<]*)<\/JB_name>/g)].filter((m) => m[1] === name).length;
        const accounted = await schedulerCommand(cluster, cluster.section.qacct!, ['-j', name]);
        const finished = accounted.exitCode === 0 ? (accounted.stdout.match(/^jobnumber\s/gm)?.length ?? 0) : 0;
        return inQueue + finished;
      }
      const queued = await schedulerCommand(cluster, cluster.section.squeue!, [
        '-h',
        '-t',
        'all',
        '-n',
        name,
        '-o',
        '%i',
      ]);
      return queued.stdout.split('\n').filter(Boolean).length;
    }

    const realRunner = () => {
      const { section, env } = cluster;
      return kind === 'sge'
        ? createSgeRunner({
            qsub: section.qsub!,
            qstat: section.qstat!,
            qacct: section.qacct!,
            qdel: section.qdel!,
            ...(env.SGE_ROOT ? { sgeRoot: env.SGE_ROOT } : {}),
            ...(env.SGE_CELL ? { sgeCell: env.SGE_CELL } : {}),
            pollSeconds: 0.2,
            unknownGraceSeconds: 600,
          })
        : createSlurmRunner({
            sbatch: section.sbatch!,
            squeue: section.squeue!,
            scontrol: section.scontrol!,
            scancel: section.scancel!,
            ...(section.jobcomp ? { jobcomp: section.jobcomp } : {}),
            pollSeconds: 0.2,
            unknownGraceSeconds: 600,
          });
    };

    test(
      "a job name in the service's options does not defeat the lookup: a retry that lost the id finds the job",
      { skip: cluster.skip, timeout: 60_000 },
      async () => {
        const directory = await fs.mkdtemp(path.join(os.tmpdir(), `saliflow-${kind}-named-`));
        try {
          const job = { name: `${kind}-named`, directory, cycle: 1 };
          const requested = `svc${process.pid}`;
          const spec =
            kind === 'sge'
              ? sgeScript('sleep 30', { options: `-N ${requested} -j y` })
              : slurmScript('sleep 30', { options: `--job-name=${requested}` });
          const first = await realRunner().submit(job, spec);
          const record = (await readRecord(directory, kind, 1))!;
          // As after a crash right after qsub/sbatch: the record holds the name, not the id.
          await writeRecord(directory, kind, 1, { name: record.name });
          const again = await realRunner().submit(job, spec);
          assert.equal(again, first, 'found by its unique name, not submitted again');
          assert.equal(await jobsNamed(record.name), 1);
          assert.equal(await jobsNamed(requested), 0, "nothing runs under the service's bare name");
          assert.match(record.name, new RegExp(`^${requested}_[0-9a-f]{8}$`), "the service's name starts it");
          const base = first.split(/[._]/)[0]!;
          await schedulerCommand(cluster, kind === 'sge' ? cluster.section.qdel! : cluster.section.scancel!, [base]);
          await until(`cluster job ${base} to end`, async () =>
            (await schedulerStillHas(cluster, base)) ? undefined : true,
          );
        } finally {
          // The scheduler may still be writing the job's output file as it lets go of it.
          await fs.rm(directory, { recursive: true, force: true, maxRetries: 5 });
        }
      },
    );

    test(
      'SIGKILL between submission and recording the id: one cluster job',
      { skip: cluster.skip, timeout: 120_000 },
      async () => {
        fixture = await createServiceFixture({ sections: { [kind]: cluster.section } });
        const child = spawnWorkerProcess(fixture.configFile, 'cluster-job', {
          SALIFLOW_FAILPOINT: 'after-submit',
          SALIFLOW_TEST_CLUSTER: kind,
        });
        const { client, close } = await temporalClient();
        try {
          const job = await submitJob({
            config: fixture.config,
            db: fixture.frontendDb,
            client,
            name: `${kind}-crash`,
          });
          const ended = await child;
          assert.equal(ended.signal, 'SIGKILL', `the worker died at the failpoint (stderr: ${ended.stderr})`);
          const directory = path.join(fixture.root, 'running', job.name);
          const record = await readRecord(directory, kind, 1);
          assert.ok(record && !record.id, `the record names the run but holds no id: ${JSON.stringify(record)}`);
          assert.equal((await jobRow(fixture.db, job.name)).runner_id, null);

          process.env.SALIFLOW_TEST_CLUSTER = kind;
          const outcome = await withWorker(fixture, service, () => workflowOutcome(client, job.workflowId));
          assert.equal(outcome.result, 'COMPLETED', outcome.failure);
          assert.equal(await jobsNamed(record.name), 1, `exactly one ${kind} job named ${record.name}`);
          const row = await jobRow(fixture.db, job.name);
          const recovered = await readRecord(row.directory!, kind, 1);
          assert.equal(row.runner_id, `${kind === 'sge' ? 'SGE' : 'SLURM'}:${recovered?.id}`);
          assert.equal(
            await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8'),
            'ran\n',
            'the script ran once',
          );
        } finally {
          child.kill('SIGKILL');
          await close();
        }
      },
    );

    test(
      'a worker killed while waiting: another worker resumes the wait; a run that ended meanwhile is not missed',
      { skip: cluster.skip, timeout: 120_000 },
      async () => {
        fixture ??= await createServiceFixture({ sections: { [kind]: cluster.section } });
        const env = { SALIFLOW_TEST_CLUSTER: kind, SALIFLOW_TEST_SLEEP: '2' };
        const child = spawnWorkerProcess(fixture.configFile, 'cluster-job', env);
        const { client, close } = await temporalClient();
        try {
          const job = await submitJob({
            config: fixture.config,
            db: fixture.frontendDb,
            client,
            name: `${kind}-waiter`,
          });
          const db = fixture.db;
          await until(
            'the job to reach the cluster',
            async () => ((await jobRow(db, job.name)).runner_id ? true : undefined),
            60_000,
          );
          const { runner_id: runnerId, directory } = await jobRow(db, job.name);
          child.kill('SIGKILL');
          await child;
          // The cluster job ends while no worker is watching.
          const clusterId = runnerId!.split(':').slice(1).join(':');
          await until(
            `cluster job ${clusterId} to end`,
            async () =>
              (await readJobStateFile(directory!)) === 'DONE' && !(await schedulerStillHas(cluster, clusterId))
                ? true
                : undefined,
            60_000,
          );
          const outcome = await withWorker(fixture, service, () => workflowOutcome(client, job.workflowId));
          assert.equal(outcome.result, 'COMPLETED', outcome.failure);
          const row = await jobRow(fixture.db, job.name);
          assert.equal(
            await fs.readFile(path.join(row.directory!, 'runs.txt'), 'utf8'),
            'ran\n',
            'one run, not resubmitted',
          );
          const record = await readRecord(row.directory!, kind, 1);
          assert.equal(await jobsNamed(record!.name), 1);
        } finally {
          child.kill('SIGKILL');
          await close();
        }
      },
    );
  });
}
