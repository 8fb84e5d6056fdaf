/**
 * The same conformance cases on real SGE and real SLURM: a plain job, an
 * array job, a non-zero exit, a job killed from outside, an operator's
 * cancel and failjob, and a reschedule that submits twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, sgeScript, slurmScript, type Service } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { cancelJob } from '../../client/admin.js';
import { failJob } from '../../client/job-operations.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import {
  clusterUnderTest,
  schedulerCommand,
  schedulerStillHas as schedulerStillHasJob,
  type ClusterKind,
  type ClusterUnderTest,
} from '../support/clusters.js';
import { until, untilHolds } from '../support/until.js';
import { readJobStateFile } from '../../engine/runners/job-state-file.js';
import type { Client } from '@temporalio/client';

for (const kind of ['sge', 'slurm'] as ClusterKind[]) {
  describe(`${kind.toUpperCase()} runner`, async () => {
    const cluster: ClusterUnderTest = await clusterUnderTest(kind);
    const NAME = kind === 'sge' ? 'SGE' : 'SLURM';
    const script = kind === 'sge' ? sgeScript : slurmScript;
    const arrayOption = kind === 'sge' ? '-t 1-3' : '-a 1-3';
    const taskVar = kind === 'sge' ? 'SGE_TASK_ID' : 'SLURM_ARRAY_TASK_ID';
    const scriptFile = kind === 'sge' ? 'sge-script.sh' : 'slurm-script.sh';
    let fixture: ServiceFixture;

    before(async () => {
      if (cluster.skip) return;
      fixture = await createServiceFixture({ sections: { [kind]: cluster.section } });
    });
    after(async () => {
      await fixture?.cleanup();
    });

    async function runJob(service: Service, name: string, during?: (client: Client, job: string) => Promise<void>) {
      return withWorker(fixture, service, async ({ client }) => {
        const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
        await during?.(client, job.name);
        const outcome = await workflowOutcome(client, job.workflowId);
        return { job, outcome, row: await jobRow(fixture.db, job.name) };
      });
    }

    async function waitUntilRunning(job: string): Promise<string> {
      const row = await untilHolds(
        `job ${job} to be RUNNING with a runner id`,
        () => jobRow(fixture.db, job),
        (row) => row.state === 'RUNNING' && !!row.runner_id,
      );
      return row.runner_id!.split(':').slice(1).join(':');
    }

    /** Until the cluster job's script has begun (it writes job-state first), so a kill hits a running job. */
    async function waitUntilScriptStarted(job: string): Promise<void> {
      const { directory } = await jobRow(fixture.db, job);
      await untilHolds(
        `the cluster job of ${job} to start (job-state STARTED)`,
        () => readJobStateFile(directory!),
        (state) => state === 'STARTED',
      );
    }

    const untilSchedulerForgets = (id: string) =>
      until(
        `the scheduler to forget cluster job ${id}`,
        async () => ((await schedulerStillHas(id)) ? undefined : true),
        {
          timeoutMs: 20_000,
          everyMs: 200,
        },
      );

    const schedulerStillHas = (id: string) => schedulerStillHasJob(cluster, id);

    test('a plain job runs to COMPLETED; the script is kept for the admin', { skip: cluster.skip }, async () => {
      const service = defineService({ run: (job) => script(`echo "hello from ${job.name}" > out.txt`) });
      const { job, outcome, row } = await runJob(service, `${kind}-plain`);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assert.match(row.runner_id ?? '', new RegExp(`^${NAME}:\\d+$`));
      const dir = row.directory!;
      assert.equal((await fs.readFile(path.join(dir, 'out.txt'), 'utf8')).trim(), `hello from ${job.name}`);
      const text = await fs.readFile(path.join(dir, scriptFile), 'utf8');
      assert.match(text, /^#!\/bin\/sh\n/);
      assert.match(
        text,
        kind === 'sge'
          ? /#\$ -S \/bin\/sh\n#\$ -cwd\n#\$ -N sge-plain_[0-9a-f]{8}\n/
          : /#SBATCH -J slurm-plain_[0-9a-f]{8}\n/,
      );
      assert.match(
        text,
        /\n_SALI_JOB_DIR=`pwd`\necho "STARTED" > "\$\{_SALI_JOB_DIR\}\/job-state"\n[\s\S]*echo "DONE" > "\$\{_SALI_JOB_DIR\}\/job-state"\n$/,
      );
    });

    // ModLoop, CryptoSite, AllosMod and PCSS work in node-local scratch and remove it at the end.
    const scratchBodies = {
      sh: 'tmp=`mktemp -d`\ncd "$tmp"\necho "scratch of $_SALI_JOB_DIR" > result.txt\ncp result.txt "$_SALI_JOB_DIR/"\nrm -rf "$tmp"',
      csh: 'set tmp = `mktemp -d`\ncd $tmp\necho "scratch of $_SALI_JOB_DIR" > result.txt\ncp result.txt $_SALI_JOB_DIR/\nrm -rf $tmp',
    };
    const tcsh = await fs.access('/bin/tcsh').then(
      () => undefined,
      () => 'no /bin/tcsh here (apt-get install tcsh)',
    );
    for (const [shell, interpreter, skip] of [
      ['sh', '/bin/sh', cluster.skip],
      ['csh', '/bin/tcsh', cluster.skip ?? tcsh],
    ] as const) {
      test(
        `a ${shell} script that cds into scratch and removes it completes (job-state in the job directory)`,
        { skip },
        async () => {
          const service = defineService({ run: () => script(scratchBodies[shell], { interpreter }) });
          const { outcome, row } = await runJob(service, `${kind}-scratch-${shell}`);
          assert.equal(outcome.result, 'COMPLETED', outcome.failure);
          const dir = row.directory!;
          const text = await fs.readFile(path.join(dir, scriptFile), 'utf8');
          assert.match(text, shell === 'sh' ? /\n_SALI_JOB_DIR=`pwd`\n/ : /\nsetenv _SALI_JOB_DIR `pwd`\n/);
          // The body saw the job directory where it started (the running folder).
          const result = (await fs.readFile(path.join(dir, 'result.txt'), 'utf8')).trim();
          assert.equal(result, `scratch of ${path.join(fixture.root, 'running', path.basename(dir))}`);
        },
      );
    }

    test(
      "a rescheduled run deleted while pending is not postprocessed; the first cycle's job-state is gone",
      { skip: cluster.skip, timeout: 120_000 },
      async () => {
        // No accounting record for a job that never ran (SGE): a short grace before it counts as vanished.
        const own = await createServiceFixture({
          sections: { [kind]: { ...cluster.section, unknown_grace_seconds: '3' } },
        });
        try {
          const seen: { cycle: number; jobState: boolean; runnerId: string }[] = [];
          const service = defineService({
            run: () => script('echo ran >> cycles.txt'),
            // Held: it stays pending until deleted.
            rerun: () => script('echo ran >> cycles.txt', { options: kind === 'sge' ? '-h' : '--hold' }),
            async postprocess(job) {
              const jobState = await fs.access(job.path('job-state')).then(
                () => true,
                () => false,
              );
              seen.push({ cycle: job.cycle, jobState, runnerId: (await jobRow(own.db, job.name)).runner_id! });
              return job.cycle === 1 ? { reschedule: {} } : {};
            },
          });
          const { row, outcome } = await withWorker(own, service, async ({ client }) => {
            const job = await submitJob({ config: own.config, db: own.frontendDb, client, name: `${kind}-held` });
            const second = await untilHolds(
              `the second run of ${job.name} to be submitted`,
              () => jobRow(own.db, job.name),
              (row) =>
                row.state === 'RUNNING' && !!row.runner_id && seen.length === 1 && row.runner_id !== seen[0]!.runnerId,
            );
            const id = second.runner_id!.split(':').slice(1).join(':').split(/[._]/)[0]!;
            const pending =
              kind === 'sge'
                ? await schedulerCommand(cluster, cluster.section.qstat!, ['-u', '*'])
                : await schedulerCommand(cluster, cluster.section.squeue!, ['-h', '-j', id, '-o', '%T']);
            assert.match(pending.stdout, kind === 'sge' ? new RegExp(`^\\s*${id}\\s.*\\shqw\\s`, 'm') : /^PENDING$/m);
            const kill = kind === 'sge' ? cluster.section.qdel! : cluster.section.scancel!;
            const result = await schedulerCommand(cluster, kill, [id]);
            assert.equal(result.exitCode, 0, result.stderr);
            const outcome = await workflowOutcome(client, job.workflowId);
            return { outcome, row: await jobRow(own.db, job.name) };
          });
          assert.equal(row.state, 'FAILED', outcome.failure);
          assert.deepEqual(
            seen.map(({ cycle, jobState }) => ({ cycle, jobState })),
            [{ cycle: 1, jobState: false }],
            'postprocessed once, after job-state was removed',
          );
          assert.match(row.failure ?? '', /^RunDiedError: /);
          assert.match(row.failure ?? '', /job-state says "missing", not DONE/);
          assert.match(row.failure ?? '', kind === 'sge' ? /run cause vanished/ : /run cause killed_externally/);
          assert.equal((await fs.readFile(path.join(row.directory!, 'cycles.txt'), 'utf8')).trim(), 'ran');
        } finally {
          await own.cleanup();
        }
      },
    );

    test('an array job runs every task; the runner id has the task range', { skip: cluster.skip }, async () => {
      const service = defineService({ run: () => script(`touch "task.$${taskVar}"`, { options: arrayOption }) });
      const { outcome, row } = await runJob(service, `${kind}-array`);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assert.match(row.runner_id ?? '', kind === 'sge' ? /^SGE:\d+\.1-3:1$/ : /^SLURM:\d+_1-3:1$/);
      const files = (await fs.readdir(row.directory!)).filter((file) => file.startsWith('task.')).sort();
      assert.deepEqual(files, ['task.1', 'task.2', 'task.3']);
    });

    test('a job exiting non-zero fails the saliflow job with its exit status', { skip: cluster.skip }, async () => {
      const service = defineService({ run: () => script('echo partial > out.txt\nexit 3') });
      const { outcome, row } = await runJob(service, `${kind}-exit3`);
      assert.match(outcome.failure ?? '', /RunDiedError/);
      assert.equal(row.state, 'FAILED');
      assert.match(row.failure ?? '', /job-state says "STARTED", not DONE/);
      assert.match(row.failure ?? '', kind === 'sge' ? /exit status 3\b/ : /ExitCode=3:0 \(exit status 3\)/);
    });

    test(
      'a job killed from outside (qdel / scancel) fails, and the reason says so',
      { skip: cluster.skip },
      async () => {
        const service = defineService({ run: () => script('sleep 120') });
        const { row } = await runJob(service, `${kind}-killed`, async (_client, job) => {
          const id = await waitUntilRunning(job);
          await waitUntilScriptStarted(job);
          const kill =
            kind === 'sge'
              ? [cluster.section.qdel!, [id.split('.')[0]!]]
              : [cluster.section.scancel!, [id.split('_')[0]!]];
          const result = await schedulerCommand(cluster, kill[0] as string, kill[1] as string[]);
          assert.equal(result.exitCode, 0, result.stderr);
        });
        assert.equal(row.state, 'FAILED');
        assert.match(
          row.failure ?? '',
          kind === 'sge'
            ? /killed by signal 9, e\.g\. by qdel|failed 100/
            : /JobState=CANCELLED \(cancelled, e\.g\. by scancel\)/,
        );
      },
    );

    test(
      'an operator cancel deletes the cluster job and fails the job "cancelled by administrator"',
      { skip: cluster.skip },
      async () => {
        const service = defineService({ run: () => script('sleep 120') });
        let clusterId = '';
        const { outcome, row } = await runJob(service, `${kind}-cancel`, async (client, job) => {
          clusterId = await waitUntilRunning(job);
          await cancelJob({ config: fixture.config, db: fixture.db, client, job });
        });
        assert.match(outcome.failure ?? '', /cancelled by administrator/);
        assert.equal(row.state, 'FAILED');
        assert.equal(row.failure, 'JobCancelledError: cancelled by administrator');
        await untilSchedulerForgets(clusterId);
        assert.equal(await schedulerStillHas(clusterId), false, `cluster job ${clusterId} was deleted`);
      },
    );

    test("an operator's failjob deletes the cluster job before it fails the job", { skip: cluster.skip }, async () => {
      const service = defineService({ run: () => script('sleep 120') });
      let clusterId = '';
      const { row } = await runJob(service, `${kind}-failjob`, async (client, job) => {
        clusterId = await waitUntilRunning(job);
        const outcome = await failJob({ config: fixture.config, pool: fixture.db, client, job, reason: 'wrong input' });
        assert.equal(outcome.workflow, 'stopped', 'its workflow deleted the run and ended');
        assert.equal(outcome.runLeft, undefined);
      });
      assert.equal(row.state, 'FAILED');
      assert.equal(row.failure, 'failed by an operator (saliflow failjob): wrong input');
      await untilSchedulerForgets(clusterId);
      assert.equal(await schedulerStillHas(clusterId), false, `cluster job ${clusterId} was deleted`);
    });

    test('a reschedule submits a second cluster job', { skip: cluster.skip }, async () => {
      const ids: string[] = [];
      const service = defineService({
        run: () => script('echo 1 >> cycles.txt'),
        async postprocess(job) {
          const row = await jobRow(fixture.db, job.name);
          ids.push(row.runner_id!);
          const cycles = (await fs.readFile(job.path('cycles.txt'), 'utf8')).trim().split('\n').length;
          return cycles < 2 ? { reschedule: {} } : {};
        },
      });
      const { outcome } = await runJob(service, `${kind}-twice`);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      assert.equal(ids.length, 2, JSON.stringify(ids));
      assert.notEqual(ids[0], ids[1], 'two distinct cluster jobs');
    });
  });
}
