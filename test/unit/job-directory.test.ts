import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIRECTORY_STATES, type DirectoriesConfig } from '../../core/config/index.js';
import { JobStateError } from '../../core/errors.js';
import { checkJobDirectory } from '../../engine/job-directory.js';

const ROOT = mkdtempSync(join(tmpdir(), 'saliflow-job-directory-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

/** A service whose INCOMING folder is reached through a symlink, as when its storage lives elsewhere. */
function service(name: string) {
  const base = join(ROOT, name);
  const directories = Object.fromEntries(
    DIRECTORY_STATES.map((state) => [state, join(base, state.toLowerCase())]),
  ) as DirectoriesConfig;
  for (const state of DIRECTORY_STATES) if (state !== 'INCOMING') mkdirSync(directories[state], { recursive: true });
  mkdirSync(join(base, 'disk-a'));
  symlinkSync(join(base, 'disk-a'), directories.INCOMING);
  return { base, config: { directories } };
}

const rejects = (promise: Promise<unknown>, problem: RegExp) =>
  assert.rejects(promise, (error: unknown) => error instanceof JobStateError && problem.test(error.message));

test('a job directory inside a state folder reached through a symlink passes, repeatedly', async () => {
  const { base, config } = service('plain');
  mkdirSync(join(base, 'disk-a', 'job1'));
  const directory = join(config.directories.INCOMING, 'job1');
  assert.equal(await checkJobDirectory(config, 'job1', directory), directory);
  assert.equal(await checkJobDirectory(config, 'job1', directory), directory);
});

test('bad rows are refused with the reason, also once the folders are known', async () => {
  const { base, config } = service('bad');
  mkdirSync(join(base, 'disk-a', 'ok'));
  await checkJobDirectory(config, 'ok', join(config.directories.INCOMING, 'ok'));
  mkdirSync(join(base, 'elsewhere', 'job'), { recursive: true });
  await rejects(
    checkJobDirectory(config, 'x', join(base, 'elsewhere', 'job')),
    /directory ".*elsewhere\/job" is not directly inside a state folder/,
  );
  await rejects(checkJobDirectory(config, 'x', config.directories.RUNNING), /is a state folder itself/);
  await rejects(checkJobDirectory(config, 'x', join(base, 'disk-a')), /is a state folder itself/);
  await rejects(checkJobDirectory(config, 'x', 'relative/job'), /is not an absolute path/);
  await rejects(checkJobDirectory(config, 'x', join(config.directories.RUNNING, 'gone')), /is missing/);
  writeFileSync(join(config.directories.RUNNING, 'file'), '');
  await rejects(checkJobDirectory(config, 'x', join(config.directories.RUNNING, 'file')), /is not a directory/);
  symlinkSync(join(base, 'elsewhere', 'job'), join(config.directories.RUNNING, 'link'));
  await rejects(checkJobDirectory(config, 'x', join(config.directories.RUNNING, 'link')), /is a symbolic link/);
});

test('a state folder moved to other storage is seen at once', async () => {
  const { base, config } = service('moved');
  mkdirSync(join(base, 'disk-a', 'before'));
  await checkJobDirectory(config, 'before', join(config.directories.INCOMING, 'before'));
  // The admin moves INCOMING to another disk: the symlink now points at disk-b.
  mkdirSync(join(base, 'disk-b', 'after'), { recursive: true });
  rmSync(config.directories.INCOMING);
  symlinkSync(join(base, 'disk-b'), config.directories.INCOMING);
  const directory = join(config.directories.INCOMING, 'after');
  assert.equal(await checkJobDirectory(config, 'after', directory), directory);
});

test('a state folder reached through another folder’s symlink is still a state folder', async () => {
  const { base, config } = service('nested');
  // RUNNING configured inside INCOMING's real folder; the row names it through INCOMING's symlink.
  const directories = { ...config.directories, RUNNING: join(base, 'disk-a', 'running') };
  mkdirSync(directories.RUNNING);
  await rejects(
    checkJobDirectory({ directories }, 'x', join(directories.INCOMING, 'running')),
    /is a state folder itself/,
  );
});

test("a finished job's directory in a folder no longer configured passes with oldLocationOk, named after its job only", async () => {
  const { base, config } = service('oldplace');
  mkdirSync(join(base, 'old-completed', 'job'), { recursive: true });
  const old = join(base, 'old-completed', 'job');
  const oldLocationOk = true;
  assert.equal(await checkJobDirectory(config, 'job', old, { oldLocationOk }), old);
  await rejects(checkJobDirectory(config, 'job', old), /is not directly inside a state folder/);
  await rejects(checkJobDirectory(config, 'other', old, { oldLocationOk }), /is not directly inside a state folder/);
  await rejects(checkJobDirectory(config, 'running', config.directories.RUNNING, { oldLocationOk }), /state folder/);
  symlinkSync(old, join(base, 'old-completed', 'linked'));
  await rejects(
    checkJobDirectory(config, 'linked', join(base, 'old-completed', 'linked'), { oldLocationOk }),
    /is a symbolic link/,
  );
});
