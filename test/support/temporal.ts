/** The one Temporal server of the test run (started by `npm test`), and workers on it. */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Service } from '../../core/service.js';
import { createServiceWorker, type ServiceWorkerOptions } from '../../worker/create-worker.js';
import { stackSettings } from '../../scripts/stack/settings.js';
import type { ServiceFixture } from './service-fixture.js';

// Worker chatter (lifecycle, the failures tests provoke on purpose) would drown the test report.
Runtime.install({ logger: new DefaultLogger('ERROR') });

/** A client of the shared dev stack's Temporal server, or of the one at `address` (a private stack's). */
export async function temporalClient(
  address = stackSettings().temporal.address,
  namespace = stackSettings().temporal.namespace,
): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

/**
 * Runs `body` while a worker for the fixture's service polls its task queue;
 * the worker shuts down when `body` settles.
 */
export async function withWorker<T>(
  fixture: ServiceFixture,
  service: Service,
  body: (parts: { client: Client; statusQueries(): Record<string, number> }) => Promise<T>,
  options: Partial<Omit<ServiceWorkerOptions, 'config' | 'service'>> = {},
): Promise<T> {
  const connection = await NativeConnection.connect({ address: stackSettings().temporal.address });
  const { client, close: closeClient } = await temporalClient();
  const worker = await createServiceWorker({
    config: fixture.config,
    service,
    connection,
    run: { jobStateGraceMs: 2000, heartbeatEveryMs: 1000 },
    ...options,
  });
  try {
    return await worker.runUntil(body({ client, statusQueries: worker.statusQueries }));
  } finally {
    await worker.close();
    await closeClient();
    await connection.close();
  }
}
