/**
 * saliflow's `[temporal]` TLS settings against the production-like cluster,
 * both ways it offers them: mutual TLS (the frontend demands a client
 * certificate signed by the private CA) and server-only TLS (a second
 * frontend of the same cluster; saliflow verifies it against the private
 * CA). Each refuses what it should, and a worker and the CLI run jobs over
 * server-only TLS.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Connection } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { SERVER_NAME } from '../../scripts/production/settings.js';
import { REPO_ROOT, stackSettings } from '../../scripts/stack/settings.js';
import { startTemporal } from '../../scripts/stack/temporal.js';
import { workflowOutcome, jobRow } from '../support/jobs.js';
import { WorkerSupervisor } from '../support/fault-harness.js';
import { clientFor, productionCluster, type ProductionCluster } from '../support/production-cluster.js';
import { createServiceFixture } from '../support/service-fixture.js';

let cluster: ProductionCluster;
before(async () => {
  cluster = await productionCluster();
});

/** How connecting ends: 'connected', or the error's first line. */
async function connectOutcome(options: Parameters<typeof Connection.connect>[0]): Promise<string> {
  try {
    const connection = await Connection.connect({ connectTimeout: 5000, ...options });
    await connection.close();
    return 'connected';
  } catch (error) {
    return (error as Error).message.split('\n')[0]!;
  }
}

test('mutual TLS refuses a client without a certificate, and one that does not verify the server', async () => {
  const { certs, mtlsAddress, tlsAddress } = cluster.settings;
  const ca = fs.readFileSync(certs.ca);
  const clientCertPair = { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
  assert.equal(
    await connectOutcome({
      address: mtlsAddress,
      tls: { serverRootCACertificate: ca, serverNameOverride: SERVER_NAME, clientCertPair },
    }),
    'connected',
  );
  assert.notEqual(
    await connectOutcome({
      address: mtlsAddress,
      tls: { serverRootCACertificate: ca, serverNameOverride: SERVER_NAME },
    }),
    'connected',
    'no client certificate: refused',
  );
  assert.notEqual(await connectOutcome({ address: mtlsAddress }), 'connected', 'plain TCP: refused');
  assert.notEqual(
    await connectOutcome({ address: tlsAddress, tls: { serverNameOverride: SERVER_NAME } }),
    'connected',
    "the system CAs do not vouch for the private CA's server",
  );
  assert.equal(
    await connectOutcome({
      address: tlsAddress,
      tls: { serverRootCACertificate: ca, serverNameOverride: SERVER_NAME },
    }),
    'connected',
    'server-only TLS needs no client certificate',
  );
});

test('the dev stack, pointed at a TLS frontend, says it needs TLS instead of blaming a foreign program', async () => {
  for (const address of [cluster.settings.mtlsAddress, cluster.settings.tlsAddress]) {
    await assert.rejects(
      startTemporal(stackSettings({ TEMPORAL_ADDRESS: address }), () => undefined),
      new RegExp(`${address} answers with TLS.*tls_server_ca`),
    );
  }
});

test('over server-only TLS a saliflow worker runs jobs and the CLI reaches them', { timeout: 180_000 }, async () => {
  const fixture = await createServiceFixture({
    stack: cluster.stack('tls'),
    sections: { temporal: cluster.temporalSection('tls') },
  });
  assert.deepEqual(fixture.config.temporal.tls, {
    serverRootCaCertPath: cluster.settings.certs.ca,
    serverNameOverride: SERVER_NAME,
  });
  const { client, close } = await clientFor(fixture.config);
  const worker = new WorkerSupervisor(fixture.configFile, 'counted-runs', { SALIFLOW_HOST_ID: 'host-tls' });
  try {
    await worker.start();
    const jobs = [];
    for (const name of ['tls1', 'tls2-twice', 'tls3-skip']) {
      jobs.push(await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name }));
    }
    for (const job of jobs) {
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      assert.equal((await jobRow(fixture.db, job.name)).state, 'COMPLETED');
    }
    const cli = await execa(
      'node',
      [path.join(REPO_ROOT, 'bin/saliflow.js'), 'show', '--config', fixture.configFile, 'tls1'],
      {
        reject: false,
      },
    );
    assert.equal(cli.exitCode, 0, cli.stderr);
    assert.match(cli.stdout, /COMPLETED/);
  } finally {
    await worker.stop();
    await deleteSchedules(client, fixture.config).catch(() => undefined);
    await close();
    await fixture.cleanup();
  }
});
