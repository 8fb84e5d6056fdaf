/**
 * saliweb's operator command lines as its operators type them (`saliflow
 * saliweb failjob -n JOB`, `deljob STATE JOB`, `list_jobs`, `resubmit`,
 * `delete_all_jobs`), with saliweb's prompts answered on standard input,
 * against real MySQL and Temporal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { defineService, doNothing } from '../../core/index.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow } from '../support/jobs.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const service = defineService({ run: () => doNothing() });

const saliflow = (args: string[], input?: string) =>
  execa('node', [path.join(REPO_ROOT, 'bin/saliflow.js'), ...args, '--config', fixture.configFile], {
    reject: false,
    env: { SALIFLOW_CONFIG: '' },
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });

let order = 0;
/** A row and directory as saliweb's frontend and backend leave them (no workflow). */
async function job(name: string, state: string, folder: string) {
  const directory = path.join(fixture.root, folder, name);
  await fs.mkdir(directory, { recursive: true });
  await fixture.db.query(
    'INSERT INTO jobs (name, user, directory, url, state, submit_time, failure) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [
      name,
      'alice',
      directory,
      `http://example.org/${name}`,
      state,
      new Date(Date.UTC(2026, 0, 1, 0, 0, order++)),
      state === 'FAILED' ? 'boom' : null,
    ],
  );
}

const stateOf = async (name: string) => (await jobRow(fixture.db, name)).state;

test("list_jobs: saliweb's default states and its two columns, oldest first", async () => {
  await job('lj_fail', 'FAILED', 'failed');
  await job('lj_inc', 'INCOMING', 'incoming');
  await job('lj_done', 'COMPLETED', 'completed');
  const listed = await saliflow(['list_jobs']);
  assert.equal(listed.exitCode, 0, listed.stderr);
  assert.equal(listed.stdout, `${'lj_fail'.padEnd(60)} FAILED\n${'lj_inc'.padEnd(60)} INCOMING`);
  const completed = await saliflow(['saliweb', 'list_jobs', 'COMPLETED']);
  assert.equal(completed.stdout, `${'lj_done'.padEnd(60)} COMPLETED`);
  const bad = await saliflow(['list_jobs', 'DONE']);
  assert.equal(bad.exitCode, 2);
  for (const name of ['lj_fail', 'lj_inc', 'lj_done'])
    await fixture.db.query('DELETE FROM jobs WHERE name = ?', [name]);
});

test('failjob: asks for each job (n keeps it), -n skips the admin e-mail, -f does not ask', async () => {
  await job('fj_a', 'INCOMING', 'incoming');
  await job('fj_b', 'INCOMING', 'incoming');
  await job('fj_c', 'INCOMING', 'incoming');
  const mails = fixture.smtp.messages.length;
  const asked = await saliflow(['saliweb', 'failjob', 'fj_a', 'fj_b'], 'n\ny\n');
  assert.equal(asked.exitCode, 0, asked.stderr);
  assert.match(asked.stdout, /^Fail job fj_a\? Fail job fj_b\? failed fj_b \(was INCOMING\), admin e-mailed$/m);
  assert.equal(await stateOf('fj_a'), 'INCOMING');
  assert.equal(await stateOf('fj_b'), 'FAILED');
  await fixture.smtp.waitFor(mails + 1);
  const quiet = await saliflow(['saliweb', 'failjob', '-n', '-f', 'fj_c', 'nosuchjob']);
  assert.equal(quiet.exitCode, 1);
  assert.match(quiet.stdout, /failed fj_c \(was INCOMING\)$/m);
  assert.match(quiet.stderr, /^Could not find job nosuchjob$/m);
  assert.equal(await stateOf('fj_c'), 'FAILED');
  assert.equal(fixture.smtp.messages.length, mails + 1, '-n sends no e-mail');
  const row = await jobRow(fixture.db, 'fj_c');
  assert.equal(row.directory, path.join(fixture.root, 'failed', 'fj_c'));
});

test("failjob of COMPLETED, ARCHIVED and EXPIRED jobs: FAILED as saliweb does, directory to FAILED's folder, admin mailed once each", async () => {
  // saliweb: failjob moves a job in any state to FAILED (its documented use: a job that COMPLETED by mistake).
  await job('fj_done', 'COMPLETED', 'completed');
  await job('fj_arch', 'ARCHIVED', 'completed');
  await job('fj_exp', 'EXPIRED', 'completed');
  await fs.rm(path.join(fixture.root, 'completed', 'fj_exp'), { recursive: true });
  await fixture.db.query("UPDATE jobs SET directory = NULL WHERE name = 'fj_exp'");
  const mails = fixture.smtp.messages.length;
  const failed = await saliflow(['saliweb', 'failjob', '-f', 'fj_done', 'fj_arch', 'fj_exp']);
  assert.equal(failed.exitCode, 0, failed.stderr);
  for (const [name, from] of [
    ['fj_done', 'COMPLETED'],
    ['fj_arch', 'ARCHIVED'],
    ['fj_exp', 'EXPIRED'],
  ] as const) {
    assert.match(failed.stdout, new RegExp(`^failed ${name} \\(was ${from}\\), admin e-mailed$`, 'm'));
    const row = await jobRow(fixture.db, name);
    assert.equal(row.state, 'FAILED');
    assert.equal(row.failure, 'failed by an operator (saliflow failjob): forced into FAILED with failjob');
    // The directory moves as saliweb moves it; an EXPIRED job has none, its row alone changes.
    assert.equal(row.directory, name === 'fj_exp' ? null : path.join(fixture.root, 'failed', name));
    if (row.directory) await fs.access(row.directory);
  }
  await assert.rejects(fs.access(path.join(fixture.root, 'completed', 'fj_done')), /ENOENT/);
  // The command has returned: its mails are in the sink.
  const sent = fixture.smtp.messages.slice(mails);
  const service = fixture.config.general.serviceName;
  assert.deepEqual(
    sent.map((mail) => mail.subject).sort(),
    ['fj_arch', 'fj_done', 'fj_exp'].map((name) => `Sali lab ${service} service: Job ${name} FAILED`),
  );
  for (const name of ['fj_done', 'fj_arch', 'fj_exp'])
    await fixture.db.query('DELETE FROM jobs WHERE name = ?', [name]);
});

test('deljob STATE JOB: asks (Y deletes), -f does not, a job in another state is not found', async () => {
  await job('dj_a', 'FAILED', 'failed');
  await job('dj_b', 'FAILED', 'failed');
  const asked = await saliflow(['deljob', 'FAILED', 'dj_a'], 'Y\n');
  assert.equal(asked.exitCode, 0, asked.stderr);
  assert.match(asked.stdout, /Delete job dj_a\? deleted dj_a \(FAILED\)/);
  await assert.rejects(jobRow(fixture.db, 'dj_a'), /no row/);
  await assert.rejects(fs.access(path.join(fixture.root, 'failed', 'dj_a')));
  const wrong = await saliflow(['saliweb', 'deljob', '-f', 'INCOMING', 'dj_b']);
  assert.equal(wrong.exitCode, 1);
  assert.match(wrong.stderr, /dj_b: is FAILED, not INCOMING/);
  const forced = await saliflow(['saliweb', 'deljob', '-f', 'FAILED', 'dj_b']);
  assert.equal(forced.exitCode, 0, forced.stderr);
  await assert.rejects(jobRow(fixture.db, 'dj_b'), /no row/);
});

test('resubmit JOB: a FAILED job runs again; any other is not found', async () => {
  await job('rs_a', 'FAILED', 'failed');
  await job('rs_b', 'COMPLETED', 'completed');
  await withWorker(fixture, service, async () => {
    const resubmitted = await saliflow(['saliweb', 'resubmit', 'rs_a', 'rs_b']);
    assert.equal(resubmitted.exitCode, 1);
    assert.match(resubmitted.stdout, /^resubmitted rs_a$/m);
    assert.match(resubmitted.stderr, /^Could not find job rs_b$/m);
    await until('rs_a COMPLETED', async () => ((await stateOf('rs_a')) === 'COMPLETED' ? true : undefined));
  });
  assert.equal(await stateOf('rs_b'), 'COMPLETED');
});

test('delete_all_jobs: anything but YES cancels; YES deletes every job and empties every state folder', async () => {
  await job('da_a', 'COMPLETED', 'completed');
  // Strays (no row): saliweb's delete_all_jobs deletes them too.
  const strays = [
    path.join(fixture.root, 'completed', 'stray.txt'),
    path.join(fixture.root, 'failed', 'old-job'),
    path.join(fixture.root, 'incoming', 'half-submitted'),
  ];
  await fs.writeFile(strays[0]!, 'x');
  await fs.mkdir(path.join(strays[1]!, 'deep'), { recursive: true });
  await fs.mkdir(strays[2]!);
  const cancelled = await saliflow(['delete_all_jobs'], 'yes\n');
  assert.equal(cancelled.exitCode, 0, cancelled.stderr);
  assert.match(cancelled.stdout, /Enter exactly YES to proceed: Canceled\./);
  assert.equal(await stateOf('da_a'), 'COMPLETED');
  const deleted = await saliflow(['saliweb', 'delete_all_jobs'], 'YES\n');
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted \d+ job\(s\)/);
  const [rows] = await fixture.db.query('SELECT name FROM jobs');
  assert.deepEqual(rows, []);
  await assert.rejects(fs.access(path.join(fixture.root, 'completed', 'da_a')));
  for (const stray of strays) await assert.rejects(fs.access(stray), /ENOENT/, stray);
  for (const folder of ['incoming', 'running', 'completed', 'failed']) {
    assert.deepEqual(await fs.readdir(path.join(fixture.root, folder)), [], `${folder} is empty and still there`);
  }
  await fs.access(fixture.configFile);
});
