/**
 * saliflow as a service author gets it: `npm pack`, installed into a project
 * of their own outside this repository with production dependencies only, a
 * TypeScript service there importing the package's public entry point, the
 * package's own `saliflow` bin running the worker (through npx, as a user
 * would), jobs submitted with the bin and from README's Node frontend example (`saliflow/client`
 * only) COMPLETED, a SIGTERM to npx and one Ctrl-C on a terminal (a real pty) each a graceful stop
 * leaving no process behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { jobRow } from '../support/jobs.js';
import { until } from '../support/until.js';
import { WORKER_READY } from '../support/processes.js';

const SERVICE_TS = `import { defineService, localCommand, type RerunData } from 'saliflow';

const greeting = (config: { sections: { section(name: string): { values: ReadonlyMap<string, string> } | undefined } }) =>
  config.sections.section('packtest')?.values.get('greeting') ?? 'none';

export default defineService({
  configSections: { packtest: ['greeting'] },
  run: (job) => localCommand(['sh', '-c', 'printf "%s" "$1" > run-1.txt', 'sh', greeting(job.config)]),
  // Reschedule once: the cycle says which run this is.
  postprocess: (job) => (job.cycle === 1 ? { reschedule: { data: { round: 2 } as RerunData } } : undefined),
  rerun: (job, data) => localCommand(['sh', '-c', 'printf "%s" "$1" > run-2.txt', 'sh', JSON.stringify(data)]),
  async finalize(job) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(job.path('finalized.json'), JSON.stringify({ cycle: job.cycle, rerunData: job.rerunData }));
  },
});
`;

/** A saliweb Python service as a lab has it, run from the package's own saliweb (no saliweb installed). */
const SERVICE_PY = `import saliweb.backend


class Config(saliweb.backend.Config):
    def populate(self, config):
        saliweb.backend.Config.populate(self, config)
        self.word = config.get('packpy', 'word')


class Job(saliweb.backend.Job):
    def run(self):
        return saliweb.backend.LocalRunner(['sh', '-c', 'printf %s "$1" > py-run.txt', 'sh', self.config.word])

    def postprocess(self):
        self.logger.warning('saliweb from %s' % saliweb.backend.__file__)


def get_web_service(config_file):
    return saliweb.backend.WebService(Config(config_file), saliweb.backend.Database(Job))
`;

const SERVICE_PY_TEST = `import saliweb.test
import pyservice


class Tests(saliweb.test.TestCase):
    def test_run(self):
        job = self.make_test_job(pyservice.Job, 'RUNNING')
        job.config.word = 'w'
        self.assertIsInstance(job._run_in_job_directory(job.run), saliweb.backend.LocalRunner)
`;

/** The environment without what `npm test` puts there for its own scripts (npm_config_*, …). */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))) as Record<
    string,
    string
  >;
}

/** Processes whose command line mentions `text` (ps-free: /proc). */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`);
  }
  return found;
}

let fixture: ServiceFixture;
let pyFixture: ServiceFixture;
let project: string;
before(async () => {
  fixture = await createServiceFixture({ sections: { packtest: { greeting: 'hello from the config' } } });
  pyFixture = await createServiceFixture({ sections: { packpy: { word: 'snake' } } });
  project = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-author-'));
});
after(async () => {
  await fixture.cleanup();
  await pyFixture.cleanup();
  await fs.rm(project, { recursive: true, force: true });
});

test(
  'the packed package installs with production dependencies only and runs a TypeScript and a Python service',
  { timeout: 420_000 },
  async () => {
    const env = cleanEnv();
    const packed = await execa('npm', ['pack', '--silent', '--pack-destination', project], { cwd: REPO_ROOT, env });
    const tarball = path.join(project, packed.stdout.trim().split('\n').pop()!);
    const listing = await execa('tar', ['-tzf', tarball]);
    const files = listing.stdout.split('\n').filter(Boolean);
    assert.ok(files.includes('package/dist/core/index.js') && files.includes('package/dist/core/index.d.ts'));
    assert.ok(files.includes('package/dist/workflows/index.js'), 'the workflows the worker bundles');
    assert.ok(
      files.includes('package/python/saliweb/backend.py') && files.includes('package/python/saliflow_bridge.py'),
    );
    assert.deepEqual(
      files.filter(
        (file) =>
          /^package\/(test|bench|scripts|examples|\.state)\//.test(file) ||
          (file.endsWith('.ts') && !file.endsWith('.d.ts')),
      ),
      [],
      'no tests, benches, scripts or sources in the package',
    );

    // README's figure for the package stays true (to a fifth, so small changes need no edit).
    const stated = /this README: (\d+) files, about (\d+) kB packed/.exec(
      await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8'),
    );
    assert.ok(stated, "README's package size");
    const packedKb = (await fs.stat(tarball)).size / 1000;
    for (const [what, said, measured] of [
      ['files', Number(stated[1]), files.filter((file) => !file.endsWith('/')).length],
      ['kB', Number(stated[2]), packedKb],
    ] as const) {
      assert.ok(
        Math.abs(measured - said) <= said / 5,
        `README says ${said} ${what}, the package has ${Math.round(measured)}`,
      );
    }

    // The build is the packing's (prepack), not an install's: npm 11 warns of a packed `prepare`.
    const packedManifest = JSON.parse((await execa('tar', ['-xOzf', tarball, 'package/package.json'])).stdout) as {
      scripts?: Record<string, string>;
    };
    assert.equal(packedManifest.scripts?.prepare, undefined, 'no prepare script in the package');

    await fs.writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'packtest-service', private: true, type: 'module' }, null, 2),
    );
    await execa('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], { cwd: project, env });
    await fs.access(path.join(project, 'node_modules/saliflow/dist/core/index.js'));
    await assert.rejects(fs.access(path.join(project, 'node_modules/typescript')), 'no dev dependencies');
    await fs.writeFile(path.join(project, 'service.ts'), SERVICE_TS);
    await fs.writeFile(path.join(project, 'pyservice.py'), SERVICE_PY);
    await fs.mkdir(path.join(project, 'tests'));
    await fs.writeFile(path.join(project, 'tests', 'test_pyservice.py'), SERVICE_PY_TEST);

    const saliflow = (args: string[]) =>
      execa('npx', ['--no-install', 'saliflow', ...args], { cwd: project, env, reject: false });
    const worker: ResultPromise = execa(
      'npx',
      // prettier-ignore
      ['--no-install', 'saliflow', 'worker', '--config', fixture.configFile, '--service', 'service.ts',
        '--config', pyFixture.configFile, '--python-service', 'pyservice.py'],
      { cwd: project, env, reject: false, all: true },
    );
    let output = '';
    worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until('the installed worker to start', async () => {
        if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
        return WORKER_READY.test(output) && output.includes(pyFixture.config.general.serviceName) ? true : undefined;
      });
      // The lab's own backend tests, with the package's saliweb (README "Moving a live saliweb service").
      const pythonPath = (await saliflow(['python-path'])).stdout.trim();
      assert.equal(pythonPath, path.join(project, 'node_modules/saliflow/python'));
      const unittest = await execa('python3', ['-m', 'unittest', 'discover', '-s', 'tests'], {
        cwd: project,
        env: { ...env, PYTHONPATH: `${pythonPath}:${project}` },
        reject: false,
        all: true,
      });
      assert.equal(unittest.exitCode, 0, unittest.all);
      const pySubmitted = await execa(
        'npx',
        [
          '--no-install',
          'saliflow',
          'submit',
          '--config',
          pyFixture.configFile,
          '--name',
          'py-author',
          path.join(project, 'pyservice.py'),
        ],
        { cwd: project, env, reject: false },
      );
      assert.equal(pySubmitted.exitCode, 0, pySubmitted.stderr);
      const pyName = pySubmitted.stdout.split('\t')[0]!;
      const pyRow = await until(`${pyName} COMPLETED`, async () => {
        const current = await jobRow(pyFixture.db, pyName);
        if (current.state === 'FAILED') throw new Error(`${pyName} FAILED: ${current.failure}\n${output}`);
        return current.state === 'COMPLETED' ? current : undefined;
      });
      assert.equal(await fs.readFile(path.join(pyRow.directory!, 'py-run.txt'), 'utf8'), 'snake');
      assert.match(
        await fs.readFile(path.join(pyRow.directory!, 'framework.log'), 'utf8'),
        new RegExp(`WARNING saliweb from ${path.join(project, 'node_modules/saliflow/python/saliweb/backend.py')}`),
      );
      const input = path.join(project, 'input.txt');
      await fs.writeFile(input, 'data\n');
      const names: string[] = [];
      for (const name of ['author-a', 'author-b']) {
        const submitted = await saliflow(['submit', '--config', fixture.configFile, '--name', name, input]);
        assert.equal(submitted.exitCode, 0, submitted.stderr);
        names.push(submitted.stdout.split('\t')[0]!);
      }
      // README's frontend example, as written there, through the public exports only.
      const readme = await fs.readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
      const example = /```js\n(\/\/ submit\.mjs:[^]*?)```/.exec(readme)?.[1];
      assert.ok(example, "README's submit.mjs example");
      await fs.writeFile(path.join(project, 'submit.mjs'), example);
      const fromNode = await execa('node', ['submit.mjs', fixture.configFile, input], {
        cwd: project,
        env,
        reject: false,
      });
      assert.equal(fromNode.exitCode, 0, fromNode.stderr);
      const [frontendName, frontendUrl] = fromNode.stdout.trim().split('\t');
      assert.match(frontendName!, /^my-job/);
      assert.match(frontendUrl!, new RegExp(`/job/${frontendName}\\?passwd=`));
      names.push(frontendName!);
      for (const name of names) {
        const row = await until(`${name} COMPLETED`, async () => {
          const current = await jobRow(fixture.db, name);
          if (current.state === 'FAILED') throw new Error(`${name} FAILED: ${current.failure}\n${output}`);
          return current.state === 'COMPLETED' ? current : undefined;
        });
        const directory = row.directory!;
        assert.equal(await fs.readFile(path.join(directory, 'run-1.txt'), 'utf8'), 'hello from the config');
        assert.equal(await fs.readFile(path.join(directory, 'run-2.txt'), 'utf8'), '{"round":2}');
        assert.deepEqual(JSON.parse(await fs.readFile(path.join(directory, 'finalized.json'), 'utf8')), {
          cycle: 2,
          rerunData: { round: 2 },
        });
      }
    } finally {
      worker.kill('SIGTERM');
      await worker;
      // npx runs the bin under `sh -c`, which does not pass the signal on: the worker must notice and stop.
      await until(
        'no process of the installed package left',
        async () => ((await processesMentioning(path.join(project, 'node_modules'))).length === 0 ? true : undefined),
        60_000,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}:\n${(await processesMentioning(project)).join('\n')}\n${output}`);
      });
    }

    // One Ctrl-C typed at a terminal running `npx saliflow worker` is one graceful stop (the terminal signals npx,
    // its shell, the bin and the worker at once), and leaves nothing behind.
    const onTerminal = execa(
      'python3',
      [
        path.join(REPO_ROOT, 'test/support/pty-run.py'),
        'npx',
        '--no-install',
        'saliflow',
        'worker',
        '--config',
        fixture.configFile,
        '--service',
        'service.ts',
      ],
      { cwd: project, env, reject: false, all: true, stdin: 'pipe' },
    );
    let typed = '';
    onTerminal.all?.on('data', (chunk: Buffer) => (typed += chunk.toString()));
    await until('the worker on a terminal to start', async () => {
      if (onTerminal.exitCode !== null) throw new Error(`the worker exited:\n${typed}`);
      return typed.includes('saliflow worker for') ? true : undefined;
    });
    onTerminal.stdin!.write('ctrl-c\n');
    await onTerminal;
    await until(
      'no process of the installed package left after Ctrl-C',
      async () => ((await processesMentioning(path.join(project, 'node_modules'))).length === 0 ? true : undefined),
      60_000,
    );
    assert.match(typed, /SIGINT: stopping; steps in flight have/);
    assert.doesNotMatch(typed, /again: exiting now/);
  },
);
