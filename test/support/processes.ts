/** Child processes and ports for tests that kill workers or need a free port. */
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

/**
 * A worker in a process of its own (test/support/worker-process.ts) for the
 * service module `test/support/services/<service>.ts`, so a test can SIGKILL it.
 */
export function spawnWorkerProcess(configFile: string, service: string, env: Record<string, string> = {}) {
  return execa(
    'node',
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'test/support/worker-process.ts'),
      configFile,
      path.join(REPO_ROOT, 'test/support/services', `${service}.ts`),
    ],
    { env, reject: false },
  );
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
