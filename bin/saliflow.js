#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so a checkout works without a build.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Resolved from here, not from the caller's folder, so it works from anywhere.
const tsx = import.meta.resolve('tsx');
// Read by glibc when the process starts (worker/malloc-tuning.ts says why; a test keeps the two in step).
const MALLOC_TUNING = { MALLOC_MMAP_THRESHOLD_: '131072' };
const tuned =
  process.env.MALLOC_MMAP_THRESHOLD_ !== undefined || /mmap_threshold=/.test(process.env.GLIBC_TUNABLES ?? '');
const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'client/cli.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: tuned ? process.env : { ...process.env, ...MALLOC_TUNING },
});
// Pass stop signals on, so `saliflow worker` shuts down gracefully under a supervisor.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
