/**
 * The public API is checked: the checked-in api/*.api.md reports and docs/api.md match what the package.json
 * `exports` entry points declare, so an unintended change to what service authors and frontends import fails CI.
 * Builds its own declarations into a temporary folder (no `npm run build` needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apiReport, entryPoints } from '../../scripts/api-report.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

test('the checked-in API reports and docs/api.md match the exports entry points', () => {
  const { changed, stale, docChanged } = apiReport(true);
  const fix =
    'run `npm run api:report` and commit the report if the change is intended (CHANGELOG.md, README "Versioning")';
  assert.deepEqual(changed, [], `the public API changed: ${changed.join('; ')}; ${fix}`);
  assert.deepEqual(stale, [], `reports of entry points no longer exported: ${stale.join(', ')}; ${fix}`);
  assert.equal(docChanged, false, `docs/api.md is out of date; ${fix}`);
});

test('a changed or stale report and an edited reference page are each found', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-api-test-'));
  try {
    await fs.cp(path.join(ROOT, 'api'), dir, { recursive: true });
    const report = path.join(dir, 'saliflow.api.md');
    const text = await fs.readFile(report, 'utf8');
    // As if defineService had been removed from the API since the report was committed.
    assert.match(text, /export function defineService/);
    await fs.writeFile(report, text.replace(/export function defineService[^;]*;/, ''));
    await fs.writeFile(path.join(dir, 'saliflow-gone.api.md'), '## API Report File for "saliflow"\n');
    const page = path.join(dir, 'api.md');
    await fs.writeFile(page, (await fs.readFile(path.join(ROOT, 'docs', 'api.md'), 'utf8')) + '\nedited\n');
    const { changed, stale, docChanged } = apiReport(true, { reportDir: dir, docPage: page });
    assert.deepEqual(changed, ["'saliflow', 'saliflow/core' (api/saliflow.api.md)"]);
    assert.deepEqual(stale, ['saliflow-gone.api.md']);
    assert.equal(docChanged, true);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('entry points come from package.json exports: aliases share a report, a new one gets its own', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-api-exports-'));
  try {
    const exports = {
      '.': { types: './dist/core/index.d.ts', default: './dist/core/index.js' },
      './core': { types: './dist/core/index.d.ts', default: './dist/core/index.js' },
      './client': { types: './dist/client/submit.d.ts', default: './dist/client/submit.js' },
      './testing': { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' },
      './package.json': './package.json',
    };
    await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'saliflow', exports }));
    assert.deepEqual(entryPoints(dir), [
      {
        subpaths: ['.', './core'],
        source: 'core/index.ts',
        declaration: 'core/index.d.ts',
        reportName: 'saliflow',
      },
      {
        subpaths: ['./client'],
        source: 'client/submit.ts',
        declaration: 'client/submit.d.ts',
        reportName: 'saliflow-client',
      },
      {
        subpaths: ['./testing'],
        source: 'testing/index.ts',
        declaration: 'testing/index.d.ts',
        reportName: 'saliflow-testing',
      },
    ]);
    // An entry point without declarations would escape the check: refused, naming it.
    await fs.writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'saliflow', exports: { ...exports, './extra': './dist/extra.js' } }),
    );
    assert.throws(() => entryPoints(dir), /exports\["\.\/extra"\] has no "types" condition/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
