// Installs node_modules when missing or older than package-lock.json, so
// `npm run demo`, `npm test` and `npm run bench` work straight from a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  console.log('[saliflow] installing npm dependencies (npm ci)…');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[saliflow] npm ci failed; fix the error above (network to the npm registry?) and run again');
    process.exit(result.status ?? 1);
  }
}
