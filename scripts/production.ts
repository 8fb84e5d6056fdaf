/**
 * `npm run production -- start [--no-ui]|stop|status`: a production-like
 * Temporal on this machine. The server built from the Go module proxy,
 * PostgreSQL for persistence and visibility, history, matching, worker and
 * frontend as separate processes, mutual TLS on the frontend (and a second
 * frontend with server-only TLS), the Web UI server in front. Idempotent:
 * what runs is reused, what was built or set up is kept under
 * `<state folder>/production/`.
 */
import path from 'node:path';
import { execa } from 'execa';
import { StackError } from '../core/errors.js';
import { ensureTemporalBinaries, ensureUiServer } from './production/build.js';
import { ensureCertificates } from './production/certs.js';
import { postgresStatus, startPostgres, stopPostgres } from './production/postgres.js';
import { certificatePaths, productionSettings, SERVICES, type ProductionSettings } from './production/settings.js';
import {
  ensureNamespace,
  ensureSchemas,
  servicesStatus,
  startService,
  stopServices,
} from './production/temporal-cluster.js';
import { startUi, stopUi, uiStatus } from './production/ui.js';

const log = (message: string) => console.log(`[production] ${message}`);

export interface ProductionStart {
  settings: ProductionSettings;
  /** Why the Web UI is not running, when it is not. */
  uiProblem?: string;
}

export async function startProduction(
  options: { ui?: boolean; log?: (message: string) => void } = {},
  settings: ProductionSettings = productionSettings(),
): Promise<ProductionStart> {
  const say = options.log ?? log;
  const [binaries, postgres, certs] = await Promise.all([
    ensureTemporalBinaries(settings, say),
    startPostgres(settings, say),
    ensureCertificates(settings.certs, say),
  ]);
  say(`postgres ${postgres} at ${settings.host}:${settings.postgres.port}; certificates ${certs}`);
  await ensureSchemas(settings, binaries, say);
  // On a fresh database every process would race to write the cluster's metadata row (the losers exit): one
  // goes first; by the time its port listens the row is there. Frontends last, once what they call is up.
  const [first, ...backends] = SERVICES.filter((service) => !service.startsWith('frontend'));
  const frontends = SERVICES.filter((service) => service.startsWith('frontend'));
  for (const group of [[first!], backends, frontends]) {
    const results = await Promise.all(group.map((service) => startService(settings, binaries, service)));
    say(group.map((service, i) => `${service} ${results[i]}`).join(', '));
  }
  await ensureNamespace(settings, say);
  say(`temporal up: mutual TLS at ${settings.mtlsAddress}, server-only TLS at ${settings.tlsAddress}`);
  if (options.ui === false) return { settings };
  const ui = await ensureUiServer(settings, say);
  if ('problem' in ui) {
    say(`web ui not available: ${ui.problem}`);
    return { settings, uiProblem: ui.problem };
  }
  say(`web ui ${await startUi(settings, ui.binary)} at http://${settings.host}:${settings.ui.port}`);
  return { settings };
}

export async function productionStatus(settings: ProductionSettings = productionSettings()): Promise<string[]> {
  return [await postgresStatus(settings), ...(await servicesStatus(settings)), await uiStatus(settings)];
}

export async function stopProduction(settings: ProductionSettings = productionSettings()): Promise<void> {
  const ui = await stopUi(settings);
  const stopped = await stopServices(settings);
  const postgres = await stopPostgres(settings);
  log(
    `stopped: ${[...(ui ? ['web ui'] : []), ...stopped, ...(postgres ? ['postgres'] : [])].join(', ') || 'nothing was running'}`,
  );
}

async function main(command: string | undefined, flags: string[]): Promise<void> {
  switch (command) {
    case 'start':
      await startProduction({ ui: !flags.includes('--no-ui') });
      return;
    case 'stop':
      return stopProduction();
    case 'status':
      for (const line of await productionStatus()) console.log(line);
      return;
    case 'certs': {
      // For docker-compose.yml: the same certificates in a shared volume, readable by the containers' users.
      const dir = flags[0];
      if (!dir) throw new StackError('usage: npm run production -- certs <folder>');
      log(`certificates ${await ensureCertificates(certificatePaths(path.resolve(dir)), log)} in ${dir}`);
      await execa('chmod', ['-R', 'a+rX', dir]);
      return;
    }
    default:
      throw new StackError(
        `usage: npm run production -- start [--no-ui]|stop|status|certs <folder> (got ${command ?? 'nothing'})`,
      );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv[2], process.argv.slice(3)).catch((error: Error) => {
    console.error(`[production] ${error.name === 'StackError' ? '' : `${error.name}: `}${error.message}`);
    process.exit(1);
  });
}
