/**
 * An unmodified saliweb frontend: it inserts the row itself and pings the
 * backend's Unix socket with `INCOMING <name>`; the worker starts the job.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { defineService, doNothing } from '../../core/index.js';
import { listenForFrontends } from '../../worker/frontend-socket.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

function ping(socketPath: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => socket.end(text, () => resolve()));
    socket.on('error', reject);
  });
}

test('INCOMING <name> on the socket starts the job; junk is ignored with a message', async () => {
  await withWorker(fixture, defineService({ run: () => doNothing() }), async ({ client }) => {
    const messages: string[] = [];
    const socket = await listenForFrontends(fixture.config, fixture.db, client, (message) => messages.push(message));
    try {
      const stat = await fs.stat(fixture.config.general.socket);
      assert.equal(stat.mode & 0o777, 0o666, 'the web server user may connect');
      // What saliweb's frontend does: directory, row, then the ping.
      const directory = path.join(fixture.root, 'incoming', 'legacy1');
      await fs.mkdir(directory);
      await fixture.frontendDb.query(
        "INSERT INTO jobs (name, passwd, user, directory, url, submit_time) VALUES ('legacy1', 'abcdefghij', 'carol', ?, 'http://x/legacy1', UTC_TIMESTAMP())",
        [directory],
      );
      await ping(fixture.config.general.socket, 'INCOMING legacy1\n');
      const workflowId = `${fixture.config.general.serviceName}/legacy1`;
      for (const deadline = Date.now() + 10_000; ;) {
        const started = await client.workflow
          .getHandle(workflowId)
          .describe()
          .then(
            () => true,
            () => false,
          );
        if (started) break;
        if (Date.now() > deadline) throw new Error('the ping did not start the workflow');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const outcome = await workflowOutcome(client, workflowId);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      await ping(fixture.config.general.socket, 'DELETE everything\nINCOMING no-such-job\n');
      for (const deadline = Date.now() + 5000; messages.length < 2 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(messages, [
        'frontend socket: ignoring "DELETE everything" (expected "INCOMING <job name>")',
        'frontend socket: no job no-such-job in the jobs table; ignored',
      ]);
      await assert.rejects(listenForFrontends(fixture.config, fixture.db, client), /another backend is listening on/);
    } finally {
      await socket.close();
    }
  });
});
