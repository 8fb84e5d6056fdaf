/**
 * A local run's environment: the worker's, as saliweb's LocalRunner gives
 * its command the daemon's (`module` settings, PYTHONPATH, LD_LIBRARY_PATH),
 * without saliflow's own settings and secrets; the service's `env` on top.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { localCommand } from '../../core/runner-spec.js';
import { createLocalRunner } from '../../engine/runners/local.js';
import { until } from '../support/until.js';

const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-local-env-'));
after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

const WORKER_ENV = {
  PYTHONPATH: '/opt/foxs/lib/python',
  LD_LIBRARY_PATH: '/opt/imp/lib',
  MODULEPATH: '/etc/modulefiles',
  LOADEDMODULES: 'imp/2.20',
  SERVICE_SETTING: 'kept',
  TEMPORAL_API_KEY: 'secret-key',
  TEMPORAL_TLS_CLIENT_KEY_PATH: '/etc/saliflow/client.key',
  TEMPORAL_TLS_CLIENT_KEY_DATA: '-----BEGIN PRIVATE KEY-----',
  TEMPORAL_ADDRESS: 'temporal.example.org:7233',
  SALIFLOW_MYSQL_ADMIN_PASSWORD: 'root-secret',
  SALIFLOW_CONFIG: '/srv/modfoo/conf/live.conf',
  MYSQL_PWD: 'db-secret',
};

test("a local run inherits the worker's environment, not saliflow's own settings and secrets", async () => {
  const saved = Object.fromEntries(Object.keys(WORKER_ENV).map((name) => [name, process.env[name]]));
  Object.assign(process.env, WORKER_ENV);
  const directory = path.join(scratch, 'envjob');
  await fs.mkdir(directory);
  const runner = createLocalRunner({ pollIntervalMs: 50, hostId: 'here' });
  try {
    const job = { name: 'envjob', directory, cycle: 1 };
    const id = await runner.submit(job, localCommand('env > env.txt', { env: { SERVICE_SETTING: 'from the spec' } }));
    const status = await until('the local run to end', async () => {
      const status = (await runner.status([{ ...job, id }])).get(id);
      return status?.state === 'running' ? undefined : status;
    });
    assert.equal(status.state, 'finished', JSON.stringify(status));
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  const seen = new Map(
    (await fs.readFile(path.join(directory, 'env.txt'), 'utf8'))
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  for (const name of ['PYTHONPATH', 'LD_LIBRARY_PATH', 'MODULEPATH', 'LOADEDMODULES']) {
    assert.equal(seen.get(name), WORKER_ENV[name as keyof typeof WORKER_ENV], name);
  }
  assert.equal(seen.get('PATH'), process.env.PATH);
  assert.equal(seen.get('SERVICE_SETTING'), 'from the spec', "the service's env replaces the worker's");
  const leaked = [...seen.keys()].filter((name) => /^(TEMPORAL_|MYSQL_PWD)/.test(name));
  assert.deepEqual(leaked, [], 'no Temporal or MySQL secret reaches the command');
  // The wrapper's own bookkeeping variables only (exit and pid files, cycle, host): none of the worker's.
  assert.deepEqual([...seen.keys()].filter((name) => name.startsWith('SALIFLOW_')).sort(), [
    'SALIFLOW_CYCLE',
    'SALIFLOW_EXIT_FILE',
    'SALIFLOW_HOST_ID',
    'SALIFLOW_PID_FILE',
  ]);
});
