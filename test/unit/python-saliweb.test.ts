/**
 * saliflow's Python side under `python3 -m unittest`, with saliflow's module
 * on the path as a lab runs its backend tests: its own saliweb.backend /
 * saliweb.test tests, and the example service's tests written against
 * saliweb.test, on every Python 3.8+ interpreter this machine has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

const PYTHON_DIR = path.join(REPO_ROOT, 'python');
const SERVICES = path.join(REPO_ROOT, 'test/support/python-services');

/** python3 from PATH, the system's, and any pyenv 3.8+ (the versions saliflow's Python side supports). */
function interpreters(): string[] {
  const found = new Set(['python3']);
  if (fs.existsSync('/usr/bin/python3')) found.add('/usr/bin/python3');
  const pyenv = path.join(process.env.PYENV_ROOT ?? '/root/.pyenv', 'versions');
  for (const version of fs.existsSync(pyenv) ? fs.readdirSync(pyenv) : []) {
    const [major, minor] = version.split('.').map(Number);
    const binary = path.join(pyenv, version, 'bin/python3');
    if (major === 3 && (minor ?? 0) >= 8 && fs.existsSync(binary)) found.add(binary);
  }
  return [...found];
}

for (const python of interpreters()) {
  test(`python -m unittest with saliflow's saliweb (${python})`, async () => {
    const version = (await execa(python, ['--version'])).stdout.trim();
    // The command README's "Moving a live saliweb service" gives, in two projects.
    const printed = await execa('node', [path.join(REPO_ROOT, 'bin/saliflow.js'), 'python-path']);
    assert.equal(printed.stdout.trim(), PYTHON_DIR);
    for (const [cwd, start, extra] of [
      [path.join(REPO_ROOT, 'test/python'), '.', ''],
      [SERVICES, 'tests', SERVICES],
    ] as const) {
      const result = await execa(python, ['-m', 'unittest', 'discover', '-s', start], {
        cwd,
        env: { PYTHONPATH: [printed.stdout.trim(), extra].filter(Boolean).join(path.delimiter) },
        reject: false,
        all: true,
      });
      assert.equal(result.exitCode, 0, `${version} in ${cwd}:\n${result.all}`);
      assert.match(result.all ?? '', /^OK$/m, `${version}: ${result.all}`);
    }
  });
}
