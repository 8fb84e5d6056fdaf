/**
 * A saliweb Python service's cluster runs on the real SGE and SLURM, through
 * `saliflow worker --python-service`: an SGE array job (`-t 1-3`) whose
 * script works in a scratch folder, and a SLURM job; each submitted once,
 * COMPLETED, framework.log written; and a worker SIGKILLed while the run
 * waits, restarted, runs nothing twice.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { clusterUnderTest, schedulerCommand, type ClusterKind } from '../support/clusters.js';
import { startPythonWorker, type PythonWorker } from '../support/python-worker.js';
import { until } from '../support/until.js';
import { readRecord } from '../../engine/runners/submission-record.js';

for (const kind of ['sge', 'slurm'] as ClusterKind[]) {
  describe(`a Python service on ${kind.toUpperCase()}`, async () => {
    const cluster = await clusterUnderTest(kind);
    let fixture: ServiceFixture | undefined;
    const workers: PythonWorker[] = [];
    after(async () => {
      for (const worker of workers) {
        worker.process.kill('SIGTERM');
        await worker.process;
      }
      await fixture?.cleanup();
    });

    async function setUp(): Promise<ServiceFixture> {
      fixture ??= await createServiceFixture({
        columns: [{ name: 'num_inputs', type: 'INTEGER', index: true }],
        // The script sleeps long enough for its worker to be killed while it waits.
        sections: { [kind]: cluster.section, labservice: { greeting: 'hi', sleep: '3' } },
      });
      return fixture;
    }

    async function worker(): Promise<PythonWorker> {
      const started = await startPythonWorker((await setUp()).configFile);
      workers.push(started);
      return started;
    }

    /** The distinct cluster job ids the scheduler has ever had under `name`. */
    async function submissionsNamed(name: string): Promise<Set<string>> {
      const ids = new Set<string>();
      if (kind === 'sge') {
        const queued = await schedulerCommand(cluster, cluster.section.qstat!, ['-xml', '-u', '*']);
        for (const block of queued.stdout.split('<job_list').slice(1)) {
          if (block.match(/<JB_name>([^<]*)</)?.[1] === name) ids.add(block.match(/<JB_job_number>(\d+)</)![1]!);
        }
        const accounted = await schedulerCommand(cluster, cluster.section.qacct!, ['-j', name]);
        for (const match of accounted.stdout.matchAll(/^jobnumber\s+(\d+)/gm)) ids.add(match[1]!);
      } else {
        const queued = await schedulerCommand(cluster, cluster.section.squeue!, [
          '-h',
          '-t',
          'all',
          '-n',
          name,
          '-o',
          '%i',
        ]);
        for (const id of queued.stdout.split('\n').filter(Boolean)) ids.add(id.split('_')[0]!);
      }
      return ids;
    }

    async function submit(name: string) {
      const { client, close } = await temporalClient();
      try {
        const job = await submitJob({
          config: (await setUp()).config,
          db: fixture!.frontendDb,
          client,
          name,
          files: { 'mode.txt': `${kind}\n`, 'x.pdb': 'ATOM\n' },
        });
        return { job, outcome: () => workflowOutcome(client, job.workflowId), close };
      } catch (error) {
        await close();
        throw error;
      }
    }

    const tasks = kind === 'sge' ? '1\n2\n3\n' : 'ran\n';

    async function checkRanOnce(name: string) {
      const row = await jobRow(fixture!.db, name);
      const read = (file: string) => fs.readFile(path.join(row.directory!, file), 'utf8');
      assert.equal(row.state, 'COMPLETED');
      assert.equal(row.num_inputs, 1);
      assert.equal(await read('preprocess.count'), `${name}\n`, 'preprocess ran once');
      assert.equal(await read('run.count'), `${kind}\n`, 'run ran once');
      assert.equal((await read('runs.txt')).split('\n').sort().join('\n').trim(), tasks.trim(), 'each task ran once');
      assert.match(await read('framework.log'), /INFO hi: 1 inputs/);
      assert.match(await read('framework.log'), /WARNING complete: /);
      // The runner names the cluster job after the service's set_name, made unique per job and cycle.
      const record = await readRecord(row.directory!, kind, 1);
      if (!record?.name.startsWith(`py-${name}`)) assert.fail(`cluster name from set_name: ${JSON.stringify(record)}`);
      const ids = await until(`the ${kind} accounting of ${record.name}`, async () => {
        const found = await submissionsNamed(record.name);
        return found.size > 0 ? found : undefined;
      });
      assert.equal(ids.size, 1, `one ${kind} submission named ${record.name}: ${[...ids].join(', ')}`);
      assert.match(row.runner_id ?? '', kind === 'sge' ? /^SGE:\d+\.1-3:1$/ : /^SLURM:\d+$/);
      if (kind === 'sge') {
        const script = await read('sge-script.sh');
        assert.match(script, /^#\$ -t 1-3 -l h_rt=0:10:00$/m);
        assert.match(script, /^#\$ -N py-/m);
        // The body worked in its scratch folder and copied its outputs back.
        assert.equal(await read('out.2'), 'task 2 in scratch\n');
      }
      return row;
    }

    test(
      `${kind === 'sge' ? 'an SGE array job working in scratch' : 'a SLURM job'}: COMPLETED, submitted once`,
      { skip: cluster.skip, timeout: 180_000 },
      async () => {
        await worker();
        const { job, outcome, close } = await submit(`${kind}-py`);
        try {
          const ended = await outcome();
          assert.equal(ended.result, 'COMPLETED', `${ended.failure}\n${workers[0]!.output()}`);
          await checkRanOnce(job.name);
        } finally {
          await close();
        }
      },
    );

    test(
      'the worker SIGKILLed while the run waits, restarted: nothing runs twice',
      { skip: cluster.skip, timeout: 180_000 },
      async () => {
        // The first test's worker stops first: the killed one must be the only one.
        for (const running of workers.splice(0)) {
          running.process.kill('SIGTERM');
          await running.process;
        }
        const first = await worker();
        const { job, outcome, close } = await submit(`${kind}-pykill`);
        try {
          await until(
            'the run to reach the cluster',
            async () => ((await jobRow(fixture!.db, job.name)).runner_id ? true : undefined),
            60_000,
          );
          first.process.kill('SIGKILL');
          await first.process;
          workers.splice(workers.indexOf(first), 1);
          await worker();
          const ended = await outcome();
          assert.equal(ended.result, 'COMPLETED', ended.failure);
          await checkRanOnce(job.name);
        } finally {
          await close();
        }
      },
    );
  });
}
