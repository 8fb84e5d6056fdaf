/**
 * Many services on one `saliflow worker` process (--services-dir): jobs flow
 * through every service while one service's database is gone (its jobs
 * table renamed away on the shared MariaDB, which stays up); the others go
 * on and complete, and that service's jobs complete once its table is back.
 * A service that cannot start (no module in its folder) is reported by
 * name, and the others start. SIGHUP and SIGUSR2 reach every service;
 * `db drop-tables` drops the pause/limits table too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { execa } from 'execa';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';

/** The twenty: do-nothing services are cheap enough to run all of them here. */
const SERVICES = 20;
const JOBS_PER_SERVICE = 3;
const BIN = path.join(REPO_ROOT, 'bin/saliflow.js');
const module = (name: string) => path.join(REPO_ROOT, 'test/support/services', `${name}.ts`);

let fixtures: ServiceFixture[] = [];
let dir: string;
before(async () => {
  fixtures = [];
  for (let i = 0; i < SERVICES; i++) fixtures.push(await createServiceFixture());
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-services-'));
  // One folder per service, its files linked from where the service keeps them (the documented layout).
  for (const [i, fixture] of fixtures.entries()) {
    const folder = path.join(dir, `svc${String(i).padStart(2, '0')}`);
    await fs.mkdir(folder);
    await fs.symlink(fixture.configFile, path.join(folder, 'service.conf'));
    // The first service's jobs wait for a `go` file: they are in flight when its database goes.
    await fs.symlink(module(i === 0 ? 'go-file-job' : 'nothing-job'), path.join(folder, 'service.ts'));
  }
  await fs.mkdir(path.join(dir, 'zz-no-module'));
  await fs.symlink(fixtures[1]!.configFile, path.join(dir, 'zz-no-module', 'service.conf'));
});
after(async () => {
  const { client, close } = await temporalClient();
  for (const fixture of fixtures) await deleteSchedules(client, fixture.config);
  await close();
  for (const fixture of fixtures) await fixture.cleanup();
  await fs.rm(dir, { recursive: true, force: true });
});

async function states(fixture: ServiceFixture): Promise<string[]> {
  const [rows] = (await fixture.db.query('SELECT state FROM jobs')) as unknown as [{ state: string }[]];
  return rows.map((row) => row.state);
}

test(
  `${SERVICES} services on one worker: one service's database goes away, the others complete; it recovers`,
  { timeout: 300_000 },
  async () => {
    const worker = execa('node', [BIN, 'worker', '--services-dir', dir], { reject: false, all: true });
    let output = '';
    worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const { client, close } = await temporalClient();
    const admin = await mysql.createConnection(fixtures[0]!.admin);
    const broken = fixtures[0]!;
    const brokenDb = broken.config.database.db;
    try {
      await until(
        `${SERVICES} services to start`,
        async () => {
          if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
          return (output.match(/"msg":"saliflow worker for /g) ?? []).length === SERVICES ? true : undefined;
        },
        120_000,
      );
      // The folder with no module is reported by its name, and did not stop the others.
      assert.match(output, /service zz-no-module: cannot start: .*zz-no-module has none of service\.js/);
      for (const fixture of fixtures) {
        assert.match(output, new RegExp(`saliflow worker for ${fixture.config.general.serviceName}: task queue`));
      }
      // Every line of a service says which service it is.
      assert.match(output, new RegExp(`"service":"${fixtures[5]!.config.general.serviceName}"`));

      const submit = (fixture: ServiceFixture, name: string) =>
        submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, files: {} });
      const brokenJobs: SubmittedJob[] = [];
      for (let j = 0; j < JOBS_PER_SERVICE; j++) brokenJobs.push(await submit(broken, `held${j}`));
      await until('the first service to run its jobs', async () =>
        (await states(broken)).every((state) => state === 'RUNNING') ? true : undefined,
      );

      // Its database goes away (the shared server stays up): then its runs end, with nowhere to record it.
      await admin.query(`RENAME TABLE \`${brokenDb}\`.jobs TO \`${brokenDb}\`.jobs_away`);
      for (const job of brokenJobs) await fs.writeFile(path.join(broken.root, 'running', job.name, 'go'), '');

      const others = fixtures.slice(1);
      const submitted = await Promise.all(
        others.map(async (fixture) => {
          const jobs: SubmittedJob[] = [];
          for (let j = 0; j < JOBS_PER_SERVICE; j++) jobs.push(await submit(fixture, `job${j}`));
          return jobs;
        }),
      );
      assert.equal(submitted.flat().length, (SERVICES - 1) * JOBS_PER_SERVICE);
      await until(
        'every job of the other services to complete',
        async () => {
          for (const fixture of others) {
            const all = await states(fixture);
            if (all.length !== JOBS_PER_SERVICE || all.some((state) => state !== 'COMPLETED')) return undefined;
          }
          return true;
        },
        180_000,
      );
      // The failure was the broken service's own, said in its lines.
      assert.match(
        output,
        new RegExp(`"service":"${broken.config.general.serviceName}"[^\\n]*${brokenDb}\\.jobs' doesn't exist`),
      );
      assert.equal(worker.exitCode, null, 'the worker is still running');

      await admin.query(`RENAME TABLE \`${brokenDb}\`.jobs_away TO \`${brokenDb}\`.jobs`);
      await until(
        'the first service to complete its jobs once its table is back',
        async () => ((await states(broken)).every((state) => state === 'COMPLETED') ? true : undefined),
        120_000,
      );
      for (const job of brokenJobs) {
        const runs = await fs.readFile(path.join(broken.root, 'completed', job.name, 'runs.txt'), 'utf8');
        assert.equal(runs, 'ran\n', 'each job ran once');
      }

      // The operator's signals reach every service: SIGHUP reloads each one's limits, SIGUSR2 drains them all.
      const count = (pattern: RegExp) => (output.match(pattern) ?? []).length;
      worker.kill('SIGHUP');
      await until('every service to reload its limits', async () =>
        count(/"msg":"limits reloaded from /g) === SERVICES ? true : undefined,
      );
      for (const fixture of fixtures) assert.match(output, new RegExp(`limits reloaded from ${fixture.configFile}`));
      worker.kill('SIGUSR2');
      const result = await worker;
      assert.equal(result.exitCode, 0, output.slice(-3000));
      assert.equal(count(/"msg":"drained: no work left on this worker/g), SERVICES);
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
      await admin.query(`RENAME TABLE \`${brokenDb}\`.jobs_away TO \`${brokenDb}\`.jobs`).catch(() => undefined);
      await admin.end();
      await close();
    }
  },
);

test('db drop-tables drops the jobs, dependencies and saliflow_control tables', async () => {
  const fixture = fixtures[2]!;
  const paused = await execa('node', [BIN, 'pause', '--config', fixture.configFile, '--reason', 'before a drop']);
  assert.equal(paused.exitCode, 0);
  const dropped = await execa('node', [BIN, 'db', 'drop-tables', '--config', fixture.configFile]);
  assert.match(dropped.stdout, /dropped tables jobs, dependencies and saliflow_control/);
  const [tables] = (await fixture.db.query('SHOW TABLES')) as unknown as [Record<string, string>[]];
  assert.deepEqual(tables, []);
});
