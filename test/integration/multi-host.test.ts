/**
 * Two workers on two hosts (host identities `host-a`, `host-b`): a local run
 * is waited for and cancelled on the host that started it, even after the
 * other worker took over the job's workflow.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { cancelJob } from '../../client/admin.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { spawnWorkerProcess } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const worker = (host: string) => {
  const child = spawnWorkerProcess(fixture.configFile, 'go-file-job', { SALIFLOW_HOST_ID: host });
  const ready = new Promise<void>((resolve) =>
    child.stdout?.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve()),
  );
  return { child, ready };
};

/** The identities of the workers that ran `activityType` for this workflow. */
async function activityIdentities(client: Client, workflowId: string, activityType: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const identities: string[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (type) scheduled.set(id, type);
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === activityType)
      identities.push(started.identity ?? '');
  }
  return identities;
}

async function signalIdentities(client: Client, workflowId: string, signalName: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const signal = event.workflowExecutionSignaledEventAttributes;
    return signal?.signalName === signalName ? [signal.identity ?? ''] : [];
  });
}

const runningOn = async (name: string) => {
  const row = await jobRow(fixture.db, name);
  return row.state === 'RUNNING' && row.runner_id ? row.runner_id : undefined;
};

test(
  'a local run is waited for and cancelled on its own host after another worker took over',
  { timeout: 180_000 },
  async () => {
    const { client, close } = await temporalClient();
    const a = worker('host-a');
    let a2: ReturnType<typeof worker> | undefined;
    let b: ReturnType<typeof worker> | undefined;
    try {
      await a.ready;
      const waited = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'waited' });
      const cancelled = await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name: 'cancelled' });
      const waitedRun = await until('waited to run', () => runningOn(waited.name));
      const cancelledRun = await until('cancelled to run', () => runningOn(cancelled.name));
      b = worker('host-b');
      await b.ready;
      // Both were started by host-a (the only worker then), whose processes outlive it.
      assert.match(waitedRun, /@host-a$/);
      assert.match(cancelledRun, /@host-a$/);
      a.child.kill('SIGKILL');
      await a.child;

      // host-b now runs the workflows; the cancel must still reach host-a's process.
      await cancelJob({ config: fixture.config, db: fixture.db, client, job: cancelled.name });
      a2 = worker('host-a');
      await a2.ready;
      const waitedDir = (await jobRow(fixture.db, waited.name)).directory!;
      await fs.writeFile(path.join(waitedDir, 'go'), '');

      assert.equal((await workflowOutcome(client, waited.workflowId)).result, 'COMPLETED');
      assert.equal(await fs.readFile(path.join(fixture.root, 'completed', waited.name, 'runs.txt'), 'utf8'), 'ran\n');
      const told = await signalIdentities(client, waited.workflowId, 'runEnded');
      assert.ok(told.length > 0, 'the run watcher told the workflow its run ended');
      for (const identity of told) assert.match(identity, /@host-a$/, 'only host-a watches its process');

      assert.match((await workflowOutcome(client, cancelled.workflowId)).failure ?? '', /cancelled by administrator/);
      const pid = Number(/-(\d+)@/.exec(cancelledRun)![1]);
      await until('the cancelled process to end', async () =>
        (await fs.access(`/proc/${pid}`).then(
          () => false,
          () => true,
        ))
          ? true
          : undefined,
      );
      const cancels = await activityIdentities(client, cancelled.workflowId, 'cancelRun');
      assert.ok(
        cancels.length > 0 && cancels.every((identity) => identity.endsWith('@host-a')),
        `cancelRun ran on ${cancels}`,
      );
      assert.equal((await jobRow(fixture.db, cancelled.name)).state, 'FAILED');
    } finally {
      for (const w of [a, b, a2]) w?.child.kill('SIGKILL');
      await close();
    }
  },
);
