/**
 * A headless Chromium for the Web UI test: Debian's `chromium` package,
 * driven by playwright-core (which downloads no browser of its own).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const KNOWN_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `SALIFLOW_CHROMIUM`, else Debian's chromium (or another Chrome on PATH); a clear error when there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env, knownPaths = KNOWN_PATHS): string {
  const chosen = env.SALIFLOW_CHROMIUM;
  if (chosen) {
    if (executable(chosen)) return chosen;
    throw new Error(`SALIFLOW_CHROMIUM=${chosen} is not an executable file; point it at a Chromium or Chrome binary`);
  }
  const onPath = (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .flatMap((dir) => ['chromium', 'chromium-browser', 'google-chrome'].map((name) => path.join(dir, name)));
  const found = [...knownPaths, ...onPath].find(executable);
  if (found) return found;
  throw new Error(
    'the Web UI test needs Chromium and found none (looked in /usr/bin and on PATH): install it with ' +
      '`apt-get install chromium` (Debian/Ubuntu; .ci/run does this), or set SALIFLOW_CHROMIUM to a Chromium or Chrome binary',
  );
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), headless: true });
}
