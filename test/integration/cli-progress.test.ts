/**
 * Long `saliflow` operations on many jobs: off a terminal the output is
 * exactly what it was (`--json` parses, stderr stays empty); on a terminal
 * (a real pseudo-terminal, util-linux `script`) a progress bar counts on
 * stderr and is erased when done.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { submitJob } from '../../client/submit.js';
import type { ListedJob } from '../../client/list-jobs.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

const CLI = path.join(REPO_ROOT, 'bin/saliflow.js');
const ERASE = '\r\x1b[2K';
const JOBS = 300;

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const saliflow = (...args: string[]) =>
  execa('node', [CLI, ...args, '--config', fixture.configFile], { reject: false });

/** Runs the CLI with stderr (and, unless redirected in `shellTail`, stdout) on a pseudo-terminal; returns what the terminal got. */
async function onTerminal(args: string[], shellTail = '') {
  const command = `node ${CLI} ${args.join(' ')} --config ${fixture.configFile}${shellTail}`;
  const result = await execa('script', ['-qec', command, '/dev/null'], { reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode, terminal: result.stdout };
}

/** Jobs as a legacy frontend leaves them: a row and a directory, no workflow (none is started without a client). */
async function submitMany(prefix: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (let start = 0; start < names.length; start += 20) {
    await Promise.all(
      names.slice(start, start + 20).map((name) => submitJob({ config: fixture.config, db: fixture.frontendDb, name })),
    );
  }
  return names;
}

test('list --json of many jobs: clean JSON; why each waits comes from MySQL at once, with nothing to show on a terminal', async () => {
  await submitMany('many', JOBS);
  const plain = await saliflow('list', '--json');
  assert.equal(plain.exitCode, 0, plain.stderr);
  assert.equal(plain.stderr, '', 'nothing extra on stderr off a terminal');
  const listed = JSON.parse(plain.stdout) as ListedJob[];
  assert.equal(listed.length, JOBS);
  // Computed from the rows (two statements for the whole list), workflows or not.
  assert.equal(listed[0]!.waiting, '0 of 5 running slots taken, 1st in line');
  assert.equal(listed[JOBS - 1]!.waiting, `0 of 5 running slots taken, ${JOBS}th in line`);

  const out = path.join(fixture.root, 'list.json');
  const tty = await onTerminal(['list', '--json'], ` > ${out}`);
  assert.equal(tty.exitCode, 0, tty.terminal);
  assert.equal((JSON.parse(await fs.readFile(out, 'utf8')) as ListedJob[]).length, JOBS, 'stdout is still clean JSON');
  assert.equal(tty.terminal.trim(), '', 'no progress bar: nothing is asked job by job');
});

test('delete-all-jobs of many jobs shows its phases on a terminal; delete of several prints only its lines off one', async () => {
  const tty = await onTerminal(['delete-all-jobs', '--force']);
  assert.equal(tty.exitCode, 0, tty.terminal);
  assert.match(tty.terminal, /stopping workflows \[#+\] 300\/300 100%/);
  assert.match(tty.terminal, /deleting directories \[#+\] 300\/300 100%/);
  assert.match(tty.terminal, new RegExp(`${ERASE.replace('[', '\\[')}deleted ${JOBS} job\\(s\\) of Test\\w+`));

  const names = await submitMany('few', 3);
  const plain = await saliflow('delete', ...names, '--state', 'INCOMING', '--force');
  assert.equal(plain.exitCode, 0, plain.stderr);
  assert.equal(plain.stderr, '');
  assert.deepEqual(
    plain.stdout.split('\n').map((line) => line.replace(/:.*/, '')),
    names.map((name) => `deleted ${name} (INCOMING)`),
  );
});
