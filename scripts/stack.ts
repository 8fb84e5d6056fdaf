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

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'start':
      return startStack();
    case 'stop':
      return stopStack();
    case 'status':
      for (const line of await stackStatus()) console.log(line);
      return;
    default:
      throw new Error(`usage: npm run stack -- start|stop|status (got ${command ?? 'nothing'})`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv[2]).catch((error: Error) => {
    console.error(`[stack] ${error.name === 'StackError' ? '' : `${error.name}: `}${error.message}`);
    process.exit(1);
  });
}
