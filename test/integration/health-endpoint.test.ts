/**
 * A real `saliflow worker` serving `/healthz`: 200 while it polls and MySQL
 * answers, 503 naming MySQL once its backend user can no longer connect, 200
 * again when it can, and nothing listening after a stop.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { freePort, spawnWorkerProcess, untilOutputShows, WORKER_READY } from '../support/processes.js';
import { temporalClient } from '../support/temporal.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { until } from '../support/until.js';
import type { HealthReport } from '../../worker/health-endpoint.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  const { client, close } = await temporalClient();
  await deleteSchedules(client, fixture.config).catch(() => undefined);
  await close();
  await fixture.cleanup();
});

async function health(address: string): Promise<{ status: number; report: HealthReport }> {
  const response = await fetch(`http://${address}/healthz`);
  return { status: response.status, report: (await response.json()) as HealthReport };
}

/** Locks (or unlocks) the backend MySQL account and drops its open connections, so the pool must reconnect. */
async function setBackendLocked(locked: boolean): Promise<void> {
  const { host, port, user, password } = fixture.admin;
  const admin = await mysql.createConnection({ host, port, user, password });
  try {
    const account = fixture.config.database.backend.user;
    const [hosts] = await admin.query<mysql.RowDataPacket[]>('SELECT Host AS host FROM mysql.user WHERE User = ?', [
      account,
    ]);
    assert.ok(hosts.length > 0, `the backend account ${account} exists`);
    for (const { host: accountHost } of hosts) {
      await admin.query(`ALTER USER ?@? ACCOUNT ${locked ? 'LOCK' : 'UNLOCK'}`, [account, accountHost]);
    }
    if (!locked) return;
    const [sessions] = await admin.query<mysql.RowDataPacket[]>(
      'SELECT id FROM information_schema.processlist WHERE user = ?',
      [account],
    );
    for (const { id } of sessions) await admin.query('KILL ?', [id]).catch(() => undefined);
  } finally {
    await admin.end();
  }
}

test('the health endpoint says 200 while the worker polls and MySQL answers, 503 naming MySQL when it does not', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const worker = spawnWorkerProcess(
    fixture.configFile,
    'nothing-job',
    { SALIFLOW_HEALTH_ADDRESS: address },
    { asSaliflowWorker: true },
  );
  let output = '';
  worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await untilOutputShows(worker, () => output, `health endpoint http://${address}/healthz`);
    await until('the worker to poll', async () => (WORKER_READY.test(output) ? true : undefined));
    const name = fixture.config.general.serviceName;

    const healthy = await until('a 200 from /healthz', async () => {
      const answer = await health(address);
      return answer.status === 200 ? answer : undefined;
    });
    assert.deepEqual(healthy.report, { status: 'ok', services: { [name]: { worker: 'RUNNING', mysql: 'ok' } } });
    assert.equal((await fetch(`http://${address}/metrics`)).status, 404, 'only /healthz is served here');

    await setBackendLocked(true);
    const failing = await until('a 503 from /healthz once MySQL refuses the backend user', async () => {
      const answer = await health(address);
      return answer.status === 503 ? answer : undefined;
    });
    assert.equal(failing.report.status, 'failing');
    assert.equal(failing.report.services[name]?.worker, 'RUNNING');
    assert.match(failing.report.services[name]?.mysql ?? '', /^failing: .*(locked|Access denied)/i);

    await setBackendLocked(false);
    await until('a 200 again once MySQL takes the backend user', async () =>
      (await health(address)).status === 200 ? true : undefined,
    );
  } finally {
    await setBackendLocked(false);
    worker.kill('SIGTERM');
    await worker;
  }
  assert.equal(worker.exitCode, 0, output);
  await assert.rejects(fetch(`http://${address}/healthz`), 'nothing listens once the worker stopped');
});
