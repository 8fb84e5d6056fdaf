/** The server processes of the dev stack (pid files under SALIFLOW_STATE_DIR) or the production cluster, to sample their CPU and memory. */
import { readFileSync } from 'node:fs';
import { stackSettings } from '../../scripts/stack/settings.js';
import { targetTemporalPids } from './target.js';

function livePid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export interface StackPids {
  /** The Temporal server's processes: the dev server, or each service of the production cluster. */
  temporal: number[];
  mariadb: number | undefined;
}

export function stackPids(): StackPids {
  const settings = stackSettings();
  return { temporal: targetTemporalPids(livePid(settings.temporal.pidFile)), mariadb: livePid(settings.mysql.pidFile) };
}

/** The roles to sample: the given workers, plus the servers when they run here. */
export function samplingRoles(workers: readonly number[], pids: StackPids): Record<string, number[]> {
  return {
    worker: [...workers],
    temporal: pids.temporal,
    mariadb: pids.mariadb ? [pids.mariadb] : [],
  };
}
