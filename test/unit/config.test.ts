import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { DIRECTORY_STATES, loadServiceConfig } from '../../core/config/index.js';

const ROOT = mkdtempSync(join(tmpdir(), 'saliflow-config-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

let serial = 0;
/** Writes `files` (relative paths → contents) into a fresh folder; returns the folder. */
function writeFiles(files: Record<string, string>): string {
  const dir = join(ROOT, `case-${++serial}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const BACKEND_CONF = '[backend_db]\nuser: modfoo_backend\npasswd: s3cret-back\n';
const FRONTEND_CONF = '[frontend_db]\nuser: modfoo_frontend\npasswd: s3cret-front\n';

/** conf/live.conf as saliweb's make_web_service writes it, with a [General] header as some services spell it. */
const SALIWEB_CONF = `[General]
admin_email: modfoo@example.com
socket: /modbase5/home/modfoo/service/modfoo.socket
service_name: ModFoo
urltop: https://modbase.compbio.ucsf.edu/modfoo

[backend]
user: modfoo
state_file: /modbase5/home/modfoo/service/modfoo.state
check_minutes: 10

[database]
backend_config: backend.conf
frontend_config: frontend.conf
db: modfoo

[directories]
install: /modbase5/home/modfoo/service
incoming: /modbase5/home/modfoo/service/incoming/
preprocessing: /wynton/home/sali/modfoo/running/
completed: /modbase5/home/modfoo/service/completed/
failed: /modbase5/home/modfoo/service/failed/

[oldjobs]
archive: 7d
expire: 30d
`;

function saliwebService(conf = SALIWEB_CONF, extra: Record<string, string> = {}): string {
  const dir = writeFiles({
    'conf/live.conf': conf,
    'conf/backend.conf': BACKEND_CONF,
    'conf/frontend.conf': FRONTEND_CONF,
    ...extra,
  });
  return join(dir, 'conf/live.conf');
}

const DAY = 86_400_000;

test('reads a saliweb service config as saliweb writes it, filling defaults', () => {
  const file = saliwebService();
  const config = loadServiceConfig(file, {});
  const confDir = dirname(file);
  assert.equal(config.configFile, file);
  assert.deepEqual(config.general, {
    adminEmail: 'modfoo@example.com',
    socket: '/modbase5/home/modfoo/service/modfoo.socket',
    socketMode: 0o660,
    // saliweb's ACL for the web server's user on the socket.
    socketUser: 'apache',
    serviceName: 'ModFoo',
    urltop: 'https://modbase.compbio.ucsf.edu/modfoo',
    trackHostname: false,
  });
  assert.deepEqual(config.backend, {
    user: 'modfoo',
    stateFile: '/modbase5/home/modfoo/service/modfoo.state',
    checkMinutes: 10,
  });
  assert.deepEqual(config.limits, { running: 5 });
  // No host, port or socket: saliweb's default, the local server's Unix socket.
  assert.deepEqual(config.database, {
    db: 'modfoo',
    socket: '/var/lib/mysql/mysql.sock',
    host: '127.0.0.1',
    port: 3306,
    backend: { user: 'modfoo_backend', passwd: 's3cret-back' },
    frontend: { user: 'modfoo_frontend', passwd: 's3cret-front' },
  });
  assert.deepEqual(config.directories, {
    install: '/modbase5/home/modfoo/service',
    INCOMING: '/modbase5/home/modfoo/service/incoming',
    PREPROCESSING: '/wynton/home/sali/modfoo/running',
    RUNNING: '/wynton/home/sali/modfoo/running',
    POSTPROCESSING: '/wynton/home/sali/modfoo/running',
    FINALIZING: '/wynton/home/sali/modfoo/running',
    COMPLETED: '/modbase5/home/modfoo/service/completed',
    ARCHIVED: '/modbase5/home/modfoo/service/completed',
    FAILED: '/modbase5/home/modfoo/service/failed',
  });
  assert.deepEqual(config.oldjobs, { archiveMs: 7 * DAY, expireMs: 30 * DAY });
  assert.deepEqual(config.frontends, {});
  // A dev server on this machine: its Web UI is on 8233.
  assert.deepEqual(config.temporal, {
    address: 'localhost:7233',
    namespace: 'default',
    taskQueue: 'saliflow-modfoo',
    webUi: 'http://localhost:8233',
  });
  assert.deepEqual(config.mail, { from: 'modfoo@example.com' });
  assert.equal(config.sections.file, file);
  assert.deepEqual(
    config.sections.sections.map((s) => s.name),
    ['General', 'backend', 'database', 'directories', 'oldjobs'],
  );
  assert.ok(confDir.startsWith(ROOT));
});

test('with only incoming and preprocessing, every later directory defaults down the chain', () => {
  const conf = SALIWEB_CONF.replace(/^(install|completed|failed):.*\n/gm, '');
  const config = loadServiceConfig(saliwebService(conf), {});
  const running = '/wynton/home/sali/modfoo/running';
  for (const state of DIRECTORY_STATES) {
    assert.equal(
      config.directories[state],
      state === 'INCOMING' ? '/modbase5/home/modfoo/service/incoming' : running,
      state,
    );
  }
  assert.ok(!('install' in config.directories));
});

test('every directory given explicitly is kept, and FAILED defaults to COMPLETED', () => {
  const conf = SALIWEB_CONF.replace(
    /\[directories\][^[]*/,
    `[directories]
incoming: /d/in
preprocessing: /d/pre
running: /d/run
postprocessing: /d/post
finalizing: /d/fin
completed: /d/done
archived: /d/arch

`,
  );
  const config = loadServiceConfig(saliwebService(conf), {});
  assert.deepEqual(
    DIRECTORY_STATES.map((state) => config.directories[state]),
    ['/d/in', '/d/pre', '/d/run', '/d/post', '/d/fin', '/d/done', '/d/arch', '/d/done'],
  );
});

test('relative directories and credential paths resolve against the config folder, not the working folder', () => {
  const dir = writeFiles({
    'svc/conf/live.conf': SALIWEB_CONF.replace('backend_config: backend.conf', 'backend_config: ../secrets/back.conf')
      .replace('incoming: /modbase5/home/modfoo/service/incoming/', 'incoming: ../jobs/incoming')
      .replace('preprocessing: /wynton/home/sali/modfoo/running/', 'preprocessing: jobs/pre'),
    'svc/secrets/back.conf': BACKEND_CONF,
    'svc/conf/frontend.conf': FRONTEND_CONF,
  });
  const file = join(dir, 'svc/conf/live.conf');
  // A relative config path is resolved against the working folder.
  const config = loadServiceConfig(relative(process.cwd(), file), {});
  assert.equal(config.configFile, file);
  assert.equal(config.directories.INCOMING, join(dir, 'svc/jobs/incoming'));
  assert.equal(config.directories.PREPROCESSING, join(dir, 'svc/conf/jobs/pre'));
  assert.equal(config.directories.RUNNING, join(dir, 'svc/conf/jobs/pre'));
  assert.equal(config.database.backend.user, 'modfoo_backend');
});

test('relative socket, state_file and MySQL socket paths resolve against the config folder', () => {
  const dir = writeFiles({
    'svc/conf/live.conf': SALIWEB_CONF.replace(
      'socket: /modbase5/home/modfoo/service/modfoo.socket',
      'socket: ../run/modfoo.socket',
    )
      .replace('state_file: /modbase5/home/modfoo/service/modfoo.state', 'state_file: modfoo.state')
      .replace('db: modfoo', 'db: modfoo\nsocket: ../mysql/mysqld.sock'),
    'svc/conf/backend.conf': BACKEND_CONF,
    'svc/conf/frontend.conf': FRONTEND_CONF,
  });
  const file = join(dir, 'svc/conf/live.conf');
  const config = loadServiceConfig(relative(process.cwd(), file), {});
  assert.equal(config.general.socket, join(dir, 'svc/run/modfoo.socket'));
  assert.equal(config.backend.stateFile, join(dir, 'svc/conf/modfoo.state'));
  assert.equal(config.database.socket, join(dir, 'svc/mysql/mysqld.sock'));
  // The environment's socket is the operator's shell's: it stays as given.
  assert.equal(loadServiceConfig(file, { SALIFLOW_MYSQL_SOCKET: 'here.sock' }).database.socket, 'here.sock');
});

test('socket_mode is octal permission bits, socket_group a name or a gid', () => {
  const withGeneral = (lines: string) =>
    loadServiceConfig(saliwebService(SALIWEB_CONF.replace('[General]\n', `[General]\n${lines}\n`)), {}).general;
  assert.equal(withGeneral('').socketMode, 0o660);
  assert.ok(!('socketGroup' in withGeneral('')));
  assert.equal(withGeneral('socket_mode: 0640').socketMode, 0o640);
  assert.equal(withGeneral('socket_mode: 600').socketMode, 0o600);
  assert.equal(withGeneral('socket_mode: 0o666').socketMode, 0o666);
  assert.equal(withGeneral('socket_group: www-data').socketGroup, 'www-data');
  assert.equal(withGeneral('socket_group: 33').socketGroup, 33);
});

test("socket_user: saliweb's apache by default, none without an ACL, and no ACL by default once socket_group is set", () => {
  const withGeneral = (lines: string) =>
    loadServiceConfig(saliwebService(SALIWEB_CONF.replace('[General]\n', `[General]\n${lines}\n`)), {}).general;
  assert.equal(withGeneral('').socketUser, 'apache');
  assert.equal(withGeneral('socket_user: www-data').socketUser, 'www-data');
  assert.equal(withGeneral('socket_user: 48').socketUser, '48');
  assert.ok(!('socketUser' in withGeneral('socket_user: none')));
  assert.ok(!('socketUser' in withGeneral('socket_group: www-data')));
  assert.equal(withGeneral('socket_group: www-data\nsocket_user: nginx').socketUser, 'nginx');
  assert.throws(
    () => withGeneral('socket_user: apache, nginx'),
    /\[General\] socket_user: "apache, nginx" is not a user/,
  );
});

test("MySQL: saliweb's Unix socket by default; a host or port (file or environment) means TCP", () => {
  const database = (lines: string, env: NodeJS.ProcessEnv = {}) =>
    loadServiceConfig(saliwebService(SALIWEB_CONF.replace('db: modfoo', `db: modfoo\n${lines}`)), env).database;
  assert.equal(database('').socket, '/var/lib/mysql/mysql.sock');
  assert.ok(!('socket' in database('host: db.example.org')));
  assert.equal(database('host: db.example.org').host, 'db.example.org');
  assert.ok(!('socket' in database('port: 3307')));
  assert.equal(database('port: 3307').host, '127.0.0.1');
  assert.ok(!('socket' in database('', { SALIFLOW_MYSQL_HOST: '10.0.0.5' })));
  assert.equal(database('', { SALIFLOW_MYSQL_SOCKET: '/run/mysqld/mysqld.sock' }).socket, '/run/mysqld/mysqld.sock');
});

const FULL_CONF = `# saliflow config with every optional key, in = syntax
[general]
admin_email = admin@example.com
socket = /tmp/modfoo.sock
service_name = Peptide Docking
urltop = https://example.com/pepdock
track_hostname = Yes
github = https://github.com/salilab/pepdock

[backend]
user = pepdock
state_file = /tmp/pepdock.state
; the polling fallback, in minutes
check_minutes = 0.5

[limits]
running = 12
running_per_user = 3
running_per_anonymous = 2
concurrent_tasks = 40

[database]
db = pepdock
socket = /var/run/mysqld/mysqld.sock
host = db.example.com
port = 3307
backend_config = backend.conf
frontend_config = /ABS/frontend.conf

[directories]
incoming = /d/incoming
preprocessing = /d/preprocessing

[oldjobs]
archive = NEVER
expire = never

[frontend:ModFoo-Lite]
service_name = ModFoo Lite

[frontend:other]
service_name: Other

[temporal]
address = temporal.example.com:7233
namespace = pepdock-prod
task_queue = pepdock-q
tls_client_cert = tls/client.pem
tls_client_key = tls/client.key
tls_server_ca = tls/ca.pem
tls_server_name = temporal.internal
api_key = key-from-file
web_ui = https://temporal-ui.example.com/

[mail]
from = noreply@example.com
smtp_host = smtp.example.com
smtp_port = 2525
sendmail = /usr/lib/sendmail

[pepdock]
; a service's own section, with a continued value
models = 10
extra_args = --fast
    --no-cache
`;

function fullService(): string {
  const dir = writeFiles({
    'backend.conf': BACKEND_CONF,
    'creds/frontend.conf': FRONTEND_CONF,
    'tls/client.pem': 'cert',
    'tls/client.key': 'key',
    'tls/ca.pem': 'ca',
  });
  writeFileSync(join(dir, 'service.conf'), FULL_CONF.replace('/ABS/frontend.conf', join(dir, 'creds/frontend.conf')));
  return join(dir, 'service.conf');
}

test('= syntax, comments, continuations and every optional key', () => {
  const file = fullService();
  const dir = dirname(file);
  const config = loadServiceConfig(file, {});
  assert.deepEqual(config.general, {
    adminEmail: 'admin@example.com',
    socket: '/tmp/modfoo.sock',
    socketMode: 0o660,
    socketUser: 'apache',
    serviceName: 'Peptide Docking',
    urltop: 'https://example.com/pepdock',
    trackHostname: true,
    github: 'https://github.com/salilab/pepdock',
  });
  assert.equal(config.backend.checkMinutes, 0.5);
  assert.deepEqual(config.limits, { running: 12, runningPerUser: 3, runningPerAnonymous: 2, concurrentTasks: 40 });
  assert.deepEqual(config.database, {
    db: 'pepdock',
    socket: '/var/run/mysqld/mysqld.sock',
    host: 'db.example.com',
    port: 3307,
    backend: { user: 'modfoo_backend', passwd: 's3cret-back' },
    frontend: { user: 'modfoo_frontend', passwd: 's3cret-front' },
  });
  assert.deepEqual(config.oldjobs, { archiveMs: null, expireMs: null });
  assert.deepEqual(config.frontends, {
    'ModFoo-Lite': { serviceName: 'ModFoo Lite' },
    other: { serviceName: 'Other' },
  });
  assert.deepEqual(config.temporal, {
    address: 'temporal.example.com:7233',
    namespace: 'pepdock-prod',
    taskQueue: 'pepdock-q',
    tls: {
      clientCertPath: join(dir, 'tls/client.pem'),
      clientKeyPath: join(dir, 'tls/client.key'),
      serverRootCaCertPath: join(dir, 'tls/ca.pem'),
      serverNameOverride: 'temporal.internal',
    },
    apiKey: 'key-from-file',
    webUi: 'https://temporal-ui.example.com',
  });
  assert.deepEqual(config.mail, {
    from: 'noreply@example.com',
    smtpHost: 'smtp.example.com',
    smtpPort: 2525,
    sendmail: '/usr/lib/sendmail',
  });
  const own = config.sections.findSection('PepDock');
  assert.equal(own?.values.get('models'), '10');
  assert.equal(own?.values.get('extra_args'), '--fast\n--no-cache');
});

test('the default task queue is the service name lower-cased, spaces as dashes', () => {
  const file = fullService();
  const conf = FULL_CONF.replace(/^task_queue = .*\n/m, '').replace(
    '/ABS/frontend.conf',
    join(dirname(file), 'creds/frontend.conf'),
  );
  writeFileSync(file, conf);
  assert.equal(loadServiceConfig(file, {}).temporal.taskQueue, 'saliflow-peptide-docking');
});

test('track_hostname accepts every boolean spelling', () => {
  const spellings: Array<[string, boolean]> = [
    ['true', true],
    ['TRUE', true],
    ['yes', true],
    ['On', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['off', false],
    ['0', false],
  ];
  for (const [text, expected] of spellings) {
    const conf = SALIWEB_CONF.replace('service_name: ModFoo', `service_name: ModFoo\ntrack_hostname: ${text}`);
    assert.equal(loadServiceConfig(saliwebService(conf), {}).general.trackHostname, expected, text);
  }
});

test('keys a service adds to saliweb sections load when the service declares them, and only then', () => {
  const conf = SALIWEB_CONF.replace('check_minutes: 10', 'check_minutes: 10\nmy_setting: x');
  const declared = { serviceSections: { backend: ['my_setting'] } };
  assert.equal(
    loadServiceConfig(saliwebService(conf), {}, declared).sections.section('backend')?.values.get('my_setting'),
    'x',
  );
  assert.throws(() => loadServiceConfig(saliwebService(conf), {}), /\[backend\] my_setting: unknown key/);
});

test('environment variables override the file', () => {
  const file = fullService();
  const dir = dirname(file);
  const envTls = writeFiles({ 'c.pem': 'c', 'k.pem': 'k', 'ca.pem': 'ca' });
  const config = loadServiceConfig(file, {
    TEMPORAL_ADDRESS: 'env-host:7234',
    TEMPORAL_NAMESPACE: 'env-ns',
    TEMPORAL_API_KEY: 'env-key',
    SALIFLOW_WEB_UI: 'http://env-ui:8080',
    TEMPORAL_TLS_CLIENT_CERT_PATH: join(envTls, 'c.pem'),
    TEMPORAL_TLS_CLIENT_KEY_PATH: join(envTls, 'k.pem'),
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(envTls, 'ca.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'env-server',
    SALIFLOW_TASK_QUEUE: 'env-queue',
    SALIFLOW_MYSQL_HOST: 'env-db',
    SALIFLOW_MYSQL_PORT: '13306',
    SALIFLOW_SMTP_HOST: 'env-smtp',
    SALIFLOW_SMTP_PORT: '1025',
  });
  assert.deepEqual(config.temporal, {
    address: 'env-host:7234',
    namespace: 'env-ns',
    taskQueue: 'env-queue',
    tls: {
      clientCertPath: join(envTls, 'c.pem'),
      clientKeyPath: join(envTls, 'k.pem'),
      serverRootCaCertPath: join(envTls, 'ca.pem'),
      serverNameOverride: 'env-server',
    },
    apiKey: 'env-key',
    webUi: 'http://env-ui:8080',
  });
  // A TCP host from the environment must not lose to the file's socket.
  assert.equal(config.database.host, 'env-db');
  assert.equal(config.database.port, 13306);
  assert.ok(!('socket' in config.database));
  assert.equal(config.mail.smtpHost, 'env-smtp');
  assert.equal(config.mail.smtpPort, 1025);
  assert.equal(config.mail.from, 'noreply@example.com');
  assert.ok(dir.startsWith(ROOT));
});

test('SALIFLOW_MYSQL_SOCKET overrides the file, and empty variables count as unset', () => {
  const file = fullService();
  const config = loadServiceConfig(file, {
    SALIFLOW_MYSQL_SOCKET: '/env/mysql.sock',
    TEMPORAL_ADDRESS: '',
    SALIFLOW_MYSQL_PORT: '  ',
  });
  assert.equal(config.database.socket, '/env/mysql.sock');
  assert.equal(config.database.port, 3307);
  assert.equal(config.temporal.address, 'temporal.example.com:7233');
});

test('environment TLS alone enables TLS; relative env paths resolve against the working folder', () => {
  const tlsDir = writeFiles({ 'c.pem': 'c', 'k.pem': 'k' });
  const config = loadServiceConfig(saliwebService(), {
    TEMPORAL_TLS_CLIENT_CERT_PATH: relative(process.cwd(), join(tlsDir, 'c.pem')),
    TEMPORAL_TLS_CLIENT_KEY_PATH: join(tlsDir, 'k.pem'),
  });
  assert.deepEqual(config.temporal.tls, {
    clientCertPath: join(tlsDir, 'c.pem'),
    clientKeyPath: join(tlsDir, 'k.pem'),
  });
});

test('a CA without a client certificate is server-only TLS; tls: true alone uses the system CAs', () => {
  const tlsDir = writeFiles({ 'ca.pem': 'ca' });
  const serverOnly = loadServiceConfig(saliwebService(), {
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(tlsDir, 'ca.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
  });
  assert.deepEqual(serverOnly.temporal.tls, {
    serverRootCaCertPath: join(tlsDir, 'ca.pem'),
    serverNameOverride: 'temporal.internal',
  });
  assert.deepEqual(loadServiceConfig(saliwebService(), { TEMPORAL_TLS: 'true' }).temporal.tls, {});
  assert.equal(loadServiceConfig(saliwebService(), { TEMPORAL_TLS: 'false' }).temporal.tls, undefined);
});

test('SALIFLOW_SOCKET gives a worker host its own frontend socket under a shared config', () => {
  const config = loadServiceConfig(saliwebService(), { SALIFLOW_SOCKET: 'host-b.socket' });
  assert.equal(config.general.socket, join(process.cwd(), 'host-b.socket'));
});

test('loadServiceConfig defaults to process.env', () => {
  const saved = process.env.SALIFLOW_TASK_QUEUE;
  process.env.SALIFLOW_TASK_QUEUE = 'from-process-env';
  try {
    assert.equal(loadServiceConfig(saliwebService()).temporal.taskQueue, 'from-process-env');
  } finally {
    if (saved === undefined) delete process.env.SALIFLOW_TASK_QUEUE;
    else process.env.SALIFLOW_TASK_QUEUE = saved;
  }
});

test('the archive delay may equal the expire delay; NEVER expire allows any archive', () => {
  const same = SALIWEB_CONF.replace('archive: 7d', 'archive: 1w').replace('expire: 30d', 'expire: 7d');
  assert.deepEqual(loadServiceConfig(saliwebService(same), {}).oldjobs, { archiveMs: 7 * DAY, expireMs: 7 * DAY });
  const never = SALIWEB_CONF.replace('expire: 30d', 'expire: NEVER');
  assert.deepEqual(loadServiceConfig(saliwebService(never), {}).oldjobs, { archiveMs: 7 * DAY, expireMs: null });
});

interface BadCase {
  name: string;
  /** Edits the saliweb config text. */
  edit?: (conf: string) => string;
  /** Replaces or adds files beside it (relative to the service folder). */
  files?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** The file the error must name, relative to the service folder; default the config. */
  errorFile?: string;
  /** Text the message must contain besides the file, e.g. "[oldjobs] archive". */
  expect: string[];
}

const drop = (key: string) => (conf: string) => conf.replace(new RegExp(`^${key}:.*\\n`, 'm'), '');
const set = (key: string, value: string) => (conf: string) =>
  conf.replace(new RegExp(`^${key}:.*$`, 'm'), `${key}: ${value}`);
const add = (section: string, lines: string) => (conf: string) =>
  conf.replace(`[${section}]\n`, `[${section}]\n${lines}\n`);
const append = (text: string) => (conf: string) => `${conf}\n${text}\n`;
const TIME_DELTA_HELP = 'use NEVER or a number followed by h, d, w, m or y (e.g. 30d, 0.5d, 1y)';

const BAD_CASES: BadCase[] = [
  {
    name: 'missing admin_email',
    edit: drop('admin_email'),
    expect: ['[General] admin_email: missing; add "admin_email:'],
  },
  {
    name: 'missing [general] section',
    edit: (c) => c.replace(/\[General\][^[]*/, ''),
    expect: ['[general] admin_email', 'add a [general] section'],
  },
  { name: 'empty service_name', edit: set('service_name', ''), expect: ['[General] service_name', 'is empty'] },
  { name: 'missing urltop', edit: drop('urltop'), expect: ['[General] urltop', 'missing'] },
  { name: 'missing socket', edit: drop('socket'), expect: ['[General] socket', 'missing'] },
  {
    name: 'socket_mode not octal',
    edit: add('General', 'socket_mode: rw-rw----'),
    expect: ['[General] socket_mode', '"rw-rw----" is not a file mode', 'octal, e.g. 0660'],
  },
  {
    name: 'socket_mode with special bits',
    edit: add('General', 'socket_mode: 4777'),
    expect: ['[General] socket_mode', '"4777" is not a file mode'],
  },
  {
    name: 'socket_group with a space',
    edit: add('General', 'socket_group: web server'),
    expect: ['[General] socket_group', '"web server" is not a group', 'numeric gid'],
  },
  {
    name: 'track_hostname not a boolean',
    edit: add('General', 'track_hostname: maybe'),
    expect: ['[General] track_hostname', '"maybe" is not a boolean', 'true/false'],
  },
  { name: 'missing backend user', edit: (c) => c.replace('user: modfoo\n', ''), expect: ['[backend] user', 'missing'] },
  { name: 'missing state_file', edit: drop('state_file'), expect: ['[backend] state_file', 'missing'] },
  {
    name: 'check_minutes zero',
    edit: set('check_minutes', '0'),
    expect: ['[backend] check_minutes', '"0" is not a positive number'],
  },
  { name: 'check_minutes words', edit: set('check_minutes', 'ten'), expect: ['[backend] check_minutes', '"ten"'] },
  { name: 'missing check_minutes', edit: drop('check_minutes'), expect: ['[backend] check_minutes', 'missing'] },
  { name: 'missing db', edit: drop('db'), expect: ['[database] db', 'missing'] },
  { name: 'missing backend_config', edit: drop('backend_config'), expect: ['[database] backend_config', 'missing'] },
  {
    name: 'credential file absent',
    edit: set('frontend_config', 'nowhere/frontend.conf'),
    expect: ['[database] frontend_config', 'nowhere/frontend.conf', 'does not exist'],
  },
  {
    name: 'credential file without its section',
    files: { 'conf/backend.conf': '[frontend_db]\nuser: x\npasswd: y\n' },
    errorFile: 'conf/backend.conf',
    expect: ['[backend_db] user', 'add a [backend_db] section'],
  },
  {
    name: 'credential file without passwd',
    files: { 'conf/frontend.conf': '[frontend_db]\nuser: x\n' },
    errorFile: 'conf/frontend.conf',
    expect: ['[frontend_db] passwd', 'missing'],
  },
  {
    name: 'credential file with a syntax error',
    files: { 'conf/backend.conf': 'user: x\n' },
    errorFile: 'conf/backend.conf',
    expect: ['user:', 'line 1', 'outside any section'],
  },
  { name: 'missing incoming', edit: drop('incoming'), expect: ['[directories] incoming', 'missing'] },
  { name: 'missing preprocessing', edit: drop('preprocessing'), expect: ['[directories] preprocessing', 'missing'] },
  {
    name: 'missing [directories] section',
    edit: (c) => c.replace(/\[directories\][^[]*/, ''),
    expect: ['[directories] incoming', 'add a [directories] section'],
  },
  {
    name: 'archive not a time delta',
    edit: set('archive', '3x'),
    expect: [`[oldjobs] archive: "3x" is not a time delta; ${TIME_DELTA_HELP}`],
  },
  {
    name: 'expire without a unit',
    edit: set('expire', '30'),
    expect: ['[oldjobs] expire', '"30" is not a time delta'],
  },
  { name: 'expire negative', edit: set('expire', '-1d'), expect: ['[oldjobs] expire', '"-1d"'] },
  { name: 'expire spelled out', edit: set('expire', 'forever'), expect: ['[oldjobs] expire', '"forever"'] },
  { name: 'missing expire', edit: drop('expire'), expect: ['[oldjobs] expire', 'missing'] },
  {
    name: 'archive longer than expire',
    edit: (c) => set('expire', '1w')(set('archive', '2w')(c)),
    expect: ['[oldjobs] archive', 'archive delay (2w) exceeds the expire delay (1w)'],
  },
  {
    name: 'archive NEVER but expire finite',
    edit: set('archive', 'NEVER'),
    expect: ['[oldjobs] archive', 'archive delay (NEVER) exceeds the expire delay (30d)'],
  },
  {
    name: 'limits running zero',
    edit: append('[limits]\nrunning: 0'),
    expect: ['[limits] running', '"0" is not a positive integer'],
  },
  { name: 'limits running decimal', edit: append('[limits]\nrunning: 2.5'), expect: ['[limits] running', '"2.5"'] },
  {
    name: 'limits running_per_user zero',
    edit: append('[limits]\nrunning_per_user: 0'),
    expect: ['[limits] running_per_user', '"0" is not a positive integer'],
  },
  {
    name: 'limits running_per_user above running',
    edit: append('[limits]\nrunning: 3\nrunning_per_user: 4'),
    expect: ['[limits] running_per_user', '4 exceeds [limits] running (3)', 'make it at most 3'],
  },
  {
    name: 'limits running_per_anonymous above the default running',
    edit: append('[limits]\nrunning_per_anonymous: 6'),
    expect: ['[limits] running_per_anonymous', '6 exceeds [limits] running (5)', 'anonymous submissions'],
  },
  {
    name: 'limits running_per_anonymous not a number',
    edit: append('[limits]\nrunning_per_anonymous: two'),
    expect: ['[limits] running_per_anonymous', '"two" is not a positive integer'],
  },
  {
    name: 'limits concurrent_tasks negative',
    edit: append('[Limits]\nconcurrent_tasks: -4'),
    expect: ['[Limits] concurrent_tasks', '"-4"'],
  },
  {
    name: 'database port out of range',
    edit: add('database', 'port: 99999'),
    expect: ['[database] port', '"99999"', '1 to 65535'],
  },
  {
    name: 'unknown key in [temporal]',
    edit: append('[temporal]\nadress: localhost:7233'),
    expect: ['[temporal] adress', 'unknown key', 'address, namespace, task_queue'],
  },
  {
    name: 'unknown key in [mail]',
    edit: append('[mail]\nsmtp_server: localhost'),
    expect: ['[mail] smtp_server', 'unknown key', 'from, smtp_host, smtp_port, sendmail'],
  },
  { name: 'smtp_port not a number', edit: append('[mail]\nsmtp_port: abc'), expect: ['[mail] smtp_port', '"abc"'] },
  {
    name: 'TLS cert without key',
    edit: append('[temporal]\ntls_client_cert: client.pem'),
    files: { 'conf/client.pem': 'c' },
    expect: ['[temporal] tls_client_key', 'missing', 'tls_client_cert'],
  },
  {
    name: 'TLS key without cert',
    edit: append('[temporal]\ntls_client_key: client.key'),
    files: { 'conf/client.key': 'k' },
    expect: ['[temporal] tls_client_cert', 'missing'],
  },
  {
    name: 'TLS cert file absent',
    edit: append('[temporal]\ntls_client_cert: nope.pem\ntls_client_key: nope.key'),
    expect: ['[temporal] tls_client_cert', 'nope.pem', 'does not exist'],
  },
  {
    name: 'TLS turned off while a TLS setting is given',
    edit: append('[temporal]\ntls: false\ntls_server_ca: ca.pem'),
    files: { 'conf/ca.pem': 'ca' },
    expect: ['[temporal] tls', 'turns TLS off', 'tls_server_ca'],
  },
  {
    name: 'tls neither true nor false',
    edit: append('[temporal]\ntls: maybe'),
    expect: ['[temporal] tls', '"maybe"', 'true or false'],
  },
  {
    name: 'frontend section without service_name',
    edit: append('[frontend:lite]\n'),
    expect: ['[frontend:lite] service_name', 'missing'],
  },
  {
    name: 'frontend section without a name',
    edit: append('[frontend:]\nservice_name: X'),
    expect: ['[frontend:]', 'NAME'],
  },
  {
    name: 'two sections for one frontend',
    edit: append('[frontend:lite]\nservice_name: A\n[Frontend:lite]\nservice_name: B'),
    expect: ['[Frontend:lite]', 'a second section for frontend "lite"'],
  },
  {
    name: 'track_hostname names an object property',
    edit: add('General', 'track_hostname: constructor'),
    expect: ['[General] track_hostname', '"constructor" is not a boolean'],
  },
  {
    name: '[general] and [General] both present',
    edit: append('[general]\ngithub: https://github.com/salilab/modfoo'),
    expect: ['[general]', '[General] and [general] differ only in case'],
  },
  {
    name: 'duplicate section',
    edit: append('[backend]\nfoo: bar'),
    expect: ['[backend]', 'line 28', 'duplicate section'],
  },
  { name: 'duplicate key', edit: add('backend', 'USER: other'), expect: ['[backend] user', 'line 9', 'duplicate key'] },
  { name: 'key before any section', edit: (c) => `db: oops\n${c}`, expect: ['db:', 'line 1', 'outside any section'] },
  {
    name: 'unterminated header',
    edit: (c) => c.replace('[oldjobs]', '[oldjobs'),
    expect: ['line 24', 'unterminated', '[oldjobs'],
  },
  {
    name: 'line that is not a key',
    edit: add('backend', 'check every 10 minutes'),
    expect: ['[backend]', 'line 8', '"check every 10 minutes"'],
  },
  {
    name: 'bad SALIFLOW_MYSQL_PORT',
    env: { SALIFLOW_MYSQL_PORT: 'abc' },
    expect: ['[database] port', 'SALIFLOW_MYSQL_PORT="abc"', '1 to 65535'],
  },
  {
    name: 'bad SALIFLOW_SMTP_PORT',
    env: { SALIFLOW_SMTP_PORT: '0' },
    expect: ['[mail] smtp_port', 'SALIFLOW_SMTP_PORT="0"'],
  },
  {
    name: 'TEMPORAL_TLS_CLIENT_CERT_PATH without a key',
    files: { 'conf/c.pem': 'c' },
    env: { TEMPORAL_TLS_CLIENT_CERT_PATH: '<dir>/conf/c.pem' },
    expect: ['[temporal] tls_client_key', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
  },
];

for (const bad of BAD_CASES) {
  test(`malformed config: ${bad.name}`, () => {
    const file = saliwebService(bad.edit ? bad.edit(SALIWEB_CONF) : SALIWEB_CONF, bad.files);
    const serviceDir = dirname(dirname(file));
    const env = Object.fromEntries(Object.entries(bad.env ?? {}).map(([k, v]) => [k, v?.replace('<dir>', serviceDir)]));
    const errorFile = bad.errorFile ? join(serviceDir, bad.errorFile) : file;
    assert.throws(
      () => loadServiceConfig(file, env),
      (error: Error) => {
        assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error.name}: ${error.message}`);
        assert.equal(error.file, errorFile);
        assert.ok(error.message.startsWith(errorFile), error.message);
        for (const part of bad.expect)
          assert.ok(error.message.includes(part), `"${error.message}"\nshould contain "${part}"`);
        return true;
      },
    );
  });
}

test('a missing config file is an error naming it', () => {
  const file = join(ROOT, 'no-such-dir', 'service.conf');
  assert.throws(
    () => loadServiceConfig(file, {}),
    (error: Error) =>
      error instanceof ConfigError &&
      error.file === file &&
      error.message.includes(file) &&
      error.message.includes('does not exist'),
  );
});

test('a config path that is a directory is an error naming it', () => {
  assert.throws(
    () => loadServiceConfig(ROOT, {}),
    (error: Error) =>
      error instanceof ConfigError && error.message.includes(ROOT) && error.message.includes('directory'),
  );
});

test('[metrics] prometheus and [logging] level, each overridden by its environment variable', () => {
  const file = saliwebService(`${SALIWEB_CONF}\n[metrics]\nprometheus: 0.0.0.0:9464\n\n[logging]\nlevel: WARN\n`);
  const config = loadServiceConfig(file, {});
  assert.deepEqual(config.metrics, { prometheus: '0.0.0.0:9464' });
  assert.deepEqual(config.logging, { level: 'warn' });
  const overridden = loadServiceConfig(file, {
    SALIFLOW_METRICS_ADDRESS: '[::1]:9100',
    SALIFLOW_LOG_LEVEL: 'debug',
  });
  assert.deepEqual(overridden.metrics, { prometheus: '[::1]:9100' });
  assert.deepEqual(overridden.logging, { level: 'debug' });
  // Without the sections: no metrics, level info.
  const plain = loadServiceConfig(saliwebService(), {});
  assert.deepEqual(plain.metrics, {});
  assert.deepEqual(plain.logging, { level: 'info' });
});

test('a bad metrics address or log level names the key and what is expected', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['[metrics]\nprometheus: 9464\n', {}, /\[metrics\] prometheus: "9464" is not an address; expected host:port/],
    ['[metrics]\nprometheus: localhost:99999\n', {}, /\[metrics\] prometheus: .* expected host:port/],
    ['[metrics]\nport: 9464\n', {}, /\[metrics\] port: unknown key; \[metrics\] accepts only prometheus/],
    [
      '[logging]\nlevel: verbose\n',
      {},
      /\[logging\] level: "verbose" is not a log level; expected one of trace, debug/,
    ],
    ['', { SALIFLOW_LOG_LEVEL: 'loud' }, /\[logging\] level: environment variable SALIFLOW_LOG_LEVEL="loud"/],
    [
      '',
      { SALIFLOW_METRICS_ADDRESS: 'nowhere' },
      /\[metrics\] prometheus: environment variable SALIFLOW_METRICS_ADDRESS/,
    ],
  ];
  for (const [section, env, message] of cases) {
    const file = saliwebService(`${SALIWEB_CONF}\n${section}`);
    assert.throws(
      () => loadServiceConfig(file, env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        return true;
      },
    );
  }
});

test('a [DEFAULT] section and %(key)s references are read as configparser reads them; its keys are no typos', () => {
  const conf = `[DEFAULT]\nhome: /modbase5/home/modfoo/service\n\n${SALIWEB_CONF}`
    .replace('incoming: /modbase5/home/modfoo/service/incoming/', 'incoming: %(home)s/incoming/')
    .replace('completed: /modbase5/home/modfoo/service/completed/', 'completed: %(home)s/completed/');
  const config = loadServiceConfig(saliwebService(conf), {});
  assert.equal(config.directories.INCOMING, '/modbase5/home/modfoo/service/incoming');
  assert.equal(config.directories.COMPLETED, '/modbase5/home/modfoo/service/completed');
});
