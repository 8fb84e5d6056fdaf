/**
 * A config is read strictly: every section and key saliweb's own readers
 * accept loads unchanged, and anything else (a typo in a section or key, in
 * saliweb's sections and saliflow's) is an error naming the file, the
 * section, the key and the nearest valid spelling.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { loadServiceConfig, nearestSpelling, SALIFLOW_SECTIONS, SALIWEB_SECTIONS } from '../../core/config/index.js';

const ROOT = mkdtempSync(join(tmpdir(), 'saliflow-typos-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));

let serial = 0;
function configFile(text: string): string {
  const dir = join(ROOT, `case-${++serial}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'backend.conf'), '[backend_db]\nuser: b\npasswd: bp\n');
  writeFileSync(join(dir, 'frontend.conf'), '[frontend_db]\nuser: f\npasswd: fp\n');
  writeFileSync(join(dir, 'service.conf'), text);
  return join(dir, 'service.conf');
}

/**
 * saliweb's own test config (saliweb/test/backend/test_config.py), two extra frontends included, with the
 * `urltop` its frontend reads (saliflow builds results URLs from it, so it is required).
 */
const SALIWEB_TEST_CONFIG = `[general]
admin_email: test@salilab.org
service_name: test_service
socket: test.socket
urltop: https://salilab.org/test_service

[backend]
user: test
state_file: state_file
check_minutes: 10

[frontend:foo]
service_name: Foo

[frontend:bar]
service_name: Bar

[database]
db: testdb
frontend_config: frontend.conf
backend_config: backend.conf

[directories]
install: /
incoming: /in
preprocessing: /preproc

[oldjobs]
archive: 3h
expire: 90d
`;

/** Every key saliweb's readers accept, each set (as make_web_service and a live lab service write them). */
const SALIWEB_EVERY_KEY = `[General]
admin_email: modfoo@example.com
socket: /modbase5/home/modfoo/service/modfoo.socket
service_name: ModFoo
urltop: https://modbase.compbio.ucsf.edu/modfoo
github: https://github.com/salilab/modfoo
track_hostname: true

[backend]
user: modfoo
state_file: /modbase5/home/modfoo/service/modfoo.state
check_minutes: 10

[limits]
running: 5
concurrent_tasks: 4

[database]
db: modfoo
socket: /var/lib/mysql/mysql.sock
backend_config: backend.conf
frontend_config: frontend.conf

[directories]
install: /modbase5/home/modfoo/service
incoming: /modbase5/home/modfoo/service/incoming/
preprocessing: /wynton/home/sali/modfoo/running/
running: /wynton/home/sali/modfoo/running/
postprocessing: /wynton/home/sali/modfoo/running/
finalizing: /modbase5/home/modfoo/service/finalizing/
completed: /modbase5/home/modfoo/service/completed/
archived: /modbase5/home/modfoo/service/archived/
failed: /modbase5/home/modfoo/service/failed/

[oldjobs]
archive: 7d
expire: NEVER
`;

/** A service with a section of its own (saliweb's multifoxs reads [multifoxs] script_directory). */
const WITH_SERVICE_SECTION = `${SALIWEB_TEST_CONFIG}
[multifoxs]
script_directory: sdir
`;

/** saliflow's own sections, every key. */
const SALIFLOW_EVERY_KEY = `${SALIWEB_TEST_CONFIG}
[temporal]
address: 127.0.0.1:7233
namespace: default
task_queue: saliflow-test
web_ui: http://127.0.0.1:8233

[mail]
from: test@salilab.org
smtp_host: localhost
smtp_port: 2525

[metrics]
prometheus: 127.0.0.1:9464

[logging]
level: info

[sge]
qsub: /usr/bin/qsub
qstat: /usr/bin/qstat
qacct: /usr/bin/qacct
qdel: /usr/bin/qdel
sge_root: /var/lib/gridengine
sge_cell: default
poll_seconds: 5

[slurm]
sbatch: /usr/bin/sbatch
squeue: /usr/bin/squeue
scontrol: /usr/bin/scontrol
scancel: /usr/bin/scancel
jobcomp: /var/log/slurm/jobcomp.log
poll_seconds: 5

[worker]
shutdown_seconds: 20
lease_seconds: 12
`;

test("saliweb's own configs and every key its readers accept load unchanged", () => {
  const basic = loadServiceConfig(configFile(SALIWEB_TEST_CONFIG), {});
  assert.deepEqual(basic.frontends, { foo: { serviceName: 'Foo' }, bar: { serviceName: 'Bar' } });
  const every = loadServiceConfig(configFile(SALIWEB_EVERY_KEY), {});
  assert.equal(every.limits.concurrentTasks, 4);
  assert.equal(every.general.trackHostname, true);
  assert.equal(every.database.socket, '/var/lib/mysql/mysql.sock');
  assert.equal(every.oldjobs.expireMs, null);
  const own = loadServiceConfig(configFile(SALIFLOW_EVERY_KEY), {});
  assert.equal(own.worker.shutdownSeconds, 20);
  assert.equal(own.worker.leaseSeconds, 12);
  assert.equal(basic.worker.leaseSeconds, 10, 'the default lease bound');
  assert.equal(own.clusters.slurm?.jobcomp, '/var/log/slurm/jobcomp.log');
});

test("a service's own section loads when it declares it, and is refused when the service does not", () => {
  const file = configFile(WITH_SERVICE_SECTION);
  const config = loadServiceConfig(file, {}, { serviceSections: { multifoxs: ['script_directory'] } });
  assert.equal(config.sections.section('multifoxs')?.values.get('script_directory'), 'sdir');
  // Without the service module (a CLI verb without --service) a section far from any built-in one is left alone.
  loadServiceConfig(file, {});
  assert.throws(
    () => loadServiceConfig(file, {}, { serviceSections: {} }),
    (error: Error) =>
      error instanceof ConfigError &&
      error.message.includes(`${file} [multifoxs]: unknown section`) &&
      error.message.includes('configSections'),
  );
  const typo = configFile(`${WITH_SERVICE_SECTION}runmode: fast\n`);
  assert.throws(
    () => loadServiceConfig(typo, {}, { serviceSections: { multifoxs: ['script_directory', 'run_mode'] } }),
    /\[multifoxs\] runmode: unknown key; did you mean run_mode\?/,
  );
});

/** [what the file says, where it is wrong, the spelling the error must suggest]. */
const TYPOS: readonly { edit: (text: string) => string; where: string; suggest: string }[] = [
  // Sections: saliweb's and saliflow's.
  { edit: (t) => `${t}\n[temporl]\naddress: elsewhere:7233\n`, where: '[temporl]', suggest: '[temporal]' },
  { edit: (t) => `${t}\n[limit]\nrunning: 2\n`, where: '[limit]', suggest: '[limits]' },
  { edit: (t) => t.replace('[oldjobs]', '[oldjob]'), where: '[oldjob]', suggest: '[oldjobs]' },
  { edit: (t) => t.replace('[directories]', '[directores]'), where: '[directores]', suggest: '[directories]' },
  { edit: (t) => t.replace('[database]', '[databse]'), where: '[databse]', suggest: '[database]' },
  { edit: (t) => t.replace('[backend]', '[backedn]'), where: '[backedn]', suggest: '[backend]' },
  { edit: (t) => t.replace('[general]', '[genral]'), where: '[genral]', suggest: '[general]' },
  { edit: (t) => `${t}\n[metric]\nprometheus: 0.0.0.0:9464\n`, where: '[metric]', suggest: '[metrics]' },
  { edit: (t) => `${t}\n[slrum]\nsbatch: /usr/bin/sbatch\n`, where: '[slrum]', suggest: '[slurm]' },
  { edit: (t) => `${t}\n[loging]\nlevel: debug\n`, where: '[loging]', suggest: '[logging]' },
  // Keys in saliweb's sections.
  { edit: (t) => `${t}\n[limits]\nruning: 2\n`, where: '[limits] runing', suggest: 'running' },
  {
    edit: (t) => `${t}\n[limits]\nrunning_per_usr: 2\n`,
    where: '[limits] running_per_usr',
    suggest: 'running_per_user',
  },
  { edit: (t) => t.replace('db: testdb', 'db: testdb\nprot: 3500'), where: '[database] prot', suggest: 'port' },
  {
    edit: (t) => t.replace('db: testdb', 'db: testdb\nhots: db.example.org'),
    where: '[database] hots',
    suggest: 'host',
  },
  {
    edit: (t) => t.replace('backend_config:', 'backend_cofnig:'),
    where: '[database] backend_cofnig',
    suggest: 'backend_config',
  },
  {
    edit: (t) => t.replace('check_minutes:', 'check_minute:'),
    where: '[backend] check_minute',
    suggest: 'check_minutes',
  },
  { edit: (t) => t.replace('state_file:', 'statefile:'), where: '[backend] statefile', suggest: 'state_file' },
  { edit: (t) => t.replace('admin_email:', 'admin_emial:'), where: '[general] admin_emial', suggest: 'admin_email' },
  { edit: (t) => t.replace('socket: test', 'sokcet: test'), where: '[general] sokcet', suggest: 'socket' },
  {
    edit: (t) => t.replace('preprocessing: /preproc', 'preprocessing: /preproc\ncompleteed: /done'),
    where: '[directories] completeed',
    suggest: 'completed',
  },
  { edit: (t) => t.replace('expire: 90d', 'expiry: 90d'), where: '[oldjobs] expiry', suggest: 'expire' },
  {
    edit: (t) => t.replace('[frontend:foo]\nservice_name', '[frontend:foo]\nservicename'),
    where: '[frontend:foo] servicename',
    suggest: 'service_name',
  },
  // Keys in saliflow's sections.
  { edit: (t) => `${t}\n[temporal]\nadress: elsewhere:7233\n`, where: '[temporal] adress', suggest: 'address' },
  { edit: (t) => `${t}\n[temporal]\nnamesapce: prod\n`, where: '[temporal] namesapce', suggest: 'namespace' },
  { edit: (t) => `${t}\n[temporal]\ntaskqueue: q\n`, where: '[temporal] taskqueue', suggest: 'task_queue' },
  { edit: (t) => `${t}\n[mail]\nsmtp_prot: 25\n`, where: '[mail] smtp_prot', suggest: 'smtp_port' },
  { edit: (t) => `${t}\n[sge]\npoll_second: 5\n`, where: '[sge] poll_second', suggest: 'poll_seconds' },
  { edit: (t) => `${t}\n[logging]\nlevle: debug\n`, where: '[logging] levle', suggest: 'level' },
  {
    edit: (t) => `${t}\n[worker]\nshutdown_second: 5\n`,
    where: '[worker] shutdown_second',
    suggest: 'shutdown_seconds',
  },
  {
    edit: (t) => `${t}\n[worker]\nlease_second: 5\n`,
    where: '[worker] lease_second',
    suggest: 'lease_seconds',
  },
];

test(`${TYPOS.length} typos, each an error naming the file, the place and the nearest valid spelling`, () => {
  assert.ok(TYPOS.length >= 20);
  for (const typo of TYPOS) {
    const file = configFile(typo.edit(SALIWEB_TEST_CONFIG));
    assert.throws(
      () => loadServiceConfig(file, {}),
      (error: Error) => {
        assert.ok(error instanceof ConfigError, `${typo.where}: ${error.message}`);
        assert.ok(error.message.startsWith(`${file} ${typo.where}: unknown`), error.message);
        assert.ok(error.message.includes(`did you mean ${typo.suggest}?`), error.message);
        return true;
      },
      typo.where,
    );
  }
});

test('the nearest spelling is offered only for a plausible typo', () => {
  assert.equal(nearestSpelling('runing', SALIWEB_SECTIONS.limits!), 'running');
  assert.equal(nearestSpelling('TEMPORL', Object.keys(SALIFLOW_SECTIONS)), 'temporal');
  assert.equal(nearestSpelling('prot', SALIWEB_SECTIONS.database!), 'port');
  assert.equal(
    nearestSpelling('multifoxs', [...Object.keys(SALIWEB_SECTIONS), ...Object.keys(SALIFLOW_SECTIONS)]),
    undefined,
  );
  assert.equal(nearestSpelling('zzz', ['level']), undefined);
});
