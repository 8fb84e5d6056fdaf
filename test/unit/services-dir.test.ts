/** `saliflow worker --services-dir`: which folders are services, and where their files are read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { servicesInDirectory } from '../../worker/services-dir.js';

function scratch(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'saliflow-services-dir-')));
}

test('one service per folder, in name order; hidden folders and plain files are not services', () => {
  const dir = scratch();
  const elsewhere = scratch();
  try {
    fs.writeFileSync(path.join(elsewhere, 'modbar.conf'), '');
    for (const name of ['modfoo', 'modbar', '.hidden']) fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, 'modfoo', 'service.conf'), '');
    fs.writeFileSync(path.join(dir, 'modfoo', 'service.ts'), '');
    fs.writeFileSync(path.join(dir, 'modfoo', 'service.js'), '');
    fs.symlinkSync(path.join(elsewhere, 'modbar.conf'), path.join(dir, 'modbar', 'service.conf'));
    fs.writeFileSync(path.join(dir, 'modbar', 'service.mjs'), '');
    fs.writeFileSync(path.join(dir, 'README'), '');
    assert.deepEqual(servicesInDirectory(dir), [
      {
        label: 'modbar',
        // Read where it points: its relative paths are relative to the real file.
        config: path.join(elsewhere, 'modbar.conf'),
        service: path.join(dir, 'modbar', 'service.mjs'),
        missing: undefined,
      },
      {
        label: 'modfoo',
        config: path.join(dir, 'modfoo', 'service.conf'),
        // .js before .ts: a built service is preferred to its sources.
        service: path.join(dir, 'modfoo', 'service.js'),
        missing: undefined,
      },
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('a folder without a module is still a service, whose start will fail naming the files looked for', () => {
  const dir = scratch();
  try {
    fs.mkdirSync(path.join(dir, 'modfoo'));
    const [spec] = servicesInDirectory(dir);
    assert.equal(spec?.service, undefined);
    assert.match(spec?.missing ?? '', /modfoo has none of service\.js, service\.mjs/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or empty directory is an error naming it', () => {
  const dir = scratch();
  try {
    assert.throws(() => servicesInDirectory(dir), /--services-dir .* has no service: give it one subdirectory/);
    assert.throws(() => servicesInDirectory(path.join(dir, 'nope')), /--services-dir .*nope: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a saliweb Python service: service.py, or service/ (a package folder or a link to one)', async () => {
  const { pythonModuleOf } = await import('../../engine/python-service.js');
  const dir = scratch();
  const elsewhere = scratch();
  try {
    for (const name of ['allosmod', 'foxs']) fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, 'foxs', 'service.py'), '');
    fs.mkdirSync(path.join(elsewhere, 'allosmod'));
    fs.writeFileSync(path.join(elsewhere, 'allosmod', '__init__.py'), '');
    fs.symlinkSync(path.join(elsewhere, 'allosmod'), path.join(dir, 'allosmod', 'service'));
    const [allosmod, foxs] = servicesInDirectory(dir);
    assert.equal(allosmod?.service, path.join(dir, 'allosmod', 'service'));
    assert.equal(foxs?.service, path.join(dir, 'foxs', 'service.py'));
    // The linked package is imported where it lives, under its own name (its relative imports work).
    assert.deepEqual(pythonModuleOf(allosmod!.service!), { module: 'allosmod', directory: elsewhere });
    assert.deepEqual(pythonModuleOf(foxs!.service!), { module: 'service', directory: path.join(dir, 'foxs') });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
