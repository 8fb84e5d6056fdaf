/**
 * Workers started together each ensure the service's Schedules: against the
 * real Temporal server, concurrent creates and updates must all succeed and
 * leave one Schedule per id.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadServiceConfig } from '../../core/config/index.js';
import { randomToken } from '../../client/job-names.js';
import { deleteSchedules, ensureSchedules, scheduleIds } from '../../activities/schedules.js';
import { stackSettings } from '../../scripts/stack/settings.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';

const ROOT = mkdtempSync(path.join(os.tmpdir(), 'saliflow-schedules-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

/** A config for a service name no other test uses; Schedules need nothing else from it. */
function freshServiceConfig() {
  const id = randomToken(8).toLowerCase();
  const { address, namespace } = stackSettings().temporal;
  writeFileSync(path.join(ROOT, 'backend.conf'), '[backend_db]\nuser: unused\npasswd: unused\n');
  writeFileSync(path.join(ROOT, 'frontend.conf'), '[frontend_db]\nuser: unused\npasswd: unused\n');
  const file = path.join(ROOT, `${id}.conf`);
  writeFileSync(
    file,
    [
      '[general]',
      'admin_email: admin@test.example.org',
      'socket: backend.socket',
      `service_name: Schedules${id}`,
      'urltop: http://127.0.0.1/x',
      '[backend]',
      'user: root',
      'state_file: backend.state',
      'check_minutes: 2',
      '[database]',
      'db: unused',
      'backend_config: backend.conf',
      'frontend_config: frontend.conf',
      '[directories]',
      'incoming: incoming',
      'preprocessing: running',
      '[oldjobs]',
      'archive: 1d',
      'expire: 10d',
      '[temporal]',
      `address: ${address}`,
      `namespace: ${namespace}`,
      `task_queue: test-${id}`,
      '',
    ].join('\n'),
  );
  return loadServiceConfig(file, {});
}

test('five workers ensuring the Schedules at once all succeed; each Schedule exists once', async () => {
  const config = freshServiceConfig();
  const ids = scheduleIds(config.general.serviceName);
  const { client, close } = await temporalClient();
  try {
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => ensureSchedules(client, config)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
    assert.deepEqual(failures, [], 'every concurrent ensureSchedules resolves');

    const reconcile = await client.schedule.getHandle(ids.reconcile).describe();
    assert.deepEqual(
      reconcile.spec.intervals?.map((interval) => interval.every),
      [120_000],
    );
    const oldJobs = await client.schedule.getHandle(ids.oldJobs).describe();
    assert.deepEqual(
      oldJobs.spec.intervals?.map((interval) => interval.every),
      [8_640_000],
    );

    // The visibility store lags: wait until both show, then check neither shows twice.
    const prefix = `${config.general.serviceName}/`;
    const listed = await until(
      'both schedules in the visibility store',
      async () => {
        const seen: string[] = [];
        for await (const schedule of client.schedule.list()) {
          if (schedule.scheduleId.startsWith(prefix)) seen.push(schedule.scheduleId);
        }
        return seen.length >= 2 ? seen : undefined;
      },
      15_000,
    );
    assert.deepEqual(listed.sort(), [ids.oldJobs, ids.reconcile].sort());
  } finally {
    await deleteSchedules(client, config);
    await close();
  }
});
