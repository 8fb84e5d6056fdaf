/** The health report's verdict from its services' answers (the endpoint itself: test/integration/health-endpoint.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHealth, DATABASE_PROBE_MS, type ServiceHealth } from '../../worker/health-endpoint.js';

const service = (name: string, state: string, ping: () => Promise<void>): ServiceHealth => ({
  name,
  workerState: () => state,
  pingDatabase: ping,
});

test('ok only when every service polls and reaches MySQL', async () => {
  const ok = await checkHealth([service('A', 'RUNNING', async () => undefined)]);
  assert.deepEqual(ok, { status: 'ok', services: { A: { worker: 'RUNNING', mysql: 'ok' } } });
  const draining = await checkHealth([
    service('A', 'RUNNING', async () => undefined),
    service('B', 'DRAINING', async () => undefined),
  ]);
  assert.equal(draining.status, 'failing');
  assert.equal(draining.services.B?.worker, 'DRAINING');
  const refused = await checkHealth([
    service('A', 'RUNNING', () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:3306'))),
  ]);
  assert.deepEqual(refused.services.A, { worker: 'RUNNING', mysql: 'failing: connect ECONNREFUSED 127.0.0.1:3306' });
  assert.equal(refused.status, 'failing');
});

test('a MySQL that does not answer fails the probe within its bound; no service is not healthy', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const pending = checkHealth([service('A', 'RUNNING', () => new Promise<void>(() => undefined))]);
  t.mock.timers.tick(DATABASE_PROBE_MS);
  const report = await pending;
  assert.equal(report.services.A?.mysql, `no answer within ${DATABASE_PROBE_MS} ms`);
  assert.equal(report.status, 'failing');
  assert.equal((await checkHealth([])).status, 'failing');
});
