/**
 * Bad inputs among good jobs, on a real worker: rows a frontend got wrong,
 * runner specs a service got wrong, odd thrown values, malformed configs.
 * Each bad one fails alone with an error naming it; every good job submitted
 * around them completes; nothing outside the job tree changes (a decoy
 * folder, pointed at by some rows, is checksummed before and after).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { startJob } from '../../activities/job-start.js';
import { submitJob } from '../../client/submit.js';
import { loadServiceConfig } from '../../core/config/index.js';
import { ConfigError } from '../../core/errors.js';
import { defineService, localCommand } from '../../core/index.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
let decoy: string;

before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: '3' } } });
  decoy = path.join(fixture.root, 'decoy');
  await fs.mkdir(path.join(decoy, 'inner'), { recursive: true });
  await fs.writeFile(path.join(decoy, 'precious.txt'), 'do not touch\n');
  await fs.writeFile(path.join(decoy, 'inner', 'also.txt'), 'nor this\n');
});
after(async () => {
  await fixture.cleanup();
});

/** Every file under `root` with its content hash, and every folder. */
async function checksum(root: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for (const entry of (await fs.readdir(root, { recursive: true, withFileTypes: true })).sort((a, b) =>
    path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)),
  )) {
    const full = path.join(entry.parentPath, entry.name);
    hash.update(`${path.relative(root, full)}\n`);
    if (entry.isFile()) hash.update(await fs.readFile(full));
  }
  return hash.digest('hex');
}

// What `run` returns (or throws) for each bad-spec job, keyed by the job name.
const badRuns: Record<string, () => unknown> = {
  'spec-no-command': () => ({ kind: 'local' }),
  'spec-number-command': () => ({ kind: 'local', command: 17 }),
  'spec-empty-argv': () => ({ kind: 'local', command: [] }),
  'spec-argv-number': () => ({ kind: 'local', command: ['ls', 5] }),
  'spec-sge-unconfigured': () => ({ kind: 'sge', script: 'echo hi' }),
  'spec-slurm-no-script': () => ({ kind: 'slurm' }),
  'spec-bad-url': () => ({ kind: 'web-service', url: 'not a url', fields: {} }),
  'spec-bad-field': () => ({ kind: 'web-service', url: 'http://remote.example/job', fields: ['name=x', 'pdb@x'] }),
  'spec-unknown-kind': () => ({ kind: 'teleport' }),
  'spec-null': () => null,
  'spec-string': () => 'run me',
  'spec-env-number': () => ({ kind: 'local', command: 'true', env: { A: 1 } }),
  'throw-no-prototype': () => {
    throw Object.create(null);
  },
  'throw-null': () => {
    throw null;
  },
  'throw-string': () => {
    throw 'a plain string';
  },
  'throw-undefined': () => {
    throw undefined;
  },
  'throw-hostile': () => {
    throw {
      toString() {
        throw new Error('no');
      },
      toJSON() {
        throw new Error('no');
      },
    };
  },
  'throw-number': () => {
    throw 42;
  },
};

const expectedRunErrors: Record<string, RegExp> = {
  'spec-no-command':
    /run of job spec-no-command returned a bad runner: command must be an argv array or a shell string/,
  'spec-number-command': /job spec-number-command .*command must be an argv array or a shell string, not 17/,
  'spec-empty-argv': /job spec-empty-argv .*command is an empty argv array/,
  'spec-argv-number': /job spec-argv-number .*command\[1\] must be a string, not number/,
  'spec-sge-unconfigured': /job spec-sge-unconfigured .*no "sge" runner; add its section/,
  'spec-slurm-no-script': /job spec-slurm-no-script .*script must be a non-empty string/,
  'spec-bad-url': /job spec-bad-url .*url must be an absolute URL/,
  'spec-bad-field':
    /job spec-bad-field .*fields\[1\] must be a curl-style 'name=value' or 'name=@file' string, not "pdb@x"/,
  'spec-unknown-kind': /job spec-unknown-kind .*kind "teleport" is not a runner kind/,
  'spec-null': /job spec-null .*it returned null, not a runner/,
  'spec-string': /job spec-string .*it returned "run me", not a runner/,
  'spec-env-number': /job spec-env-number .*env.A must be a string, not number/,
  'throw-no-prototype': /run of job throw-no-prototype failed: it threw an object without a prototype/,
  'throw-null': /run of job throw-null failed: it threw null/,
  'throw-string': /run of job throw-string failed: it threw the string "a plain string"/,
  'throw-undefined': /run of job throw-undefined failed: it threw undefined/,
  'throw-hostile': /run of job throw-hostile failed: it threw a non-Error object with keys toString, toJSON/,
  'throw-number': /run of job throw-number failed: it threw the number 42/,
};

const service = defineService({
  run(job) {
    const bad = badRuns[job.name];
    if (bad) return bad() as never;
    return localCommand(['sh', '-c', 'echo ok > out.txt']);
  },
});

/** Rows a frontend got wrong: the directory column and what is on disk. */
const badRows: { name: string; directory: (incoming: string) => Promise<string | null>; error: RegExp }[] = [
  { name: 'row-null-dir', directory: async () => null, error: /its directory null is empty/ },
  { name: 'row-empty-dir', directory: async () => '', error: /its directory "" is empty/ },
  { name: 'row-relative-dir', directory: async () => 'incoming/row-relative-dir', error: /is not an absolute path/ },
  { name: 'row-decoy-dir', directory: async () => decoy, error: /is not directly inside a state folder/ },
  {
    name: 'row-dotdot-dir',
    directory: async (incoming) => `${incoming}/../decoy`,
    error: /is not directly inside a state folder/,
  },
  { name: 'row-incoming-itself', directory: async (incoming) => incoming, error: /is a state folder itself/ },
  {
    name: 'row-running-itself',
    directory: async () => path.join(fixture.root, 'running'),
    error: /is a state folder itself/,
  },
  {
    name: 'row-file-dir',
    directory: async (incoming) => {
      await fs.writeFile(path.join(incoming, 'row-file-dir'), 'a file');
      return path.join(incoming, 'row-file-dir');
    },
    error: /is not a directory/,
  },
  {
    name: 'row-symlink-dir',
    directory: async (incoming) => {
      await fs.symlink(decoy, path.join(incoming, 'row-symlink-dir'));
      return path.join(incoming, 'row-symlink-dir');
    },
    error: /is a symbolic link/,
  },
  {
    name: 'row-missing-dir',
    directory: async (incoming) => path.join(incoming, 'row-missing-dir'),
    error: /its directory \S+row-missing-dir is missing/,
  },
  {
    name: 'row-nested-dir',
    directory: async (incoming) => {
      await fs.mkdir(path.join(incoming, 'outer', 'row-nested-dir'), { recursive: true });
      return path.join(incoming, 'outer', 'row-nested-dir');
    },
    error: /is not directly inside a state folder/,
  },
];

async function insertRow(name: string, directory: string | null): Promise<void> {
  await fixture.frontendDb.query(
    'INSERT INTO jobs (name, passwd, directory, url, submit_time) VALUES (?, ?, ?, ?, UTC_TIMESTAMP())',
    [name, 'pw', directory, `http://example.org/${name}`],
  );
}

test('≥30 bad inputs among ≥30 good jobs: each bad one fails alone and says why, every good one completes', async () => {
  const decoyBefore = await checksum(decoy);
  const incoming = fixture.config.directories.INCOMING;
  await withWorker(fixture, service, async ({ client }) => {
    const good: string[] = [];
    const bad = new Map<string, RegExp>();
    const submitGood = async (i: number) => {
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: `good-${i}` });
      good.push(job.name);
    };
    let i = 0;
    for (const row of badRows) {
      await submitGood(i++);
      await insertRow(row.name, await row.directory(incoming));
      await startJob(client, fixture.config, { job: row.name, user: null });
      bad.set(row.name, row.error);
    }
    for (const [name, error] of Object.entries(expectedRunErrors)) {
      await submitGood(i++);
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name });
      assert.equal(job.name, name);
      bad.set(name, error);
    }
    while (good.length < 30) await submitGood(i++);

    const outcomes = new Map<string, { state: string; failure: string | null }>();
    const open = () => [...outcomes].filter(([, o]) => !['COMPLETED', 'FAILED'].includes(o.state));
    await until(
      'every job to be COMPLETED or FAILED',
      async () => {
        const [rows] = await fixture.db.query<mysql.RowDataPacket[]>('SELECT name, state, failure FROM jobs');
        for (const row of rows) outcomes.set(String(row.name), { state: row.state, failure: row.failure });
        return open().length === 0 && outcomes.size >= good.length + bad.size ? true : undefined;
      },
      {
        timeoutMs: 180_000,
        everyMs: 250,
        lastSeen: () =>
          `${outcomes.size} of ${good.length + bad.size} rows; still open: ` +
          open()
            .map(([n, o]) => `${n}=${o.state}`)
            .join(' '),
      },
    );
    assert.ok(bad.size >= 28, `${bad.size} bad jobs`);
    for (const name of good) assert.equal(outcomes.get(name)?.state, 'COMPLETED', `good job ${name}`);
    for (const [name, error] of bad) {
      const outcome = outcomes.get(name)!;
      assert.equal(outcome.state, 'FAILED', `bad job ${name}`);
      assert.match(outcome.failure ?? '', error, `failure of ${name}`);
      assert.match(outcome.failure ?? '', new RegExp(name), `the failure of ${name} names it`);
      assert.ok((outcome.failure ?? '').length < 20_000, `the failure of ${name} is bounded`);
    }
    for (const name of good) {
      const out = path.join(fixture.config.directories.COMPLETED, name, 'out.txt');
      assert.equal(await fs.readFile(out, 'utf8'), 'ok\n');
    }
  });
  assert.equal(await checksum(decoy), decoyBefore, 'nothing outside the job tree changed');
  // The shared folders are still there, with the good jobs in them.
  await fs.access(path.join(fixture.root, 'running'));
  await fs.access(incoming);
});

test('malformed configs are refused with an error naming the file and the key', async () => {
  const write = async (name: string, replace: [RegExp, string]) => {
    const text = (await fs.readFile(fixture.configFile, 'utf8')).replace(...replace);
    const file = path.join(fixture.root, `${name}.conf`);
    await fs.writeFile(file, text);
    return file;
  };
  const cases: [string, [RegExp, string], RegExp][] = [
    ['archive-after-expire', [/archive: 30d/, 'archive: 1y'], /archive/],
    ['negative-limit', [/running: 3/, 'running: -1'], /running/],
    ['no-incoming', [/incoming: incoming\n/, ''], /incoming/],
  ];
  for (const [name, replace, key] of cases) {
    const file = await write(name, replace);
    assert.throws(
      () => loadServiceConfig(file, {}),
      (error: Error) => error instanceof ConfigError && error.message.includes(file) && key.test(error.message),
      name,
    );
  }
});
