/**
 * The operator's verbs as typed (`saliflow …` in a child process) against a
 * worker on real MySQL and Temporal: status, list, show, cancel, failjob,
 * delete, delete-all-jobs, check; the happy paths and the mistakes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { defineService, doNothing, localCommand } from '../../core/index.js';
import { jobWorkflowId } from '../../core/job-workflow-contract.js';
import { submitJob } from '../../client/submit.js';
import { queryJobStatus } from '../../client/job-workflows.js';
import { ensureSchedules, deleteSchedules } from '../../activities/schedules.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { until } from '../support/until.js';
import { saliflowFor } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '1' } } });
});
after(async () => {
  await fixture.cleanup();
});

/** Jobs named quick* finish at once; the others run `sleep` long enough to be caught RUNNING. */
const service = defineService({
  run: (job) => (job.name.startsWith('quick') ? doNothing() : localCommand(['sleep', '60'])),
});

const saliflow = saliflowFor(() => fixture.configFile);

const submit = (client: Client, name: string, parents?: string[]) =>
  submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, ...(parents ? { parents } : {}) });

async function stateOf(job: string): Promise<string | undefined> {
  const [rows] = (await fixture.db.query('SELECT state FROM jobs WHERE name = ?', [job])) as unknown as [
    { state: string }[],
  ];
  return rows[0]?.state;
}

const inState = (job: string, state: string) =>
  until(`${job} to be ${state}`, async () => ((await stateOf(job)) === state ? true : undefined));

async function workflowStatus(client: Client, job: string): Promise<string> {
  return (await client.workflow.getHandle(jobWorkflowId(fixture.config.general.serviceName, job)).describe()).status
    .name;
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

const service_ = () => fixture.config.general.serviceName;

test('status without a worker says so and exits 3', async () => {
  const status = await saliflow('status');
  assert.equal(status.exitCode, 3, status.stderr);
  assert.match(status.stdout, /workers: NONE polling test-/);
  assert.match(status.stdout, /MySQL {6}127\.0\.0\.1:\d+\/sftest_/);
  assert.match(status.stdout, /\/reconcile: missing/);
  assert.match(status.stderr, /saliflow: no worker polls test-\w+: start `saliflow worker`/);
});

test('status, list and show with a worker: pollers, counts, schedules, why jobs wait', async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      await ensureSchedules(client, fixture.config);
      try {
        const running = await submit(client, 'busy');
        await inState(running.name, 'RUNNING');
        const second = await submit(client, 'second');
        const child = await submit(client, 'waiter', [second.name]);
        // Each waiting job's workflow has asked for a slot and says why it waits.
        for (const job of [second.name, child.name]) {
          await until(`${job} to say why it waits`, async () => {
            const answer = await queryJobStatus(client, fixture.config, job);
            return 'status' in answer && answer.status.waiting ? true : undefined;
          });
        }

        const status = await saliflow('status');
        assert.equal(status.exitCode, 0, status.stderr);
        assert.match(status.stdout, /workers: 1 polling test-/);
        assert.match(status.stdout, /\n {2}Limits {5}running 1\n/);
        const queue = fixture.taskQueue;
        for (const polled of [queue, `${queue}-waits`, `${queue}-host-`])
          assert.ok(status.stdout.includes(`  ${polled}`));
        assert.match(status.stdout, /RUNNING +1\n +INCOMING|INCOMING +2[\s\S]*RUNNING +1/);
        assert.match(status.stdout, new RegExp(`${service_()}/reconcile: (not run yet|last ran)`));
        assert.match(status.stdout, /Web UI +http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\?query=/);
        const statusJson = JSON.parse((await saliflow('status', '--json')).stdout);
        assert.deepEqual(statusJson.jobs, { RUNNING: 1, INCOMING: 2 });

        const listed = await saliflow('list');
        assert.equal(listed.exitCode, 0, listed.stderr);
        assert.match(listed.stdout, /RUNNING {9}busy {2}- {2}local:/);
        assert.match(listed.stdout, /INCOMING {8}second {2}- {2}1 of 1 running slots taken, 1st in line/);
        assert.match(listed.stdout, /INCOMING {8}waiter {2}- {2}waiting for parent job second \(INCOMING\)/);
        const listedJson = JSON.parse((await saliflow('list', '--json', 'incoming')).stdout);
        assert.deepEqual(
          listedJson.map((job: { name: string; waiting: string }) => [job.name, job.waiting]),
          [
            ['second', '1 of 1 running slots taken, 1st in line'],
            ['waiter', 'waiting for parent job second (INCOMING)'],
          ],
        );

        const shown = await saliflow('show', 'busy');
        assert.equal(shown.exitCode, 0, shown.stderr);
        assert.match(shown.stdout, /^job busy: RUNNING/);
        assert.match(shown.stdout, new RegExp(`workflow  ${service_()}/busy: RUNNING \\(run `));
        assert.match(shown.stdout, /now {7}RUNNING, cycle 1, run local:/);
        assert.match(
          shown.stdout,
          /Web UI {4}http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/Test\w+%2Fbusy/,
        );
        assert.match(shown.stdout, /entered:\n {2}submitted \(INCOMING\) +\d{4}-[\s\S]* {2}RUNNING +\d{4}-/);
        assert.match(shown.stdout, /\n {2}directory +\/.*\/running\/busy\n/);
        const waiting = JSON.parse((await saliflow('show', '--json', 'waiter')).stdout);
        assert.equal(waiting.row.state, 'INCOMING');
        assert.equal(waiting.now.waiting, 'waiting for parent job second (INCOMING)');
        assert.equal(waiting.waiting, 'waiting for parent job second (INCOMING)', 'computed now from MySQL');

        // Mistakes: an unknown job, a bad name, a bad state.
        const unknown = await saliflow('show', 'nosuchjob');
        assert.equal(unknown.exitCode, 1);
        assert.equal(
          unknown.stderr.trim(),
          `saliflow: no job nosuchjob in ${service_()}; \`saliflow list\` shows the jobs there are`,
        );
        const badName = await saliflow('show', 'a/b');
        assert.equal(badName.exitCode, 2);
        assert.match(badName.stderr, /bad job name "a\/b": job names have 1 to 40 letters, digits/);
        const badState = await saliflow('list', 'bogus');
        assert.equal(badState.exitCode, 2);
        assert.match(badState.stderr, /unknown state "bogus"; use one of INCOMING, PREPROCESSING/);
        const cancelUnknown = await saliflow('cancel', 'nosuchjob');
        assert.equal(cancelUnknown.exitCode, 1);
        assert.match(cancelUnknown.stderr, new RegExp(`saliflow: no job nosuchjob in ${service_()}`));
        assert.doesNotMatch(cancelUnknown.stderr, /workflow not found/i);
      } finally {
        await deleteSchedules(client, fixture.config);
        await saliflow('delete-all-jobs', '--force');
      }
    },
    { admission: { sweepMs: 1000 } },
  );
});

/** The local run's process group, from the row's runner id (`local:<start>-<pid>@<host>`), once it is submitted. */
async function localRunPid(job: string): Promise<number> {
  return until(`job ${job} to have a local run`, async () => {
    const [rows] = (await fixture.db.query('SELECT runner_id FROM jobs WHERE name = ?', [job])) as unknown as [
      { runner_id: string | null }[],
    ];
    const pid = Number(/^local:\d+-(\d+)/.exec(rows[0]?.runner_id ?? '')?.[1]);
    return pid > 0 ? pid : undefined;
  });
}

const processGroupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The run's `sleep 60` is gone well before it would end by itself (a killed child may stay a zombie a moment). */
const killed = (pid: number) =>
  until(`process group ${pid} to be killed`, async () => (processGroupAlive(pid) ? undefined : true), 10_000);

test("delete: a live job's run is deleted and its workflow ended first, then row, dependencies and directory go", async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const live = await submit(client, 'live');
      await inState(live.name, 'RUNNING');
      const child = await submit(client, 'orphan', [live.name]);
      const pid = await localRunPid(live.name);
      assert.ok(processGroupAlive(pid));

      const wrongState = await saliflow('delete', live.name, '--state', 'FAILED', '--force');
      assert.equal(wrongState.exitCode, 1);
      assert.match(wrongState.stderr, /job live: is RUNNING, not FAILED; to delete it, pass --state RUNNING/);
      const noTerminal = await saliflow('delete', live.name, '--state', 'RUNNING');
      assert.equal(noTerminal.exitCode, 2);
      assert.match(noTerminal.stderr, /delete: standard input is not a terminal, so nobody can confirm; pass --force/);
      const badState = await saliflow('delete', live.name, '--state', 'gone', '--force');
      assert.equal(badState.exitCode, 2);
      assert.match(badState.stderr, /unknown state "gone"/);
      const noState = await saliflow('delete', live.name, '--force');
      assert.equal(noState.exitCode, 2);
      assert.match(noState.stderr, /required option '-s, --state <state>' not specified/);
      assert.equal(await stateOf(live.name), 'RUNNING', 'mistakes change nothing');
      assert.equal(await workflowStatus(client, live.name), 'RUNNING');

      const deleted = await saliflow('delete', live.name, '--state', 'running', '--force');
      assert.equal(deleted.exitCode, 0, deleted.stderr);
      assert.match(
        deleted.stdout,
        /deleted live \(RUNNING\): workflow stopped, row deleted, directory .*running\/live deleted/,
      );
      assert.doesNotMatch(deleted.stdout, /may still be going/);
      await killed(pid);
      // saliweb: deleting a job removes its dependency rows on both sides, so its children are released (issue 29).
      assert.match(
        deleted.stdout,
        /jobs waiting for it are released \(they start once their other parents are done\): orphan/,
      );
      assert.equal(await stateOf(live.name), undefined);
      assert.equal(await exists(live.directory), false);
      assert.equal(await exists(path.join(fixture.root, 'running', 'live')), false);
      assert.equal(await workflowStatus(client, live.name), 'FAILED');
      const failure = await client.workflow
        .getHandle(jobWorkflowId(service_(), live.name))
        .result()
        .catch((error: Error & { cause?: Error }) => error.cause?.message);
      assert.equal(failure, 'stopped: deleted by an operator (saliflow delete --state RUNNING)');

      const [deps] = (await fixture.db.query('SELECT * FROM dependencies')) as unknown as [unknown[]];
      assert.deepEqual(deps, []);
      // Released, the child took the freed slot.
      await inState(child.name, 'RUNNING');
      const deletedChild = await saliflow('delete', child.name, '--state', 'RUNNING', '--force');
      assert.equal(deletedChild.exitCode, 0, deletedChild.stderr);
      assert.equal(await exists(child.directory), false);

      const again = await saliflow('delete', live.name, '--state', 'RUNNING', '--force');
      assert.equal(again.exitCode, 1);
      assert.match(again.stderr, /no job live in Test/);
    },
    { admission: { sweepMs: 1000 } },
  );
});

test('failjob: run deleted and workflow ended, row FAILED through the transition, admin e-mailed unless --no-email', async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      const done = await submit(client, 'quickdone');
      await inState(done.name, 'COMPLETED');
      const runningJob = await submit(client, 'stuck');
      await inState(runningJob.name, 'RUNNING');
      const waiting = await submit(client, 'waiting');
      const mailsBefore = fixture.smtp.messages.length;
      const pid = await localRunPid(runningJob.name);

      const failed = await saliflow('failjob', runningJob.name, '--reason', 'node on fire');
      assert.equal(failed.exitCode, 0, failed.stderr);
      assert.match(
        failed.stdout,
        /failed stuck \(was RUNNING\): workflow stopped, row FAILED, directory .*failed\/stuck, admin e-mailed/,
      );
      await killed(pid);
      const [row] = (await fixture.db.query('SELECT state, failure, directory FROM jobs WHERE name = ?', [
        runningJob.name,
      ])) as unknown as [{ state: string; failure: string; directory: string }[]];
      assert.equal(row[0]!.state, 'FAILED');
      assert.equal(row[0]!.failure, 'failed by an operator (saliflow failjob): node on fire');
      assert.equal(row[0]!.directory, path.join(fixture.root, 'failed', 'stuck'));
      assert.ok(await exists(row[0]!.directory));
      assert.equal(await workflowStatus(client, runningJob.name), 'FAILED');
      const mails = await fixture.smtp.waitFor(mailsBefore + 1);
      assert.match(mails.at(-1)!.subject, /^Sali lab \S+ service: Job stuck FAILED$/);
      assert.match(mails.at(-1)!.text, /node on fire/);

      // The command handed the freed slot to the waiting job itself; failing it without e-mail.
      assert.match(failed.stdout, /\n {2}the freed slot went to waiting/);
      await inState(waiting.name, 'RUNNING');
      const quiet = await saliflow('failjob', waiting.name, '--reason', 'duplicate', '--no-email');
      assert.equal(quiet.exitCode, 0, quiet.stderr);
      assert.equal(await stateOf(waiting.name), 'FAILED');
      // What could have e-mailed is over: the command (its mail is in the sink before the SMTP server accepts it,
      // and the command waits for that) and the job's workflow, which ended before the row moved.
      assert.doesNotMatch(quiet.stdout, /admin e-mailed/);
      assert.equal(await workflowStatus(client, waiting.name), 'FAILED');
      assert.equal(fixture.smtp.messages.length, mailsBefore + 1, 'no e-mail with --no-email');

      // saliweb: failjob moves a job in any state to FAILED, a COMPLETED one too (issue 29; this used to be refused).
      const finished = await saliflow('failjob', done.name, '--reason', 'completed by mistake', '--no-email');
      assert.equal(finished.exitCode, 0, finished.stderr);
      assert.match(finished.stdout, /failed quickdone \(was COMPLETED\): .*row FAILED, directory .*failed\/quickdone/);
      assert.equal(await stateOf(done.name), 'FAILED');
      const unknown = await saliflow('failjob', 'nosuchjob', done.name, '--reason', 'x');
      assert.equal(unknown.exitCode, 1);
      assert.match(
        unknown.stderr,
        /no job nosuchjob in Test[\s\S]*job quickdone: is already FAILED[\s\S]*2 of 2 job\(s\) not failed/,
      );
      const noReason = await saliflow('failjob', done.name);
      assert.equal(noReason.exitCode, 2);
      assert.match(noReason.stderr, /required option '-r, --reason <text>' not specified/);

      // A FAILED job may be deleted; its directory in FAILED's folder goes too.
      const removed = await saliflow('delete', runningJob.name, '--state', 'FAILED', '--force');
      assert.equal(removed.exitCode, 0, removed.stderr);
      assert.match(removed.stdout, /deleted stuck \(FAILED\): workflow already failed, row deleted/);
      assert.equal(await exists(path.join(fixture.root, 'failed', 'stuck')), false);
    },
    { admission: { sweepMs: 1000 } },
  );
});

test('check finds what disagrees, --repair fixes what is safe; delete-all-jobs needs YES or --force', async () => {
  await withWorker(
    fixture,
    service,
    async ({ client }) => {
      await saliflow('delete-all-jobs', '--force');
      const clean = await saliflow('check');
      assert.equal(clean.exitCode, 0, clean.stderr + clean.stdout);
      assert.match(clean.stdout, /directories, rows and workflows agree/);

      const lost = await submit(client, 'quicklost');
      // The row says COMPLETED before saliflow has written its completion record: wait for the workflow's end.
      await client.workflow.getHandle(lost.workflowId).result();
      await fs.rm(path.join(fixture.root, 'completed', lost.name), { recursive: true });
      // A row a legacy frontend inserted without starting a workflow (no slot is free for it to run).
      const blocker = await submit(client, 'blocker');
      await inState(blocker.name, 'RUNNING');
      await fs.mkdir(path.join(fixture.root, 'incoming', 'legacy'));
      await fixture.frontendDb.query(
        "INSERT INTO jobs (name, passwd, directory, url, submit_time) VALUES ('legacy', 'x', ?, 'http://x', UTC_TIMESTAMP())",
        [path.join(fixture.root, 'incoming', 'legacy')],
      );

      const found = await saliflow('check');
      assert.equal(found.exitCode, 3);
      assert.match(
        found.stdout,
        /job quicklost \(COMPLETED\): its directory .* is missing\n {2}to do: restore it from a backup, or delete the job: saliflow delete quicklost --state COMPLETED/,
      );
      assert.match(
        found.stdout,
        /job legacy \(INCOMING\) has no running workflow, so nothing moves it\n {2}to do: saliflow check --repair starts it/,
      );
      assert.match(found.stderr, /saliflow: 2 problem\(s\) need an operator/);

      const repaired = await saliflow('check', '--repair', '--json');
      assert.equal(repaired.exitCode, 3);
      const problems = JSON.parse(repaired.stdout) as { kind: string; repaired?: string }[];
      assert.deepEqual(problems.map((problem) => [problem.kind, !!problem.repaired]).sort(), [
        ['missing-directory', false],
        ['no-workflow', true],
      ]);
      assert.equal(await workflowStatus(client, 'legacy'), 'RUNNING');

      const deleted = await saliflow('delete', lost.name, '--state', 'COMPLETED', '--force');
      assert.equal(deleted.exitCode, 0, deleted.stderr);
      const fine = await saliflow('check');
      assert.equal(fine.exitCode, 0, fine.stdout);

      const noTerminal = await saliflow('delete-all-jobs');
      assert.equal(noTerminal.exitCode, 2);
      assert.match(
        noTerminal.stderr,
        /delete-all-jobs: standard input is not a terminal, so nobody can confirm; pass --force/,
      );
      assert.equal(await stateOf('legacy'), 'INCOMING');
      const all = await saliflow('delete-all-jobs', '--force');
      assert.equal(all.exitCode, 0, all.stderr);
      assert.match(
        all.stdout,
        /deleted 2 job\(s\) of Test\w+: 2 workflow\(s\) stopped \(their runs deleted\), 0 terminated, 2 directory\(ies\) deleted/,
      );
      const [rows] = (await fixture.db.query('SELECT name FROM jobs')) as unknown as [unknown[]];
      assert.deepEqual(rows, []);
      for (const job of ['legacy', 'blocker']) assert.equal(await workflowStatus(client, job), 'FAILED');
      for (const dir of ['incoming', 'running']) assert.deepEqual(await fs.readdir(path.join(fixture.root, dir)), []);
    },
    { admission: { sweepMs: 1000 } },
  );
});

test('every verb has --help; an unknown verb is a usage error', async () => {
  for (const verb of [
    'list',
    'show',
    'status',
    'check',
    'delete',
    'failjob',
    'delete-all-jobs',
    'cancel',
    'resubmit',
  ]) {
    const help = await saliflow(verb, '--help');
    assert.equal(help.exitCode, 0, `${verb} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^Usage: saliflow ${verb}`));
  }
  const unknown = await execa('node', [path.join(REPO_ROOT, 'bin/saliflow.js'), 'frobnicate'], { reject: false });
  assert.equal(unknown.exitCode, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});
