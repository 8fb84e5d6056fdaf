/**
 * Which saliflow this is: the `version` of saliflow's own package.json, found from this module
 * upwards (`worker/` in a checkout, `dist/worker/` in the package). In `saliflow --version`, the
 * worker's start-up line, its Temporal identity (so `saliflow status` lists each worker's) and
 * the `saliflow_build_info{version}` metric.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

export function saliflowVersion(): string {
  if (version !== undefined) return version;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'saliflow' && typeof manifest.version === 'string') return (version = manifest.version);
    } catch {
      // No package.json here (or not ours): look further up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return (version = 'unknown');
    dir = parent;
  }
}
