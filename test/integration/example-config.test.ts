/**
 * `saliflow worker` on the example service's own config, run the way the
 * README says, from the folder holding `examples/`: every relative path in
 * it resolves against the config's folder, and its saliweb layout (the
 * state folders inside `[directories] install`) passes the start-up check.
 *
 * The config folder is copied into a temporary tree of the same shape, so
 * its `../../../.state/modfoo` lands in that tree, not in the checkout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { execa } from 'execa';
import modfoo from '../../examples/modfoo/service.js';
import { loadServiceConfig, type ServiceConfig } from '../../core/config/index.js';
import { DEFAULT_ACCOUNT_HOSTS, dropServiceDatabase, provisionServiceDatabase } from '../../store/database-admin.js';
import { randomToken } from '../../client/job-names.js';
import { scheduleIds } from '../../activities/schedules.js';
import { REPO_ROOT, stackSettings } from '../../scripts/stack/settings.js';
import { adminConnection } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { untilOutputShows } from '../support/processes.js';

const CONFIG = 'examples/modfoo/conf/modfoo.conf';
const id = randomToken(8).toLowerCase();
const taskQueue = `test-example-${id}`;
let root: string;
let config: ServiceConfig;
/** The example's MySQL users that were there before (the demo's): kept, only this database's rights taken back. */
const existingUsers = new Set<string>();

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-example-'));
  const confDir = path.join(root, path.dirname(CONFIG));
  await fs.cp(path.join(REPO_ROOT, path.dirname(CONFIG)), confDir, { recursive: true });
  // The one edit: the database. `modfoo` is the demo's, and its rows name folders of whichever
  // checkout ran the demo last; a database of its own keeps this test independent of them.
  const file = path.join(root, CONFIG);
  const text = await fs.readFile(file, 'utf8');
  assert.match(text, /^db: modfoo$/m);
  await fs.writeFile(file, text.replace(/^db: modfoo$/m, `db: sftest_example_${id}`));
  config = loadServiceConfig(file, {});
  const { backend, frontend, db } = config.database;
  const connection = await mysql.createConnection(adminConnection());
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT User AS name FROM mysql.user WHERE User IN (?, ?)',
      [backend.user, frontend.user],
    );
    for (const row of rows) existingUsers.add(String(row.name));
  } finally {
    await connection.end();
  }
  await provisionServiceDatabase(adminConnection(), { db, backend, frontend, columns: modfoo.columns ?? [] });
  // What an operator creates once, as saliweb's layout has it: the state folders inside install.
  for (const folder of new Set(Object.values(config.directories))) await fs.mkdir(folder, { recursive: true });
});

after(async () => {
  const admin = adminConnection();
  const { db, backend, frontend } = config.database;
  const connection = await mysql.createConnection(admin);
  try {
    for (const host of DEFAULT_ACCOUNT_HOSTS) {
      for (const user of [backend.user, frontend.user]) {
        if (!existingUsers.has(user)) await connection.query('DROP USER IF EXISTS ?@?', [user, host]);
      }
      // Accounts that were there before (another checkout's): only this database's rights go.
      if (existingUsers.has(backend.user)) {
        await connection
          .query(`REVOKE ALL PRIVILEGES ON \`${db}\`.* FROM ?@?`, [backend.user, host])
          .catch(() => undefined);
      }
      if (existingUsers.has(frontend.user)) {
        await connection
          .query(`REVOKE ALL PRIVILEGES ON \`${db}\`.jobs FROM ?@?`, [frontend.user, host])
          .catch(() => undefined);
        await connection
          .query(`REVOKE ALL PRIVILEGES ON \`${db}\`.dependencies FROM ?@?`, [frontend.user, host])
          .catch(() => undefined);
      }
    }
  } finally {
    await connection.end();
  }
  await dropServiceDatabase(admin, db);
  await fs.rm(root, { recursive: true, force: true });
});

test(
  'saliflow worker starts on examples/modfoo/conf/modfoo.conf and stops cleanly on SIGTERM',
  { timeout: 120_000 },
  async () => {
    const install = config.directories.install!;
    assert.equal(install, path.join(root, '.state/modfoo'), 'install resolves against the config folder');
    assert.equal(config.general.socket, path.join(install, 'modfoo.socket'));
    assert.ok(config.directories.INCOMING.startsWith(`${install}/`), 'the state folders are inside install');

    const { address } = stackSettings().temporal;
    const { host, port } = adminConnection();
    const worker = execa(
      'node',
      [
        path.join(REPO_ROOT, 'bin/saliflow.js'),
        'worker',
        '--config',
        CONFIG,
        '--service',
        path.join(REPO_ROOT, 'examples/modfoo/service.ts'),
      ],
      {
        cwd: root,
        env: {
          TEMPORAL_ADDRESS: address,
          SALIFLOW_TASK_QUEUE: taskQueue,
          SALIFLOW_MYSQL_HOST: host,
          SALIFLOW_MYSQL_PORT: String(port),
        },
        reject: false,
        all: true,
      },
    );
    let output = '';
    worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const { client, close } = await temporalClient();
    try {
      await untilOutputShows(worker, () => output, 'saliflow worker for ModFoo');
      assert.match(
        output,
        new RegExp(`task queue ${taskQueue} on ${address}, frontend socket ${config.general.socket}`),
      );
      const socket = await fs.stat(config.general.socket);
      assert.ok(socket.isSocket());
      assert.equal(socket.mode & 0o777, 0o660);
    } finally {
      worker.kill('SIGTERM');
      const ended = await worker;
      // The Schedules now point at this test's queue; leave none behind (unless another worker took them over).
      for (const scheduleId of Object.values(scheduleIds('ModFoo'))) {
        const handle = client.schedule.getHandle(scheduleId);
        const description = await handle.describe().catch(() => undefined);
        if (description?.action.type === 'startWorkflow' && description.action.taskQueue === taskQueue) {
          await handle.delete().catch(() => undefined);
        }
      }
      await close();
      assert.equal(ended.exitCode, 0, `clean exit on SIGTERM:\n${output}`);
    }
    await assert.rejects(fs.stat(config.general.socket), { code: 'ENOENT' }, 'the socket is removed on shutdown');
  },
);
