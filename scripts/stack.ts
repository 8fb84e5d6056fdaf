/**
 * `npm run stack -- start|stop|status`: the dev stack saliflow's demo and
 * tests run on (a Temporal dev server and MySQL). Idempotent: starting a
 * running stack reuses it.
 */
import { stackSettings, type StackSettings } from './stack/settings.js';
import { startTemporal, stopTemporal, temporalStatus } from './stack/temporal.js';
import { mysqlStatus, startMysql, stopMysql } from './stack/mysql.js';

const log = (message: string) => console.log(`[stack] ${message}`);

export async function startStack(settings: StackSettings = stackSettings()): Promise<void> {
  const [mysqlResult, temporalResult] = await Promise.all([startMysql(settings, log), startTemporal(settings, log)]);
  log(`mysql ${mysqlResult} at ${settings.mysql.host}:${settings.mysql.port}`);
  log(
    `temporal ${temporalResult} at ${settings.temporal.address}, Web UI http://${settings.temporal.host}:${settings.temporal.uiPort}`,
  );
}

export async function stackStatus(settings: StackSettings = stackSettings()): Promise<string[]> {
  return Promise.all([temporalStatus(settings), mysqlStatus(settings)]);
}

export async function stopStack(settings: StackSettings = stackSettings()): Promise<void> {
  const [temporal, mysql] = await Promise.all([stopTemporal(settings), stopMysql(settings)]);
  log(temporal ? 'temporal stopped' : 'temporal was not running (or not started by saliflow)');
  log(mysql ? 'mysql stopped' : 'mysql was not running (or not started by saliflow)');
}

/**
 * The single-node SGE and SLURM clusters the cluster tests run on. They need
 * root (apt, daemons); elsewhere, or with SALIFLOW_SKIP_CLUSTERS=1, the
 * cluster tests are skipped and say why.
 */
export async function startClusters(): Promise<void> {
  if (process.env.SALIFLOW_SKIP_CLUSTERS === '1') return log('clusters skipped (SALIFLOW_SKIP_CLUSTERS=1)');
  if (process.getuid?.() !== 0) return log('clusters skipped: starting SGE and SLURM needs root');
  const { execa } = await import('execa');
  const path = await import('node:path');
  const { REPO_ROOT } = await import('./stack/settings.js');
  const results = await Promise.all(
    ['sge', 'slurm'].map((cluster) =>
      execa('bash', [path.join(REPO_ROOT, 'scripts/cluster', `${cluster}.sh`), 'start'], { reject: false, all: true }),
    ),
  );
  for (const result of results) {
    const lines = (result.all ?? '').trim().split('\n');
    if (result.exitCode !== 0) throw new Error(`cluster start failed:\n${lines.slice(-15).join('\n')}`);
    log(lines.at(-1) ?? '');
  }
}

async function main(command: string | undefined, flags: string[]): Promise<void> {
  switch (command) {
    case 'start':
      await startStack();
      if (flags.includes('--with-clusters')) await startClusters();
      return;
    case 'stop':
      return stopStack();
    case 'status':
      for (const line of await stackStatus()) console.log(line);
      return;
    default:
      throw new Error(`usage: npm run stack -- start [--with-clusters]|stop|status (got ${command ?? 'nothing'})`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv[2], process.argv.slice(3)).catch((error: Error) => {
    console.error(`[stack] ${error.name === 'StackError' ? '' : `${error.name}: `}${error.message}`);
    process.exit(1);
  });
}
