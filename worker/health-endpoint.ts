/**
 * `GET /healthz` on `[metrics] health` (or SALIFLOW_HEALTH_ADDRESS): 200
 * while every service of the process polls Temporal and reaches its MySQL,
 * 503 with the reason otherwise, so a load balancer or a watchdog
 * (`curl -fsS http://host:port/healthz`) can tell a worker that runs from one
 * that merely exists. The body is JSON, one entry per service.
 */
import http from 'node:http';
import { once } from 'node:events';
import { StartupError } from '../core/errors.js';

/** What one service says of itself: its Temporal workers' state and a MySQL round trip. */
export interface ServiceHealth {
  name: string;
  /** `RUNNING` when every SDK Worker of the service polls. */
  workerState(): string;
  /** Resolves when MySQL answers. */
  pingDatabase(): Promise<void>;
}

export interface HealthReport {
  status: 'ok' | 'failing';
  services: Record<string, { worker: string; mysql: string }>;
}

/** A MySQL that does not answer within this long counts as down: a probe must answer before its caller gives up. */
export const DATABASE_PROBE_MS = 2000;

export async function checkHealth(services: Iterable<ServiceHealth>): Promise<HealthReport> {
  const report: HealthReport = { status: 'ok', services: {} };
  const entries = await Promise.all(
    [...services].map(async (service) => {
      const worker = service.workerState();
      let timer: NodeJS.Timeout | undefined;
      const mysql = await Promise.race([
        service.pingDatabase().then(() => 'ok'),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`no answer within ${DATABASE_PROBE_MS} ms`), DATABASE_PROBE_MS);
        }),
      ])
        .catch((error: unknown) => `failing: ${(error as Error).message}`)
        .finally(() => clearTimeout(timer));
      return [service.name, { worker, mysql }] as const;
    }),
  );
  for (const [name, health] of entries) {
    report.services[name] = health;
    if (health.worker !== 'RUNNING' || health.mysql !== 'ok') report.status = 'failing';
  }
  // A process whose services have not started yet (or all stopped) is not healthy either.
  if (entries.length === 0) report.status = 'failing';
  return report;
}

export interface HealthEndpoint {
  /** The address actually bound (a port 0 in the config becomes the one chosen). */
  readonly address: string;
  close(): Promise<void>;
}

export async function startHealthEndpoint(
  address: string,
  services: () => Iterable<ServiceHealth>,
  source: string,
): Promise<HealthEndpoint> {
  const split = address.lastIndexOf(':');
  const host = address.slice(0, split).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(split + 1));
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/healthz') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /healthz\n');
      return;
    }
    checkHealth(services()).then(
      (report) => {
        response
          .writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(report)}\n`);
      },
      (error: unknown) => {
        response.writeHead(503, { 'content-type': 'text/plain' }).end(`health check failed: ${String(error)}\n`);
      },
    );
  });
  try {
    server.listen({ host, port, exclusive: true });
    await once(server, 'listening');
  } catch (error) {
    throw new StartupError(
      `cannot serve the health endpoint on ${address} (${source}): ${(error as Error).message}; ` +
        'another process (perhaps another worker of this service) holds it: stop it or give this worker another address',
      { cause: error },
    );
  }
  server.unref();
  const bound = server.address();
  const actual = bound && typeof bound === 'object' ? `${host}:${bound.port}` : address;
  return {
    address: actual,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
