/**
 * A worker that cannot work exits at once and says where to look: wrong
 * MySQL password, MySQL unreachable, a database it may not use, Temporal
 * down, its metrics port taken, a typo in its config. And one that works
 * stops when told, within its bound, even with a step that never returns;
 * a second signal stops it at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { submitJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { freePort, WORKER_READY } from '../support/processes.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';
import { deleteSchedules } from '../../activities/schedules.js';

const BIN = path.join(REPO_ROOT, 'bin/saliflow.js');
const SERVICE = path.join(REPO_ROOT, 'test/support/services/never-ending-step.ts');
/** "Seconds, not minutes": every refusal below comes from a check made before the worker takes work. */
const PROMPT_MS = 30_000;

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { worker: { shutdown_seconds: '2' } } });
});
after(async () => {
  await fixture.cleanup();
});

/** A copy of the fixture's config folder with `edit` applied to the named files. */
async function variant(edits: Record<string, (text: string) => string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(fixture.root, 'variant-'));
  for (const file of ['service.conf', 'backend.conf', 'frontend.conf']) {
    const text = await fs.readFile(path.join(fixture.root, file), 'utf8');
    await fs.writeFile(path.join(dir, file), (edits[file] ?? ((t: string) => t))(text));
  }
  return path.join(dir, 'service.conf');
}

async function startRefused(configFile: string, env: Record<string, string> = {}, service = SERVICE) {
  const started = Date.now();
  const result = await execa('node', [BIN, 'worker', '--config', configFile, '--service', service], {
    reject: false,
    env,
    timeout: 120_000,
  });
  return { ...result, ms: Date.now() - started };
}

const CASES: {
  name: string;
  setup: () => Promise<{ config: string; env?: Record<string, string> }>;
  expect: RegExp[];
}[] = [
  {
    name: 'a wrong MySQL password',
    setup: async () => ({ config: await variant({ 'backend.conf': (t) => t.replace(/passwd: .*/, 'passwd: wrong') }) }),
    expect: [/MySQL at 127\.0\.0\.1:\d+ refused user sfb_\w+ \(password from .*backend\.conf\): access denied/],
  },
  {
    name: 'MySQL unreachable',
    setup: async () => ({ config: fixture.configFile, env: { SALIFLOW_MYSQL_PORT: String(await freePort()) } }),
    expect: [/cannot reach MySQL at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/, /SALIFLOW_MYSQL_PORT/],
  },
  {
    name: 'a database the user may not use',
    setup: async () => ({ config: await variant({ 'service.conf': (t) => t.replace(/^db: .*/m, 'db: no_such_db') }) }),
    expect: [/database no_such_db/, /\[database\] db in .*service\.conf/],
  },
  {
    name: 'Temporal down',
    setup: async () => ({ config: fixture.configFile, env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` } }),
    expect: [
      /cannot connect to Temporal at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\), namespace default/,
      /Connection refused/,
    ],
  },
  {
    name: 'a typo in the config',
    setup: async () => ({
      config: await variant({ 'service.conf': (t) => `${t}\n[temporl]\naddress: elsewhere:7233\n` }),
    }),
    expect: [/service\.conf \[temporl\]: unknown section; did you mean \[temporal\]\?/],
  },
  {
    name: 'the folder of [general] socket missing',
    setup: async () => ({
      config: await variant({
        'service.conf': (t) =>
          t.replace(/^socket: .*$/m, `socket: ${path.join(fixture.root, 'no-such-folder', 'x.socket')}`),
      }),
    }),
    expect: [
      /cannot listen on the frontend socket \S+\/no-such-folder\/x\.socket \(\[general\] socket in \S+service\.conf\): its folder \S+\/no-such-folder does not exist; create it \(mkdir -p/,
    ],
  },
  {
    // saliweb's daemon refuses to start when its setfacl for apache fails; so does the worker, naming the fix.
    name: 'a web server user (socket_user) that does not exist',
    setup: async () => ({
      config: await variant({
        'service.conf': (t) => t.replace(/^socket_user: .*$/m, 'socket_user: no-such-web-user'),
      }),
    }),
    expect: [
      /cannot give the web server's user no-such-web-user \(\[general\] socket_user in .*service\.conf\) access to the frontend socket /,
      /no user no-such-web-user on this host \(getent passwd no-such-web-user\); create the user, or set \[general\] socket_user/,
      /socket_group/,
    ],
  },
  {
    // saliweb: a state file starting with "FAILED: " blocks every start until an operator removes it.
    name: "saliweb's state file reporting a fatal error",
    setup: async () => {
      const config = await variant({});
      await fs.writeFile(
        path.join(path.dirname(config), 'backend.state'),
        'FAILED: Traceback (most recent call last):\n  boom\n',
      );
      return { config };
    },
    expect: [
      /not starting: saliweb's state file .*backend\.state .*reports a fatal error/,
      / {4}Traceback/,
      /removed .*backend\.state/,
    ],
  },
];

for (const scenario of CASES) {
  test(`a worker refuses to start, promptly and saying why, with ${scenario.name}`, { timeout: 150_000 }, async () => {
    const { config, env } = await scenario.setup();
    const result = await startRefused(config, env);
    assert.equal(result.exitCode, 1, result.all ?? result.stderr);
    assert.match(result.stderr, /^saliflow worker: cannot work: /m);
    for (const pattern of scenario.expect) assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /tonic::transport/);
    // The real error, never one from the clean-up after it; the command named once.
    assert.doesNotMatch(result.stderr, /Cannot close connection/);
    assert.doesNotMatch(result.stderr, /saliflow worker: cannot work: saliflow worker:/);
    assert.ok(result.ms < PROMPT_MS, `exited after ${result.ms} ms`);
  });
}

test('a usage error names the command once', async () => {
  const result = await execa('node', [BIN, 'worker', '--config', fixture.configFile], { reject: false });
  assert.equal(result.exitCode, 2, result.stderr);
  assert.match(result.stderr, /^saliflow worker: 1 --config and 0 --service given: /m);
  assert.doesNotMatch(result.stderr, /saliflow worker: cannot work: saliflow worker:/);
});

test('a worker refuses to start with a misspelt step in its service, naming the file and the spelling', async () => {
  const service = path.join(fixture.root, 'misspelt-service.ts');
  await fs.writeFile(
    service,
    `import { defineService, doNothing } from ${JSON.stringify(path.join(REPO_ROOT, 'core/index.js'))};\n` +
      // tsx does not type-check: without the check the job would COMPLETE without its postprocess.
      `export default defineService({ run: () => doNothing(), postproces: () => undefined } as never);\n`,
  );
  const result = await startRefused(fixture.configFile, {}, service);
  assert.equal(result.exitCode, 1, result.all ?? result.stderr);
  const expected = `saliflow worker: cannot work: unknown key postproces in defineService({...}) of ${service}; did you mean postprocess?`;
  assert.ok(result.stderr.includes(expected), result.stderr);
  assert.ok(result.ms < PROMPT_MS, `exited after ${result.ms} ms`);
});

test('a worker refuses to start when the jobs table lacks a column the service declares; db check says the same', async () => {
  const service = path.join(fixture.root, 'column-service.mts');
  await fs.writeFile(
    service,
    `import { defineService, doNothing } from ${JSON.stringify(path.join(REPO_ROOT, 'core/index.js'))};\n` +
      `export default defineService({ columns: [{ name: 'num_pdbs', type: 'INTEGER', index: true }], run: () => doNothing() });\n`,
  );
  const expected =
    'the jobs table has no column num_pdbs, which the service declares (INTEGER): ' +
    'ALTER TABLE jobs ADD COLUMN `num_pdbs` INTEGER, ADD INDEX (`num_pdbs`)';
  const result = await startRefused(fixture.configFile, {}, service);
  assert.equal(result.exitCode, 1, result.all ?? result.stderr);
  assert.match(
    result.stderr,
    /^saliflow worker: cannot work: the jobs table in database \w+ does not fit the service/m,
  );
  assert.ok(result.stderr.includes(expected), result.stderr);
  assert.ok(result.ms < PROMPT_MS, `exited after ${result.ms} ms`);

  const check = (...args: string[]) =>
    execa('node', [BIN, 'db', 'check', '--config', fixture.configFile, ...args], {
      reject: false,
      env: { SALIFLOW_CONFIG: '' },
    });
  const refused = await check('--service', service);
  assert.equal(refused.exitCode, 3, refused.stderr);
  assert.ok(refused.stderr.includes(expected), refused.stderr);
  const plain = await check();
  assert.equal(plain.exitCode, 0, plain.stderr);
  assert.match(plain.stdout, /the jobs table fits saliweb's columns/);
});

test('a worker refuses to start when its metrics port is taken, naming the setting', { timeout: 150_000 }, async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as net.AddressInfo;
  try {
    const result = await startRefused(fixture.configFile, { SALIFLOW_METRICS_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port} \\(SALIFLOW_METRICS_ADDRESS\\)`),
    );
    assert.ok(result.ms < PROMPT_MS, `exited after ${result.ms} ms`);
  } finally {
    holder.close();
  }
});

function startWorker(): { worker: ResultPromise; output: () => string } {
  const worker = execa(
    'node',
    [
      BIN,
      'worker',
      '--config',
      fixture.configFile,
      '--service',
      path.join(REPO_ROOT, 'test/support/services/never-ending-step.ts'),
    ],
    { reject: false, all: true },
  );
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { worker, output: () => output };
}

test(
  'SIGTERM stops a worker whose step never returns within its bound; a second signal at once',
  { timeout: 240_000 },
  async () => {
    const { client, close } = await temporalClient();
    try {
      const first = startWorker();
      await until('the worker to start', async () => (WORKER_READY.test(first.output()) ? true : undefined));
      const job = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'never-ends' });
      const started = await until('the step to start', async () => {
        const [rows] = await fixture.db.query<import('mysql2').RowDataPacket[]>(
          'SELECT directory FROM jobs WHERE name = ?',
          [job.name],
        );
        const directory = rows[0]?.directory as string | undefined;
        if (!directory) return undefined;
        return fs.access(path.join(directory, 'preprocess-started.txt')).then(
          () => directory,
          () => undefined,
        );
      });
      assert.ok(started);
      const stopAt = Date.now();
      first.worker.kill('SIGTERM');
      const ended = await first.worker;
      const stopMs = Date.now() - stopAt;
      assert.notEqual(ended.exitCode, null, first.output());
      assert.match(first.output(), /SIGTERM: stopping; steps in flight have 2 s to finish/);
      // The bound is shutdown_seconds (2) plus the SDK's time to cancel what is left (10): well under a minute.
      assert.ok(stopMs < 20_000, `stopped after ${stopMs} ms`);
      console.log(`first stop ${stopMs} ms`);

      const runsSoFar = (await fs.readFile(path.join(started, 'preprocess-started.txt'), 'utf8')).length;
      const second = startWorker();
      await until('the worker to start again', async () => (WORKER_READY.test(second.output()) ? true : undefined));
      await until('the step to run again on the new worker', async () => {
        const text = await fs.readFile(path.join(started, 'preprocess-started.txt'), 'utf8').catch(() => '');
        return text.length > runsSoFar ? true : undefined;
      });
      const againAt = Date.now();
      second.worker.kill('SIGTERM');
      await until('the worker to say it stops', async () =>
        /SIGTERM: stopping/.test(second.output()) ? true : undefined,
      );
      second.worker.kill('SIGTERM');
      const again = await second.worker;
      assert.match(second.output(), /SIGTERM again: exiting now/);
      assert.equal(again.exitCode, 143);
      assert.ok(Date.now() - againAt < 10_000, `second signal took ${Date.now() - againAt} ms`);
    } finally {
      await deleteSchedules(client, fixture.config).catch(() => undefined);
      await close();
    }
  },
);
