/**
 * `saliflow adopt` on a saliweb service caught in every state: real rows,
 * directories and job-state files, a real SGE job (under a site runner
 * name) and a real SLURM array still running, a local process still running
 * (ignoring SIGTERM, as saliweb's local runs do), the NULL-runner_id and the
 * directory-ahead-of-its-row hazards, a state file locked by a live daemon
 * and one saying FAILED. Adoption is killed mid-way and run again; then a
 * worker takes every job where the rules say, each cluster job submitted
 * exactly once (counted on the scheduler).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { jobWorkflowId } from '../../core/job-workflow-contract.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import service from '../support/services/adopted-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow } from '../support/jobs.js';
import { cancelJob } from '../../client/admin.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { until } from '../support/until.js';
import { clusterUnderTest } from '../support/clusters.js';
import { spawnWorkerProcess } from '../support/processes.js';
import { deleteSchedules, ensureSchedules } from '../../activities/schedules.js';
import { startFakeSaliwebService, type FakeSaliwebService } from '../support/fake-saliweb-service.js';
import { defaultRunners } from '../../engine/runners/index.js';
import { createWebServiceRunner } from '../../engine/runners/web-service.js';
import type { RunnerBackend } from '../../engine/runners/runner.js';

const sge = await clusterUnderTest('sge');
const slurm = await clusterUnderTest('slurm');
const skip = sge.skip ?? slurm.skip;

const ADOPTED_SERVICE = path.join(REPO_ROOT, 'test/support/services/adopted-job.ts');

/** The CLI itself, not bin/saliflow.js's wrapper, so a test's SIGKILL failpoint shows as the signal. */
function saliflowCli(configFile: string, args: string[], env: Record<string, string> = {}, serviceModule = true) {
  return execa(
    'node',
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'cli/main.ts'),
      ...args,
      '--config',
      configFile,
      ...(serviceModule ? ['--service', ADOPTED_SERVICE] : []),
    ],
    { reject: false, env: { SALIFLOW_CONFIG: '', ...env }, stdin: 'ignore' },
  );
}

/** A saliweb-style cluster script: STARTED, wait for the test's go-ahead, DONE. */
const SCRIPT = [
  '#!/bin/sh',
  'echo STARTED > job-state',
  // Ends too if its directory is deleted (a test that failed), so no run is left behind.
  'while [ ! -f release ] && [ -f job-state ]; do sleep 0.2; done',
  'echo DONE > job-state',
  '',
].join('\n');

describe('adopting a live saliweb service', { skip, timeout: 300_000 }, () => {
  let fixture: ServiceFixture | undefined;
  const children: ChildProcess[] = [];
  const clusterJobs: { sge?: string; sgeByName?: string; slurm?: string } = {};
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    // Gone already when the test passed; a failed test must not leave them holding the shared cluster.
    if (clusterJobs.sge) await execa(sge.section.qdel!, [clusterJobs.sge], { env: sge.env, reject: false });
    if (clusterJobs.sgeByName) await execa(sge.section.qdel!, [clusterJobs.sgeByName], { env: sge.env, reject: false });
    if (clusterJobs.slurm) await execa(slurm.section.scancel!, [clusterJobs.slurm], { env: slurm.env, reject: false });
    await fixture?.cleanup();
  });

  const saliflow = (args: string[], env: Record<string, string> = {}) => saliflowCli(fixture!.configFile, args, env);

  test('every job ends where the rules say; nothing runs twice', async () => {
    fixture = await createServiceFixture({
      sections: { sge: sge.section, slurm: slurm.section, adopt: { runner_names: 'wyntonsge=sge' } },
    });
    const f = fixture;
    const id = path.basename(f.root).split('-')[1]!;
    const dirOf = (folder: string, name: string) => path.join(f.root, folder, name);
    let order = 0;
    /** A saliweb row (and its directory in `folder`, unless null). */
    async function saliwebJob(
      name: string,
      state: string,
      folder: string | null,
      extra: { runner_id?: string | null; rowFolder?: string; times?: Record<string, Date | null> } = {},
    ) {
      const directory = folder ? dirOf(folder, name) : null;
      if (directory) await fs.mkdir(directory, { recursive: true });
      const rowDirectory = extra.rowFolder ? dirOf(extra.rowFolder, name) : directory;
      const submit = new Date(Date.UTC(2026, 0, 1, 0, 0, order++));
      const times = { run_time: null, end_time: null, archive_time: null, expire_time: null, ...extra.times };
      await f.db.query(
        'INSERT INTO jobs (name, user, passwd, contact_email, directory, url, state, submit_time, run_time, end_time, ' +
          'archive_time, expire_time, runner_id, failure) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
          name,
          'alice',
          'pw12345678',
          state === 'EXPIRED' ? null : rowDirectory,
          `http://example.org/job/${name}`,
          state,
          submit,
          times.run_time,
          times.end_time,
          times.archive_time,
          times.expire_time,
          extra.runner_id ?? null,
          state === 'FAILED' ? 'saliweb: python exception' : null,
        ],
      );
      return directory;
    }

    // The running runs, started as saliweb would have.
    const sgeName = `adoptsge${id}`;
    const sgeDir = (await saliwebJob('sge1', 'RUNNING', 'running', { times: { run_time: new Date() } }))!;
    await fs.writeFile(path.join(sgeDir, 'sge-script.sh'), SCRIPT);
    const qsub = await execa(sge.section.qsub!, ['-terse', '-cwd', '-S', '/bin/sh', '-N', sgeName, 'sge-script.sh'], {
      cwd: sgeDir,
      env: sge.env,
    });
    const sgeId = qsub.stdout.trim();
    clusterJobs.sge = sgeId;
    await f.db.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`wyntonsge:${sgeId}`, 'sge1']);

    const slurmName = `adoptslurm${id}`;
    const slurmDir = (await saliwebJob('slurm1', 'RUNNING', 'running', { times: { run_time: new Date() } }))!;
    await fs.writeFile(path.join(slurmDir, 'slurm-script.sh'), SCRIPT);
    const sbatch = await execa(slurm.section.sbatch!, ['--parsable', '-J', slurmName, '-a', '1-2', 'slurm-script.sh'], {
      cwd: slurmDir,
      env: slurm.env,
    });
    const slurmId = sbatch.stdout.trim().split(';')[0]!;
    clusterJobs.slurm = slurmId;
    await f.db.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`SLURM:${slurmId}_1-2:1`, 'slurm1']);

    const localDir = (await saliwebJob('local1', 'RUNNING', 'running', { times: { run_time: new Date() } }))!;
    // Re-parented to PID 1 with SIGTERM ignored, as saliweb's local runs outlive its daemon.
    const local = spawn('/bin/sh', ['-c', `trap '' TERM\n${SCRIPT}`], {
      cwd: localDir,
      detached: true,
      stdio: 'ignore',
    });
    children.push(local);
    await f.db.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`local:${local.pid}`, 'local1']);

    // Every other state, and the hazards.
    await saliwebJob('inc1', 'INCOMING', 'incoming');
    await saliwebJob('ahead1', 'INCOMING', 'running', { rowFolder: 'incoming' }); // moved, row not committed
    await saliwebJob('pre1', 'PREPROCESSING', 'running');
    await saliwebJob('post1', 'POSTPROCESSING', 'running');
    const dnDir = (await saliwebJob('dn1', 'RUNNING', 'running', { runner_id: 'donothing:none' }))!;
    await fs.writeFile(path.join(dnDir, 'job-state'), 'DONE\n');
    await saliwebJob('null1', 'RUNNING', 'running'); // RUNNING committed, never submitted
    await saliwebJob('child1', 'INCOMING', 'incoming');
    await f.db.query('INSERT INTO dependencies (child, parent) VALUES (?, ?)', ['child1', 'sge1']);
    const end = new Date(Date.UTC(2026, 0, 2));
    const future = new Date(Date.now() + 30 * 86_400_000);
    await saliwebJob('comp1', 'COMPLETED', 'completed', {
      times: { end_time: end, archive_time: future, expire_time: future },
    });
    await saliwebJob('arch1', 'ARCHIVED', 'completed', {
      times: { end_time: end, archive_time: end, expire_time: future },
    });
    await saliwebJob('fail1', 'FAILED', 'failed');
    await saliwebJob('exp1', 'EXPIRED', null, { times: { end_time: end, archive_time: end, expire_time: end } });
    // A local run to be cancelled: it ignores SIGTERM, so only SIGKILL ends it.
    const local2Dir = (await saliwebJob('local2', 'RUNNING', 'running', { times: { run_time: new Date() } }))!;
    const local2 = spawn('/bin/sh', ['-c', `trap '' TERM\n${SCRIPT}`], {
      cwd: local2Dir,
      detached: true,
      stdio: 'ignore',
    });
    children.push(local2);
    const local2Exit = new Promise<NodeJS.Signals | null>((resolve) =>
      local2.once('exit', (_code, signal) => resolve(signal)),
    );
    await f.db.query('UPDATE jobs SET runner_id = ? WHERE name = ?', [`local:${local2.pid}`, 'local2']);
    // RUNNING committed, runner_id never written, but the SGE job was submitted (named as saliweb names it).
    const byName = `bn${id}`;
    const byNameDir = (await saliwebJob(byName, 'RUNNING', 'running', { times: { run_time: new Date() } }))!;
    await fs.writeFile(path.join(byNameDir, 'sge-script.sh'), SCRIPT);
    const byNameId = (
      await execa(sge.section.qsub!, ['-terse', '-cwd', '-S', '/bin/sh', '-N', byName, 'sge-script.sh'], {
        cwd: byNameDir,
        env: sge.env,
      })
    ).stdout.trim();
    clusterJobs.sgeByName = byNameId;
    const [before] = await f.db.query('SELECT * FROM jobs ORDER BY name');

    const { client, close } = await temporalClient();
    try {
      // 1. saliweb's daemon alive: its state file locked with lockf by a live process.
      const daemon = spawn(
        'python3',
        [
          '-c',
          'import fcntl, os, sys, time\nf = open(sys.argv[1], "w")\nfcntl.lockf(f, fcntl.LOCK_EX)\n' +
            'f.write(str(os.getpid())); f.flush()\nprint("locked", flush=True)\ntime.sleep(600)',
          f.config.backend.stateFile,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(daemon);
      await new Promise<void>((resolve) => daemon.stdout!.once('data', () => resolve()));
      const refused = await saliflow(['adopt', '--apply']);
      assert.equal(refused.exitCode, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`not adopting: saliweb's backend daemon is running \\(pid ${daemon.pid}, holding the lock`),
      );
      // Nor does a worker start (it would take the frontend socket and the jobs from under saliweb).
      const worker = await spawnWorkerProcess(f.configFile, 'adopted-job', {}, { asSaliflowWorker: true });
      assert.notEqual(worker.exitCode, 0);
      assert.match(worker.stderr + worker.stdout, /not starting: saliweb's backend daemon is running/);
      const dryAlive = await saliflow(['adopt']);
      assert.equal(dryAlive.exitCode, 3, dryAlive.stderr);
      assert.match(dryAlive.stderr, /stop it before --apply/);
      daemon.kill('SIGKILL');
      await new Promise((resolve) => daemon.once('exit', resolve));
      // An older saliweb: the PID of a live process, no lock.
      await fs.writeFile(f.config.backend.stateFile, String(local.pid));
      const byPid = await saliflow(['adopt', '--apply']);
      assert.equal(byPid.exitCode, 1);
      assert.match(byPid.stderr, new RegExp(`pid ${local.pid}, named in`));

      // 2. It died on a fatal error: reported, not in the way.
      await fs.writeFile(f.config.backend.stateFile, 'FAILED: Traceback (most recent call last):\n  boom\n');
      const dry = await saliflow(['adopt', '--dry-run']);
      assert.equal(dry.exitCode, 0, dry.stderr);
      assert.match(dry.stdout, /stopped on a fatal error:\n {4}Traceback \(most recent call last\):/);
      // The report an operator reads, kept for the record (test-artifacts/ is not committed).
      await fs.mkdir(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await fs.writeFile(path.join(REPO_ROOT, 'test-artifacts', 'adopt-dry-run.txt'), dry.stdout);
      const line = (job: string) => dry.stdout.split('\n').find((text) => text.startsWith(`${job} `)) ?? '';
      assert.match(line('inc1'), /INCOMING\s+start\s+queued/);
      assert.match(line('ahead1'), /INCOMING\s+start/);
      assert.match(line('pre1'), /PREPROCESSING\s+fail\s+saliweb stopped inside preprocess/);
      assert.match(line('post1'), /POSTPROCESSING\s+fail/);
      assert.match(
        line('sge1'),
        new RegExp(`RUNNING\\s+watch\\s+saliweb's run wyntonsge:${sgeId} \\(its runner says: running\\)`),
      );
      assert.match(line('slurm1'), new RegExp(`watch.*\\[slurm:${slurmId}_1-2:1\\]`));
      assert.match(line('local1'), /watch.*its runner says: running.*\[local:\d+\]/);
      assert.match(line('dn1'), /watch.*\[do-nothing:none\]/);
      assert.match(line('null1'), /RUNNING\s+operator\s+RUNNING without a runner_id/);
      assert.match(line('comp1'), /COMPLETED\s+leave\s+finished; the old-jobs schedule archives it/);
      assert.match(line('arch1'), /ARCHIVED\s+leave/);
      assert.match(line('fail1'), /FAILED\s+leave/);
      assert.match(line('exp1'), /EXPIRED\s+leave/);
      assert.match(line('local2'), /RUNNING\s+watch/);
      assert.match(
        line(byName),
        new RegExp(`RUNNING\\s+watch\\s+its run SGE:${byNameId} was found on the cluster by the job's name`),
      );
      assert.match(dry.stdout, /16 job\(s\): start 3, watch 6, fail 2, operator 1, leave 4/);
      assert.match(dry.stdout, /ahead1: directory is at .*\/running\/ahead1 but the row says .*\/incoming\/ahead1/);
      assert.match(
        dry.stdout,
        /null1: left RUNNING for you: workers leave it RUNNING, untouched \(never submitted again, never failed by themselves\): find the run on the cluster/,
      );
      assert.match(dry.stdout, /dry run: nothing changed/);
      const [afterDry] = await f.db.query('SELECT * FROM jobs ORDER BY name');
      assert.deepEqual(afterDry, before, 'a dry run changes no row');

      // 3. Killed mid-way, twice: on sge1 (its run recorded, its workflow not started yet), then on ahead1
      // (its directory moved back, its workflow not started yet); each re-run goes on from there.
      const has = (job: string) => hasWorkflow(client, f.config.general.serviceName, job);
      const killed = await saliflow(['adopt', '--apply'], { SALIFLOW_FAILPOINT: 'adopt-mid-job-1' });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assert.match(await fs.readFile(path.join(sgeDir, '.saliflow-cycle.json'), 'utf8'), new RegExp(`"${sgeId}"`));
      assert.equal(await has('sge1'), false);
      assert.equal(await has('slurm1'), false);

      const killedAgain = await saliflow(['adopt', '--apply'], { SALIFLOW_FAILPOINT: 'adopt-mid-job-5' });
      assert.equal(killedAgain.signal, 'SIGKILL', killedAgain.stderr);
      assert.match(killedAgain.stdout, /^sge1: run sge:\S+ already recorded, workflow \S+ started$/m);
      for (const job of ['sge1', 'slurm1', 'local1', 'inc1']) assert.ok(await has(job), `${job} adopted`);
      assert.ok(await fs.stat(dirOf('incoming', 'ahead1')), 'ahead1 moved back before the kill');
      assert.equal(await has('ahead1'), false);
      assert.equal((await jobRow(f.db, 'pre1')).state, 'PREPROCESSING');

      const again = await saliflow(['adopt', '--apply']);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.doesNotMatch(again.stdout, /^(sge1|slurm1|local1|inc1):/m, 'jobs adopted before a kill are left');
      assert.match(again.stdout, /^ahead1: workflow \S+ started$/m);
      assert.match(again.stdout, /^pre1: FAILED$/m);
      assert.match(again.stdout, /adopted: 7 job\(s\) acted on/);
      const third = await saliflow(['adopt', '--apply']);
      assert.equal(third.exitCode, 0, third.stderr);
      assert.match(third.stdout, /adopted: 0 job\(s\) acted on/);

      // 4. Workers on: the adopted runs are watched, then released.
      await withWorker(f, service, async () => {
        // Cancelling an adopted local run that ignores SIGTERM: SIGKILL after the grace period.
        // Once its workflow knows the run (a cancel before its first task would not know what to delete).
        await until('local2 watching its run', async () => {
          const answer = await queryJobStatus(client, f.config, 'local2');
          return 'status' in answer && answer.status.run !== undefined ? true : undefined;
        });
        await cancelJob({ config: f.config, db: f.db, client, job: 'local2' });
        assert.equal(await local2Exit, 'SIGKILL');
        await until('local2 FAILED', async () =>
          (await jobRow(f.db, 'local2')).state === 'FAILED' ? true : undefined,
        );
        assert.match((await jobRow(f.db, 'local2')).failure ?? '', /cancelled by administrator/);
        for (const dir of [sgeDir, slurmDir, localDir, byNameDir]) await fs.writeFile(path.join(dir, 'release'), '');
        for (const job of ['inc1', 'ahead1', 'sge1', 'slurm1', 'local1', 'dn1', 'child1', byName]) {
          await until(
            `${job} COMPLETED`,
            async () => ((await jobRow(f.db, job)).state === 'COMPLETED' ? true : undefined),
            120_000,
          );
        }
      });
    } finally {
      await close();
    }

    for (const [job, dir] of [
      ['sge1', sgeDir],
      ['slurm1', slurmDir],
      ['local1', localDir],
      ['dn1', dnDir],
      [byName, byNameDir],
    ] as const) {
      const row = await jobRow(f.db, job);
      const done = path.join(f.root, 'completed', path.basename(dir));
      assert.equal(row.directory, done);
      assert.equal(
        await fs.readFile(path.join(done, 'postprocessed'), 'utf8'),
        'postprocessed\n',
        `${job}: postprocessed once`,
      );
    }
    assert.equal((await jobRow(f.db, 'sge1')).runner_id, `wyntonsge:${sgeId}`);
    const child = await jobRow(f.db, 'child1');
    assert.ok(child.end_time! >= (await jobRow(f.db, 'sge1')).end_time!, 'child1 ran after its parent');
    assert.equal((await jobRow(f.db, 'ahead1')).directory, path.join(f.root, 'completed', 'ahead1'));
    for (const job of ['pre1', 'post1']) {
      const row = await jobRow(f.db, job);
      assert.equal(row.state, 'FAILED');
      assert.match(row.failure ?? '', /state when saliweb's backend stopped.*resubmit it to run again/);
      assert.equal(row.directory, path.join(f.root, 'failed', job));
    }
    const untouched = (before as { name: string }[]).filter((row) =>
      ['null1', 'comp1', 'arch1', 'fail1', 'exp1'].includes(row.name),
    );
    for (const row of untouched) assert.deepEqual(await jobRow(f.db, row.name), row, `${row.name} unchanged`);

    // Each cluster job submitted exactly once overall.
    const qstat = await execa(sge.section.qstat!, ['-xml', '-u', '*'], { env: sge.env, reject: false });
    const qacct = await execa(sge.section.qacct!, ['-j', sgeName], { env: sge.env, reject: false });
    const sgeJobs =
      [...qstat.stdout.matchAll(/<JB_name>([^<]*)<\/JB_name>/g)].filter((m) => m[1] === sgeName).length +
      (qacct.stdout.match(/^jobnumber\s/gm)?.length ?? 0);
    assert.equal(sgeJobs, 1, `one SGE job named ${sgeName}`);
    const byNameRuns = await until(`qacct to know ${byName}`, async () => {
      const accounted = await execa(sge.section.qacct!, ['-j', byName], { env: sge.env, reject: false });
      return accounted.stdout.match(/^jobnumber\s/gm)?.length;
    });
    assert.equal(byNameRuns, 1, `one SGE job named ${byName}`);
    assert.equal((await jobRow(f.db, byName)).runner_id, null, 'the row keeps what saliweb wrote');
    const squeue = await execa(slurm.section.squeue!, ['-h', '-t', 'all', '-n', slurmName, '-o', '%F'], {
      env: slurm.env,
      reject: false,
    });
    assert.deepEqual(new Set(squeue.stdout.split('\n').filter(Boolean)), new Set([slurmId]), 'one SLURM array job');
  });
});

describe('adopted runs only the row and the cluster know', { skip: sge.skip, timeout: 240_000 }, () => {
  let fixture: ServiceFixture | undefined;
  const children: ChildProcess[] = [];
  const sgeJobs: string[] = [];
  let remote: FakeSaliwebService | undefined;
  after(async () => {
    await remote?.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const job of sgeJobs) await execa(sge.section.qdel!, [job], { env: sge.env, reject: false });
    await fixture?.cleanup();
  });

  test("a stale runner_id gives way to the cycle's run found by name; a run cancelled before its workflow's first task is deleted; a saliweb: run is watched to its results", async () => {
    fixture = await createServiceFixture({ sections: { sge: sge.section } });
    const f = fixture;
    const id = path.basename(f.root).split('-')[1]!;
    const qsub = async (name: string, directory: string, script: string) => {
      await fs.writeFile(path.join(directory, 'sge-script.sh'), script);
      const submitted = await execa(
        sge.section.qsub!,
        ['-terse', '-cwd', '-S', '/bin/sh', '-N', name, 'sge-script.sh'],
        {
          cwd: directory,
          env: sge.env,
        },
      );
      sgeJobs.push(submitted.stdout.trim());
      return submitted.stdout.trim();
    };
    const accounted = async (name: string) =>
      (await execa(sge.section.qacct!, ['-j', name], { env: sge.env, reject: false })).stdout.match(/^jobnumber\s/gm)
        ?.length ?? 0;
    const insert = async (name: string, directory: string, runnerId: string) =>
      f.db.query(
        'INSERT INTO jobs (name, user, directory, url, state, submit_time, run_time, runner_id) ' +
          "VALUES (?, 'alice', ?, ?, 'RUNNING', UTC_TIMESTAMP(), UTC_TIMESTAMP(), ?)",
        [name, directory, `http://example.org/job/${name}`, runnerId],
      );

    // The previous cycle's run, finished and accounted; saliweb rescheduled, submitted the new run and
    // stopped before it wrote the new id: the row still names the old one.
    const stale = `stale${id}`;
    const staleDir = path.join(f.root, 'running', stale);
    await fs.mkdir(staleDir);
    const oldName = `prev${id}`;
    const oldId = await qsub(oldName, staleDir, '#!/bin/sh\necho DONE > job-state\n');
    await until(`qacct to know ${oldName}`, async () => ((await accounted(oldName)) > 0 ? true : undefined), 120_000);
    await insert(stale, staleDir, `SGE:${oldId}`);
    const newId = await qsub(stale, staleDir, SCRIPT);
    await until(`${stale}'s new run started`, async () =>
      (await fs.readFile(path.join(staleDir, 'job-state'), 'utf8')).startsWith('STARTED') ? true : undefined,
    );

    // A run saliweb sent to another saliweb service (`saliweb:<results URL>`), not done yet.
    remote = await startFakeSaliwebService({ notReadyTimes: 3 });
    const form = new FormData();
    form.append('name', 'adopted');
    const reply = await (await fetch(`${remote.url}job`, { method: 'POST', body: form })).text();
    const resultsUrl = /xlink:href="([^"]+)"/.exec(reply)![1]!.replace(/&amp;/g, '&');
    const ws = `ws${id}`;
    const wsDir = path.join(f.root, 'running', ws);
    await fs.mkdir(wsDir);
    await insert(ws, wsDir, `saliweb:${resultsUrl}`);

    // A local run (ignoring SIGTERM, as saliweb's do), cancelled before a worker ever ran its workflow.
    const early = `early${id}`;
    const earlyDir = path.join(f.root, 'running', early);
    await fs.mkdir(earlyDir);
    const local = spawn('/bin/sh', ['-c', `trap '' TERM\n${SCRIPT}`], {
      cwd: earlyDir,
      detached: true,
      stdio: 'ignore',
    });
    children.push(local);
    const localExit = new Promise<NodeJS.Signals | null>((resolve) =>
      local.once('exit', (_code, signal) => resolve(signal)),
    );
    await insert(early, earlyDir, `local:${local.pid}`);

    const adopt = await saliflowCli(f.configFile, ['adopt', '--apply']);
    assert.equal(adopt.exitCode, 0, adopt.stderr);
    assert.match(
      adopt.stdout,
      new RegExp(
        `${stale}\\s+RUNNING\\s+watch\\s+runner_id SGE:${oldId} is stale; the run of this cycle, SGE:${newId}, was found`,
      ),
    );
    assert.match(adopt.stdout, new RegExp(`${early}\\s+RUNNING\\s+watch`));
    assert.match(adopt.stdout, new RegExp(`${ws}\\s+RUNNING\\s+watch.*\\[web-service:`));

    const { client, close } = await temporalClient();
    try {
      await cancelJob({ config: f.config, db: f.db, client, job: early });
      // Short web-service backoff (10 s, 20 s, … by default), so the remote run is seen done within the test.
      const runners = {
        ...defaultRunners(f.config.clusters),
        'web-service': createWebServiceRunner({ initialBackoffMs: 100, maxBackoffMs: 500 }) as RunnerBackend,
      };
      await withWorker(
        f,
        service,
        async () => {
          const signal = await until(`${early}'s run ended`, async () =>
            local.exitCode === null && local.signalCode === null ? undefined : localExit,
          );
          assert.equal(signal, 'SIGKILL', 'the adopted run is deleted though the workflow never knew of it');
          await until(`${early} FAILED`, async () =>
            (await jobRow(f.db, early)).state === 'FAILED' ? true : undefined,
          );
          assert.match((await jobRow(f.db, early)).failure ?? '', /cancelled by administrator/);
          await fs.writeFile(path.join(staleDir, 'release'), '');
          await until(`${ws} COMPLETED`, async () =>
            (await jobRow(f.db, ws)).state === 'COMPLETED' ? true : undefined,
          );
          await until(
            `${stale} COMPLETED`,
            async () => ((await jobRow(f.db, stale)).state === 'COMPLETED' ? true : undefined),
            120_000,
          );
        },
        { runners },
      );
    } finally {
      await close();
    }
    const done = path.join(f.root, 'completed', stale);
    assert.equal(await fs.readFile(path.join(done, 'postprocessed'), 'utf8'), 'postprocessed\n');
    // Its run's DONE was taken (and removed, as saliweb does once a run's results are taken).
    await assert.rejects(fs.access(path.join(done, 'job-state')), /ENOENT/);
    assert.equal(await until(`qacct to know ${stale}`, async () => (await accounted(stale)) || undefined), 1);
    assert.equal(await accounted(oldName), 1, 'the old run never submitted again');
    const wsDone = path.join(f.root, 'completed', ws);
    assert.equal(await fs.readFile(path.join(wsDone, 'output.txt'), 'utf8'), `result of ${remote.jobs[0]!.id}\n`);
    assert.equal(await fs.readFile(path.join(wsDone, 'postprocessed'), 'utf8'), 'postprocessed\n');
    assert.equal(remote.requests.submit, 1, 'the remote job never submitted again');
    assert.ok(remote.jobs[0]!.resultsRequests.length > 3, 'polled until the remote service was done');
  });
});

describe('adopted finished jobs', { timeout: 120_000 }, () => {
  let fixture: ServiceFixture | undefined;
  after(async () => {
    await fixture?.cleanup();
  });

  test("the old-jobs schedule archives and expires them at the times saliweb wrote, not saliflow's delays", async () => {
    // saliflow's own delays would archive at once: only the rows' times may decide.
    fixture = await createServiceFixture({ sections: { oldjobs: { archive: '0.0003h', expire: '0.0006h' } } });
    const f = fixture;
    const past = new Date(Date.now() - 3600_000);
    const later = new Date(Date.now() + 86_400_000);
    const rows: [string, string, Date, Date][] = [
      ['due_archive', 'COMPLETED', past, later],
      ['not_yet', 'COMPLETED', later, later],
      ['due_expire', 'ARCHIVED', past, past],
    ];
    for (const [name, state, archive, expire] of rows) {
      const directory = path.join(f.root, 'completed', name);
      await fs.mkdir(directory);
      await f.db.query(
        'INSERT INTO jobs (name, directory, url, state, submit_time, end_time, archive_time, expire_time) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [name, directory, `http://example.org/${name}`, state, past, past, archive, expire],
      );
    }
    const adopt = await saliflowCli(f.configFile, ['adopt', '--apply'], {}, false);
    assert.equal(adopt.exitCode, 0, adopt.stderr);
    assert.match(adopt.stdout, /3 job\(s\): start 0, watch 0, fail 0, operator 0, leave 3/);
    await withWorker(f, service, async ({ client }) => {
      await ensureSchedules(client, f.config, f.taskQueue);
      try {
        for (const [job, state] of [
          ['due_archive', 'ARCHIVED'],
          ['due_expire', 'EXPIRED'],
        ]) {
          await until(`${job} ${state}`, async () => ((await jobRow(f.db, job!)).state === state ? true : undefined));
        }
      } finally {
        await deleteSchedules(client, f.config);
      }
    });
    const notYet = await jobRow(f.db, 'not_yet');
    assert.equal(notYet.state, 'COMPLETED', 'archived only at its archive_time');
    assert.ok(notYet.archive_time! > new Date(), 'its archive_time kept');
  });
});

describe('transient states of a service that repeats its steps', { timeout: 120_000 }, () => {
  let fixture: ServiceFixture | undefined;
  after(async () => {
    await fixture?.cleanup();
  });

  test("adoptedTransientSteps: 'rerun' runs the cut-short step again and the job goes on", async () => {
    fixture = await createServiceFixture();
    const f = fixture;
    for (const [name, state] of [
      ['pre_r', 'PREPROCESSING'],
      ['post_r', 'POSTPROCESSING'],
      ['fin_r', 'FINALIZING'],
    ]) {
      const directory = path.join(f.root, 'running', name!);
      await fs.mkdir(directory);
      await f.db.query(
        'INSERT INTO jobs (name, directory, url, state, submit_time) VALUES (?, ?, ?, ?, UTC_TIMESTAMP())',
        [name, directory, `http://example.org/${name}`, state],
      );
    }
    const adopt = await saliflowCli(f.configFile, ['adopt', '--apply'], { SALIFLOW_TEST_ADOPT_STEPS: 'rerun' });
    assert.equal(adopt.exitCode, 0, adopt.stderr);
    assert.match(adopt.stdout, /3 job\(s\): start 3, watch 0, fail 0, operator 0, leave 0/);
    assert.match(
      adopt.stdout,
      /pre_r\s+PREPROCESSING\s+start\s+saliweb stopped inside preprocess; the service declares it safe/,
    );
    await withWorker(f, service, async () => {
      for (const job of ['pre_r', 'post_r', 'fin_r']) {
        await until(`${job} COMPLETED`, async () =>
          (await jobRow(f.db, job)).state === 'COMPLETED' ? true : undefined,
        );
      }
    });
    // pre_r ran its do-nothing run and postprocessed; post_r postprocessed again; fin_r only finalized.
    for (const [job, postprocessed] of [
      ['pre_r', true],
      ['post_r', true],
      ['fin_r', false],
    ] as const) {
      const file = path.join(f.root, 'completed', job, 'postprocessed');
      assert.equal(await fs.readFile(file, 'utf8').catch(() => null), postprocessed ? 'postprocessed\n' : null, job);
    }
  });
});

async function hasWorkflow(client: Client, serviceName: string, job: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(jobWorkflowId(serviceName, job)).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}
