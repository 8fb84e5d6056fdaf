/** The facts that make a figure comparable: machine, load, versions, commit. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

export function loadAverage(): [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = os.loadavg();
  return [one, five, fifteen].map((value) => Number(value.toFixed(2))) as [number, number, number];
}

export interface GitFacts {
  commit: string;
  branch: string | undefined;
  /** Uncommitted changes outside bench/results when measured. */
  dirty: boolean;
}

export function gitFacts(): GitFacts {
  const status = run('git', ['status', '--porcelain', '--', '.', ':!bench/results']) ?? '';
  return {
    commit: run('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    branch: run('git', ['rev-parse', '--abbrev-ref', 'HEAD']),
    dirty: status.split('\n').some((line) => line.trim() !== '' && !line.endsWith('node_modules')),
  };
}

function packageVersion(name: string): string | undefined {
  try {
    const file = path.join(REPO_ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  temporalSdk: string | undefined;
  temporalServer: string | undefined;
  temporalCli: string | undefined;
  mysqlServer: string | undefined;
}

export async function machineFacts(
  client: Client,
  db: Pick<mysql.Pool, 'query'>,
  temporalPid: number | undefined,
): Promise<MachineFacts> {
  const info = await client.workflowService.getSystemInfo({}).catch(() => undefined);
  const [[version]] = (await db.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  // The server's own binary answers `--version` (temporal CLI with the embedded server's version).
  const cli = temporalPid ? run(`/proc/${temporalPid}/exe`, ['--version']) : undefined;
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    temporalSdk: packageVersion('@temporalio/worker'),
    temporalServer: info?.serverVersion ?? undefined,
    temporalCli: cli,
    mysqlServer: version.v,
  };
}
