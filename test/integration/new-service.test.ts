/**
 * `saliflow new-service`: both kinds of project, written by the real command into a temporary folder; their
 * config loads with saliflow's loader, and their own tests pass as an author runs them (the TypeScript test
 * against this checkout's saliflow/testing, the Python one against saliflow's saliweb.test). No MySQL or
 * Temporal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { loadServiceConfig, readIniFile } from '../../core/config/index.js';
import { UsageError } from '../../core/errors.js';
import { createServiceProject } from '../../cli/new-service.js';

let root: string;
const BIN = path.join(REPO_ROOT, 'bin/saliflow.js');

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'saliflow-new-service-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function newService(...args: string[]) {
  return execa('node', [BIN, 'new-service', ...args], { cwd: root, reject: false, all: true });
}

/** The config as the worker reads it; every folder and the socket inside the project. */
function checkConfig(project: string, name: string) {
  const config = loadServiceConfig(path.join(project, 'conf/live.conf'), {});
  assert.equal(config.general.serviceName, name);
  const inside = (file: string) =>
    assert.ok(file === project || file.startsWith(project + path.sep), `${file} is inside ${project}`);
  inside(config.general.socket);
  inside(config.backend.stateFile);
  for (const folder of Object.values(config.directories)) if (folder) inside(folder);
  for (const state of ['INCOMING', 'PREPROCESSING', 'COMPLETED', 'FAILED'] as const) {
    assert.ok(fs.statSync(config.directories[state]).isDirectory(), `${state} folder made`);
  }
  assert.equal(config.database.db, name.toLowerCase());
  assert.equal(config.temporal.taskQueue, `saliflow-${name.toLowerCase()}`);
  for (const file of ['backend.conf', 'frontend.conf']) {
    assert.equal(fs.statSync(path.join(project, 'conf', file)).mode & 0o777, 0o600, `${file} is private`);
  }
  return config;
}

const passwords = (project: string) =>
  ['backend', 'frontend'].map(
    (role) =>
      readIniFile(path.join(project, `conf/${role}.conf`))
        .section(`${role}_db`)
        ?.values.get('passwd') ?? '',
  );

test('a TypeScript project: config loads, its own test passes against saliflow/testing, and it type-checks', async () => {
  const made = await newService('ModBar', '--dir', 'modbar');
  assert.equal(made.exitCode, 0, made.all);
  const project = path.join(root, 'modbar');
  checkConfig(project, 'ModBar');
  for (const file of ['service.ts', 'test/service.test.ts', 'package.json', 'saliflow-modbar.service', 'README.md']) {
    assert.ok(fs.existsSync(path.join(project, file)), file);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8'));
  assert.ok(pkg.dependencies.saliflow);
  const unit = fs.readFileSync(path.join(project, 'saliflow-modbar.service'), 'utf8');
  assert.match(unit, /ExecStart=.*saliflow worker --config conf\/live\.conf --service service\.ts/);
  assert.match(fs.readFileSync(path.join(project, 'README.md'), 'utf8'), /npx saliflow db provision/);

  // saliflow as the project would import it, but from this checkout's sources (no build): a package whose
  // entry points are the .ts modules, which tsx runs.
  const pkgDir = path.join(project, 'node_modules/saliflow');
  fs.mkdirSync(pkgDir, { recursive: true });
  for (const folder of ['core', 'client', 'engine'])
    fs.symlinkSync(path.join(REPO_ROOT, folder), path.join(pkgDir, folder));
  fs.writeFileSync(
    path.join(pkgDir, 'package.json'),
    JSON.stringify({
      name: 'saliflow',
      type: 'module',
      exports: { '.': './core/index.ts', './testing': './client/testing.ts' },
    }),
  );
  const tsx = import.meta.resolve('tsx');
  // A test run of its own, as the author's: not a subtest of this one (node:test's NODE_TEST_CONTEXT).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const run = await execa('node', ['--import', tsx, '--test', 'test/service.test.ts'], {
    cwd: project,
    env,
    extendEnv: false,
    reject: false,
    all: true,
  });
  assert.equal(run.exitCode, 0, run.all);
  assert.match(run.all, /# pass 3\n/);
  assert.match(run.all, /# fail 0\n/);

  // The service and its test type-check against saliflow's types (--allowImportingTsExtensions: the shim's
  // entry points are .ts files; the package's are .d.ts).
  fs.mkdirSync(path.join(project, 'node_modules/@types'), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types/node'), path.join(project, 'node_modules/@types/node'));
  const tsc = await execa(
    path.join(REPO_ROOT, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.json', '--allowImportingTsExtensions'],
    { cwd: project, reject: false, all: true },
  );
  assert.equal(tsc.exitCode, 0, tsc.all);
});

test('a Python project: config loads in both loaders, and its saliweb.test unittest passes', async () => {
  const made = await newService('ModBaz', '--python', '--dir', 'modbaz');
  assert.equal(made.exitCode, 0, made.all);
  const project = path.join(root, 'modbaz');
  checkConfig(project, 'ModBaz');
  assert.ok(fs.existsSync(path.join(project, 'modbaz/__init__.py')));
  assert.match(fs.readFileSync(path.join(project, 'saliflow-modbaz.service'), 'utf8'), /--python-service modbaz/);
  const env = { PYTHONPATH: `${path.join(REPO_ROOT, 'python')}:.` };
  const service = await execa(
    'python3',
    ['-c', "import modbaz; ws = modbaz.get_web_service('conf/live.conf'); print(ws.config.service_name)"],
    { cwd: project, env, reject: false, all: true },
  );
  assert.equal(service.exitCode, 0, service.all);
  assert.equal(service.stdout.trim(), 'ModBaz');
  const unittest = await execa('python3', ['-m', 'unittest', 'discover', '-s', 'test'], {
    cwd: project,
    env,
    reject: false,
    all: true,
  });
  assert.equal(unittest.exitCode, 0, unittest.all);
  assert.match(unittest.all, /Ran 4 tests/);
  // Each project has passwords of its own.
  const ts = passwords(path.join(root, 'modbar'));
  const py = passwords(project);
  assert.equal(new Set([...ts, ...py]).size, 4);
  for (const word of py) assert.ok(word.length >= 20, 'a long random password');
});

test('a bad name and a non-empty folder are refused, writing nothing', async () => {
  const bad = await newService('mod-foo');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /"mod-foo" is not a service name/);
  assert.equal(fs.existsSync(path.join(root, 'mod-foo')), false);

  const full = path.join(root, 'full');
  fs.mkdirSync(full);
  fs.writeFileSync(path.join(full, 'keep.txt'), 'mine');
  assert.throws(() => createServiceProject({ name: 'Full', dir: full }), UsageError);
  const again = await newService('Full', '--dir', 'full');
  assert.equal(again.exitCode, 2);
  assert.match(again.stderr, /full is not empty; choose a new or empty folder with --dir/);
  assert.deepEqual(fs.readdirSync(full), ['keep.txt']);
});
