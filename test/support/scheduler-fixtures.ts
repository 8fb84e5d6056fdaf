/** Scheduler output recorded by scripts/cluster/record-fixtures.sh: NAME.out, NAME.err, NAME.rc. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import type { CommandResult } from '../../engine/runners/scheduler-command.js';

const root = path.join(REPO_ROOT, 'test/fixtures');

export function recorded(scheduler: 'sge' | 'slurm', name: string): CommandResult {
  const file = (ext: string) => readFileSync(path.join(root, scheduler, `${name}.${ext}`), 'utf8');
  return { stdout: file('out'), stderr: file('err'), exitCode: Number(file('rc').trim()) };
}

/** Every recorded case of a scheduler, so a test can check none is left untested. */
export function recordedCases(scheduler: 'sge' | 'slurm'): string[] {
  return readdirSync(path.join(root, scheduler))
    .filter((file) => file.endsWith('.rc'))
    .map((file) => file.slice(0, -3))
    .sort();
}
