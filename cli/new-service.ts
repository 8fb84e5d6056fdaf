/**
 * `saliflow new-service NAME`: a working service project, as saliweb's
 * `make_web_service` made one: the config (saliweb INI, with random database
 * passwords), the state folders, the service (TypeScript, or with `--python`
 * a saliweb Python package), its test, a systemd unit and a README.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { saliflowVersion } from '../worker/version.js';
import { UsageError } from './support.js';

export interface NewServiceOptions {
  /** The service's name (`[general] service_name`); its lower-cased form names the database, users and files. */
  name: string;
  /** A saliweb Python service instead of a TypeScript one. */
  python?: boolean;
  /** Where to write it. @defaultValue `./<lower-cased name>` */
  dir?: string;
}

/** What was written, for the caller to print. */
export interface NewServiceResult {
  directory: string;
  short: string;
  files: string[];
}

// A Python package name and a MySQL name at once; MySQL user names hold 32 characters, and `_frontend` takes 9.
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,22}$/;

/** The folders jobs move through (saliweb's [directories]), under the project's jobs/. */
const STATE_FOLDERS = ['incoming', 'running', 'completed', 'failed'];

function password(): string {
  // base64url: no character an INI value or configparser's interpolation (`%`) treats specially.
  return randomBytes(18).toString('base64url');
}

/**
 * Writes the project and returns what it wrote.
 * @throws UsageError for a bad name or a folder that exists and is not empty
 */
export function createServiceProject(options: NewServiceOptions): NewServiceResult {
  const { name } = options;
  if (!NAME.test(name)) {
    throw new UsageError(
      `new-service: ${JSON.stringify(name)} is not a service name; use a letter then letters, digits or _ ` +
        '(at most 23 characters: it names the database, its users and the Python package), e.g. ModFoo',
    );
  }
  const short = name.toLowerCase();
  const directory = path.resolve(options.dir ?? short);
  if (fs.existsSync(directory)) {
    if (!fs.statSync(directory).isDirectory()) {
      throw new UsageError(`new-service: ${directory} exists and is not a folder; choose another --dir`);
    }
    if (fs.readdirSync(directory).length > 0) {
      throw new UsageError(
        `new-service: ${directory} is not empty; choose a new or empty folder with --dir, nothing was written`,
      );
    }
  }
  const files: string[] = [];
  const write = (relative: string, text: string, mode = 0o644) => {
    const file = path.join(directory, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
    files.push(relative);
  };
  for (const folder of [...STATE_FOLDERS.map((f) => `jobs/${f}`), 'run']) {
    fs.mkdirSync(path.join(directory, folder), { recursive: true });
  }
  const user = os.userInfo().username;
  write('conf/live.conf', liveConf(name, short, user));
  // Credentials: readable by the backend user only (saliweb: backend.conf is not world-readable).
  write('conf/backend.conf', `[backend_db]\nuser: ${short}_backend\npasswd: ${password()}\n`, 0o600);
  write('conf/frontend.conf', `[frontend_db]\nuser: ${short}_frontend\npasswd: ${password()}\n`, 0o600);
  const serviceArg = options.python ? `--python-service ${short}` : '--service service.ts';
  if (options.python) {
    write(`${short}/__init__.py`, pythonService(name));
    write(`test/test_${short}.py`, pythonTest(name, short));
  } else {
    write('service.ts', tsService(name));
    write('test/service.test.ts', tsTest(name));
    write('tsconfig.json', TSCONFIG);
  }
  write('package.json', packageJson(short, options.python === true, serviceArg));
  write(`saliflow-${short}.service`, systemdUnit(name, short, user, directory, serviceArg));
  write('README.md', readme(name, short, options.python === true, serviceArg));
  return { directory, short, files };
}

function liveConf(name: string, short: string, user: string): string {
  return `# ${name}: a saliflow service, configured as a saliweb service is (saliflow new-service).
# Relative paths are relative to this file's folder.

[general]
admin_email: ${user}@localhost
socket: ../run/${short}.socket
service_name: ${name}
urltop: http://localhost/${short}
# The web server's user, given rwx on the socket by an ACL (setfacl). Left out it is saliweb's apache.
socket_user: none

[backend]
user: ${user}
state_file: ../run/${short}.state
check_minutes: 10

[limits]
running: 5

[database]
db: ${short}
# With no host, port or socket: the local server's Unix socket /var/lib/mysql/mysql.sock (saliweb's default).
# host: 127.0.0.1
# port: 3306
frontend_config: frontend.conf
backend_config: backend.conf

[directories]
install: ..
incoming: ../jobs/incoming
preprocessing: ../jobs/running
completed: ../jobs/completed
failed: ../jobs/failed

[oldjobs]
archive: 30d
expire: 90d

[temporal]
address: 127.0.0.1:7233
namespace: default
task_queue: saliflow-${short}
`;
}

function tsService(name: string): string {
  return `/**
 * ${name}: the user uploads input.txt; preprocess counts its lines into the
 * service's own num_lines column (an empty input completes without a run),
 * the run sorts it into output.txt, postprocess checks the output.
 */
import fs from 'node:fs/promises';
import { defineService, localCommand, type JobContext } from 'saliflow';

interface Metadata {
  [column: string]: string | number | Date | null;
  num_lines: number | null;
}

async function lines(job: JobContext<Metadata>, file: string): Promise<string[]> {
  return (await fs.readFile(job.path(file), 'utf8')).split('\\n').filter(Boolean);
}

export default defineService<Metadata>({
  columns: [{ name: 'num_lines', type: 'INTEGER', nullable: true }],

  async preprocess(job) {
    job.metadata.num_lines = (await lines(job, 'input.txt')).length;
    job.log.info(\`input.txt has \${job.metadata.num_lines} line(s)\`);
    if (job.metadata.num_lines === 0) {
      await fs.writeFile(job.path('output.txt'), '');
      return { skipRun: true };
    }
    return {};
  },

  run() {
    return localCommand(['sh', '-c', 'sort input.txt > output.txt']);
  },

  async postprocess(job) {
    const found = (await lines(job, 'output.txt')).length;
    if (found !== job.metadata.num_lines) {
      throw new Error(\`expected \${job.metadata.num_lines} lines in output.txt, found \${found}\`);
    }
  },
});
`;
}

function tsTest(name: string): string {
  return `/** ${name}'s steps, each called on a test job (saliflow/testing: no MySQL, no Temporal). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { cleanup, createTestJob, runStep } from 'saliflow/testing';
import service from '../service.js';

after(cleanup);

test('preprocess counts the input lines, run sorts them', async () => {
  const job = await createTestJob(service);
  await fs.writeFile(job.path('input.txt'), 'b\\na\\n');
  assert.deepEqual(await runStep(service, 'preprocess', job), {});
  assert.equal(job.metadata.num_lines, 2);
  const spec = await runStep(service, 'run', job);
  assert.equal(spec.kind, 'local');
});

test('an empty input skips the run', async () => {
  const job = await createTestJob(service);
  await fs.writeFile(job.path('input.txt'), '');
  assert.deepEqual(await runStep(service, 'preprocess', job), { skipRun: true });
});

test('postprocess refuses a short output', async () => {
  const job = await createTestJob(service, { state: 'POSTPROCESSING', metadata: { num_lines: 2 } });
  await fs.writeFile(job.path('output.txt'), 'a\\n');
  await assert.rejects(runStep(service, 'postprocess', job), /expected 2 lines/);
});
`;
}

function pythonService(name: string): string {
  return `"""${name}: the user uploads input.txt; preprocess counts its lines into the
service's own num_lines column (an empty input completes without a run), the
run sorts it into output.txt, postprocess checks the output."""

import saliweb.backend


def _count_lines(filename):
    with open(filename) as fh:
        return len([line for line in fh if line.strip()])


class Job(saliweb.backend.Job):
    runnercls = saliweb.backend.LocalRunner

    def preprocess(self):
        # Steps run in the job directory.
        self._metadata['num_lines'] = _count_lines('input.txt')
        self.logger.warning('input.txt has %d line(s)' % self._metadata['num_lines'])
        if self._metadata['num_lines'] == 0:
            open('output.txt', 'w').close()
            self.skip_run()

    def run(self):
        return saliweb.backend.LocalRunner(['sh', '-c', 'sort input.txt > output.txt'])

    def postprocess(self, results=None):
        found = _count_lines('output.txt')
        if found != self._metadata['num_lines']:
            raise saliweb.backend.SanityError(
                'expected %s lines in output.txt, found %d' % (self._metadata['num_lines'], found))


def get_web_service(config_file):
    db = saliweb.backend.Database(Job)
    db.add_field(saliweb.backend.MySQLField('num_lines', 'INTEGER'))
    config = saliweb.backend.Config(config_file)
    return saliweb.backend.WebService(config, db)
`;
}

function pythonTest(name: string, short: string): string {
  return `"""${name}'s backend tests, against saliweb.test (no MySQL, no daemon, no cluster).

Run: PYTHONPATH=$(npx saliflow python-path):. python3 -m unittest discover -s test
"""

import os
import unittest

import saliweb.backend
import saliweb.test

import ${short}


class JobTests(saliweb.test.TestCase):
    def test_preprocess_counts_lines(self):
        j = self.make_test_job(${short}.Job, 'PREPROCESSING')
        with saliweb.test.working_directory(j.directory):
            with open('input.txt', 'w') as fh:
                fh.write('b\\na\\n')
            j.preprocess()
        self.assertEqual(j._metadata['num_lines'], 2)
        self.assertFalse(j._skip_run)

    def test_empty_input_skips_run(self):
        j = self.make_test_job(${short}.Job, 'PREPROCESSING')
        with saliweb.test.working_directory(j.directory):
            open('input.txt', 'w').close()
            j.preprocess()
        self.assertTrue(j._skip_run)

    def test_run(self):
        j = self.make_test_job(${short}.Job, 'RUNNING')
        with saliweb.test.working_directory(j.directory):
            runner = j.run()
        self.assertIsInstance(runner, saliweb.backend.LocalRunner)

    def test_postprocess_short_output(self):
        j = self.make_test_job(${short}.Job, 'POSTPROCESSING')
        j._metadata['num_lines'] = 2
        with open(os.path.join(j.directory, 'output.txt'), 'w') as fh:
            fh.write('a\\n')
        self.assertRaises(saliweb.backend.SanityError, j._run_in_job_directory, j.postprocess)


if __name__ == '__main__':
    unittest.main()
`;
}

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": true,
    "types": ["node"]
  }
}
`;

function packageJson(short: string, python: boolean, serviceArg: string): string {
  const worker = `saliflow worker --config conf/live.conf ${serviceArg}`;
  const pkg = {
    name: short,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      test: python
        ? 'PYTHONPATH=$(saliflow python-path):. python3 -m unittest discover -s test'
        : 'node --import tsx --test test/*.test.ts',
      ...(python ? {} : { typecheck: 'tsc -p tsconfig.json' }),
      worker,
    },
    dependencies: { saliflow: `^${saliflowVersion()}` },
    ...(python ? {} : { devDependencies: { tsx: '^4.23.15', typescript: '^6.0.3', '@types/node': '^20.19.43' } }),
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function systemdUnit(name: string, short: string, user: string, directory: string, serviceArg: string): string {
  return `# A saliflow worker for the ${name} service under systemd (saliweb's \`service ${short} start|stop\`).
#
#   cp saliflow-${short}.service /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now saliflow-${short}
#   systemctl status saliflow-${short}; journalctl -u saliflow-${short}

[Unit]
Description=saliflow worker for the ${name} web service
After=network-online.target mariadb.service
Wants=network-online.target

[Service]
Type=simple
# [backend] user: it owns the job directories.
User=${user}
WorkingDirectory=${directory}
Environment=NODE_ENV=production
ExecStart=${directory}/node_modules/.bin/saliflow worker --config conf/live.conf ${serviceArg}
# SIGTERM is a graceful stop ([worker] shutdown_seconds, default 30); keep TimeoutStopSec above it + 10.
KillSignal=SIGTERM
KillMode=control-group
# systemctl reload re-reads [limits].
ExecReload=/bin/kill -HUP $MAINPID
TimeoutStopSec=60
Restart=on-failure
RestartSec=10
# A usage error (a mistyped option) will not fix itself.
RestartPreventExitStatus=2

[Install]
WantedBy=multi-user.target
`;
}

function readme(name: string, short: string, python: boolean, serviceArg: string): string {
  const service = python ? '' : ' --service service.ts';
  return `# ${name}

A saliflow service (made by \`saliflow new-service\`). ${
    python
      ? `The backend is the saliweb Python package \`${short}/\`; its tests use \`saliweb.test\`.`
      : 'The backend is `service.ts`; its tests use `saliflow/testing`.'
  }

Next:

\`\`\`sh
npm install
npm test                                   # the service's own tests: no MySQL, no Temporal
# conf/live.conf: set [general] admin_email and urltop, and [database] host/port if MySQL is not local
npx saliflow db provision --config conf/live.conf${service} --admin-user root --admin-password …
npx saliflow worker --config conf/live.conf ${serviceArg}
npx saliflow submit --config conf/live.conf …   # or a frontend writing to run/${short}.socket
\`\`\`

Jobs live in \`jobs/\` (incoming, running, completed, failed); \`conf/backend.conf\` and
\`conf/frontend.conf\` hold the database users' random passwords (keep them out of version control).
Under systemd: \`saliflow-${short}.service\` (see its header).
`;
}

/** Adds `saliflow new-service` to the command line. */
export function addNewServiceCommand(program: Command): void {
  program
    .command('new-service')
    .description('write a working service project: config with random passwords, folders, service, test, systemd unit')
    .argument('<name>', 'the service name ([general] service_name), e.g. ModFoo')
    .option('--python', 'a saliweb Python service (a Job subclass and get_web_service) instead of TypeScript')
    .option('--dir <dir>', 'where to write it (new or empty); default ./<name in lower case>')
    .action((name: string, options: { python?: boolean; dir?: string }) => {
      const result = createServiceProject({ name, ...options });
      console.log(`saliflow new-service: wrote ${result.directory}:`);
      for (const file of result.files) console.log(`  ${file}`);
      console.log(
        `Next: cd ${path.relative(process.cwd(), result.directory) || '.'} && npm install && npm test (README.md)`,
      );
    });
}
