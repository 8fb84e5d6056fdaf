/**
 * The Temporal Web UI server in front of the cluster: it reaches the
 * mutual-TLS frontend with the same client certificate as saliflow and
 * serves the UI on its own port (not the dev server's 8233).
 */
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from '../../core/errors.js';
import { portIsOpen, processIsAlive, readPid, sleep, spawnDetached, stopProcess, tailOf } from '../stack/processes.js';
import { SERVER_NAME, type ProductionSettings } from './settings.js';

const pidFile = (settings: ProductionSettings) => path.join(settings.runDir, 'ui.pid');
const logFile = (settings: ProductionSettings) => path.join(settings.logDir, 'ui.log');

export function uiConfig(settings: ProductionSettings): string {
  const { certs } = settings;
  return [
    `temporalGrpcAddress: ${settings.mtlsAddress}`,
    `host: ${settings.host}`,
    `port: ${settings.ui.port}`,
    'enableUi: true',
    `defaultNamespace: ${settings.namespace}`,
    'disableNewsFetch: true',
    'notifyOnNewVersion: false',
    'refreshInterval: 1m',
    'tls:',
    `  caFile: ${certs.ca}`,
    `  certFile: ${certs.clientCert}`,
    `  keyFile: ${certs.clientKey}`,
    `  serverName: ${SERVER_NAME}`,
    '  enableHostVerification: true',
    '',
  ].join('\n');
}

export async function startUi(settings: ProductionSettings, binary: string): Promise<'started' | 'reused'> {
  const pid = readPid(pidFile(settings));
  if (pid !== undefined && processIsAlive(pid)) return 'reused';
  if (await portIsOpen(settings.host, settings.ui.port)) {
    throw new StackError(`the Web UI port ${settings.ui.port} is taken by another program; free it`);
  }
  fs.mkdirSync(settings.ui.configDir, { recursive: true });
  fs.writeFileSync(path.join(settings.ui.configDir, 'base.yaml'), '{}\n');
  fs.writeFileSync(path.join(settings.ui.configDir, 'production.yaml'), uiConfig(settings));
  const child = spawnDetached(
    binary,
    ['--root', settings.ui.configDir, '--config', '.', '--env', 'production', 'start'],
    logFile(settings),
    pidFile(settings),
  );
  for (const deadline = Date.now() + 30_000; !(await portIsOpen(settings.host, settings.ui.port)); await sleep(200)) {
    if (!processIsAlive(child) || Date.now() > deadline) {
      throw new StackError(`the Web UI server did not start. Its log ends with:\n${tailOf(logFile(settings))}`);
    }
  }
  return 'started';
}

export async function uiStatus(settings: ProductionSettings): Promise<string> {
  const pid = readPid(pidFile(settings));
  return pid !== undefined && processIsAlive(pid) && (await portIsOpen(settings.host, settings.ui.port))
    ? `web ui: up (pid ${pid}) at http://${settings.host}:${settings.ui.port}`
    : 'web ui: down';
}

export function stopUi(settings: ProductionSettings): Promise<boolean> {
  return stopProcess(pidFile(settings));
}
