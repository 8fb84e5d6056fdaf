#!/usr/bin/env node
// The `saliflow` command. Installed from npm it runs the compiled CLI (dist/) with
// production dependencies only; in a checkout (cli/main.ts beside it) it runs the
// sources through tsx, so a change needs no build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { constants } from 'node:os';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'cli/main.ts');
const fromSource = existsSync(source);
const entry = fromSource ? source : path.join(root, 'dist/cli/main.js');
// Read by glibc when the process starts (worker/malloc-tuning.ts says why; a test keeps the two in step).
const MALLOC_TUNING = { MALLOC_MMAP_THRESHOLD_: '131072' };
const tuned =
  process.env.MALLOC_MMAP_THRESHOLD_ !== undefined || /mmap_threshold=/.test(process.env.GLIBC_TUNABLES ?? '');

if (process.argv[2] !== 'worker' || tuned) {
  // One process: signals reach the CLI (and the worker) directly, whoever started it.
  if (fromSource) {
    (await import('tsx/esm/api')).register();
    globalThis[Symbol.for('saliflow.tsx-registered')] = true; // worker/load-service.ts reads it
  }
  const { main } = await import(pathToFileURL(entry).href);
  await main(process.argv);
} else {
  // The tuning must be in the environment when the process starts, so the worker is a child. It
  // gets every stop signal we get, and an IPC channel whose end (we were SIGKILLed) it takes as a
  // stop: it is never left behind.
  const loader = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
  const child = spawn(process.execPath, [...loader, entry, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...MALLOC_TUNING },
  });
  // A signal is passed on as a count over IPC, not as a signal (worker/wrapper-signals.ts says why: the terminal's
  // Ctrl-C, `kill -- -PGID` and systemd's control-group kill reach the child too, and must count once); until
  // the child says it hears the counts (it is still loading), as a signal, which then stops it as before.
  const WRAPPER_SIGNAL = 'saliflow:signal';
  let counting = false;
  child.on('message', (message) => {
    if (message?.[WRAPPER_SIGNAL] === 'listening') counting = true;
  });
  const counts = {};
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2']) {
    process.on(signal, () => {
      counts[signal] = (counts[signal] ?? 0) + 1;
      if (counting && child.connected) child.send({ [WRAPPER_SIGNAL]: signal, count: counts[signal] });
      else child.kill(signal);
    });
  }
  // Started under `sh -c` (npx, npm scripts), a stop may kill the shell and never reach us: we are re-parented.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanWatch);
    child.kill('SIGTERM');
  }, 1000).unref();
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
}
