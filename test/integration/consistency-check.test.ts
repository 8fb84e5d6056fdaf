/** The worker's start-up check: the file system and the jobs table must agree. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import { checkConsistency, findInconsistencies } from '../../engine/consistency-check.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test('a consistent service passes; missing directories and stray entries are named', async () => {
  const kept = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'kept' });
  const lost = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'lost' });
  await checkConsistency(fixture.config, fixture.db);

  await fs.rm(lost.directory, { recursive: true });
  await fs.writeFile(path.join(fixture.root, 'completed', 'stray.txt'), 'x');
  const young = path.join(fixture.root, 'incoming', 'mid-submission');
  await fs.mkdir(young);
  const old = path.join(fixture.root, 'incoming', 'abandoned');
  await fs.mkdir(old);
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  await fs.utimes(old, longAgo, longAgo);

  const problems = await findInconsistencies(fixture.config, fixture.db);
  assert.deepEqual(
    problems.sort(),
    [
      `${old} belongs to no job in the jobs table; move it away or delete it`,
      `${path.join(fixture.root, 'completed', 'stray.txt')} belongs to no job in the jobs table; move it away or delete it`,
      `job lost (INCOMING): its directory ${lost.directory} is missing`,
    ].sort(),
  );
  await assert.rejects(
    checkConsistency(fixture.config, fixture.db),
    /the file system and the jobs table disagree[\s\S]*job lost/,
  );
  await fs.access(kept.directory);
});

test("saliweb's layout passes: state folders inside install, one state folder inside another", async () => {
  // As saliweb's example config: install is the service folder, holding the state folders, the
  // config, the socket and the state file; archived jobs go to a folder inside completed.
  const archived = path.join(fixture.root, 'completed', 'archive');
  await fs.mkdir(archived, { recursive: true });
  const config = {
    ...fixture.config,
    directories: { ...fixture.config.directories, install: fixture.root, ARCHIVED: archived },
  };
  await fs.writeFile(fixture.config.general.socket, '');
  await fs.writeFile(fixture.config.backend.stateFile, '');
  const stray = path.join(archived, 'left-over');
  await fs.mkdir(stray);
  const problems = await findInconsistencies(config, fixture.db);
  const named = (entry: string) => problems.some((problem) => problem.startsWith(`${entry} `));
  const expectedEntries = [
    ...['incoming', 'running', 'completed', 'failed', 'completed/archive'],
    ...['service.conf', 'backend.conf', 'frontend.conf', 'backend.socket', 'backend.state'],
  ];
  for (const entry of expectedEntries) {
    assert.ok(!named(path.join(fixture.root, entry)), `${entry} is not a stray entry:\n${problems.join('\n')}`);
  }
  assert.ok(named(stray), `a stray entry in the nested state folder is still found:\n${problems.join('\n')}`);
});

test('a state change cut short between its move and its commit is not an operator problem: the job puts it back', async () => {
  const cut = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'cut' });
  const running = path.join(fixture.root, 'running', cut.name);
  await fs.rename(cut.directory, running);
  await fixture.db.query("UPDATE jobs SET state = 'FINALIZING', directory = ? WHERE name = ?", [running, cut.name]);
  const aboutCut = async () =>
    (await findInconsistencies(fixture.config, fixture.db)).filter((problem) => problem.includes('/cut'));
  assert.deepEqual(await aboutCut(), []);
  // FINALIZING → COMPLETED moved the directory; the worker died before the row was committed.
  await fs.rename(running, path.join(fixture.root, 'completed', cut.name));
  assert.deepEqual(await aboutCut(), []);
  // Found in two places, it is not a cut-short move: both are named.
  await fs.mkdir(path.join(fixture.root, 'failed', cut.name));
  assert.equal((await aboutCut()).length, 3);
});

test("a finished job's missing directory refuses the start (saliweb's), saying how to go on; with report it is only named", async () => {
  // A service of its own: the tests above leave their problems behind.
  const fixture = await createServiceFixture();
  const done = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'done-gone' });
  await fixture.db.query("UPDATE jobs SET state = 'COMPLETED' WHERE name = ?", [done.name]);
  await fs.rm(done.directory, { recursive: true });
  try {
    await assert.rejects(
      checkConsistency(fixture.config, fixture.db),
      (error: Error) =>
        error.message.includes(`job done-gone (COMPLETED): its directory ${done.directory} is missing`) &&
        error.message.includes('[worker] missing_finished_directories: report to start anyway'),
    );
    const logged: string[] = [];
    const reporting = {
      ...fixture.config,
      worker: { ...fixture.config.worker, missingFinishedDirectories: 'report' as const },
    };
    await checkConsistency(reporting, fixture.db, (message) => logged.push(message));
    assert.deepEqual(logged, [
      `job done-gone (COMPLETED): its directory ${done.directory} is missing: left to you ` +
        '([worker] missing_finished_directories: report); restore it, or `saliflow delete done-gone` if it is gone for good',
    ]);
    // An unfinished job's missing directory still refuses: its next step would need it.
    const lost = await submitJob({ config: fixture.config, db: fixture.frontendDb, name: 'lost-unfinished' });
    await fs.rm(lost.directory, { recursive: true });
    await assert.rejects(checkConsistency(reporting, fixture.db), /job lost-unfinished \(INCOMING\)/);
  } finally {
    await fixture.cleanup();
  }
});
