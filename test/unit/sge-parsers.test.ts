/**
 * The SGE parsers on output recorded from a real SGE 8.1.9
 * (test/fixtures/sge/, scripts/cluster/record-fixtures.sh): every case is
 * read by a test below, including error text and XML cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recorded, recordedCases } from '../support/scheduler-fixtures.js';
import {
  describeQacct,
  parseQacct,
  parseQdel,
  parseQstatXml,
  parseQsub,
  parseSgeMemory,
  requestedLimits,
  qacctCommand,
  qdelCommand,
  qstatCommand,
  qsubCommand,
} from '../../engine/runners/sge-commands.js';

const tested = new Set<string>();
const fixture = (name: string) => {
  tested.add(name);
  return recorded('sge', name);
};
const commands = { qsub: '/usr/bin/qsub', qstat: '/usr/bin/qstat', qacct: '/usr/bin/qacct', qdel: '/usr/bin/qdel' };

test('builders: qstat names one account, qacct refuses an empty id, qdel takes the base id', () => {
  assert.deepEqual(qstatCommand(commands, 'saliweb'), { command: '/usr/bin/qstat', args: ['-xml', '-u', 'saliweb'] });
  assert.deepEqual(qsubCommand(commands, 'sge-script.sh', '/jobs/a'), {
    command: '/usr/bin/qsub',
    // saliweb's -w n -b no: no verification of -l requests, a script not a binary.
    args: ['-terse', '-w', 'n', '-b', 'no', 'sge-script.sh'],
    cwd: '/jobs/a',
  });
  assert.throws(() => qacctCommand(commands, ' '), /empty job id/);
  assert.deepEqual(qacctCommand(commands, 'job_ab12').args, ['-j', 'job_ab12']);
  assert.deepEqual(qdelCommand(commands, '7.1-3:1').args, ['7']);
});

test('qsub -terse: a plain id, an array id, a refusal and an unreachable cell', () => {
  assert.deepEqual(parseQsub(fixture('qsub-plain')), { id: fixture('qsub-plain').stdout.trim() });
  assert.match((parseQsub(fixture('qsub-array')) as { id: string }).id, /^\d+\.1-2:1$/);
  assert.match((parseQsub(fixture('qsub-refused')) as { refused: string }).refused, /unknown resource/);
  assert.match((parseQsub(fixture('qsub-unreachable')) as { unreachable: string }).unreachable, /cell directory/);
  // Accepted but printed no id: treated as a passing fault, so the retry looks for the job by name.
  assert.ok('unreachable' in parseQsub({ stdout: '', stderr: '', exitCode: 0 }));
  assert.ok('unreachable' in parseQsub({ stdout: '', stderr: '', exitCode: undefined, timedOut: true }));
});

test('qstat -xml: running, pending, held, pending and running array tasks; empty; error; cut short; garbage', () => {
  const mixed = parseQstatXml(fixture('qstat-mixed'));
  assert.ok(mixed.ok);
  const byName = new Map(mixed.value.map((job) => [job.name, job]));
  assert.equal(byName.get('fx_running')?.state, 'r');
  assert.equal(byName.get('fx_pending')?.state, 'qw');
  assert.equal(byName.get('fx_held')?.state, 'hqw');
  assert.equal(byName.get('fx_array_pending')?.tasks, '1-3:1');
  assert.equal(byName.get('fx_running')?.owner, 'root');
  for (const job of mixed.value) assert.match(job.number, /^\d+$/);

  const tasks = parseQstatXml(fixture('qstat-array-running'));
  assert.ok(tasks.ok);
  const running = tasks.value.filter((job) => job.name === 'fx_array_running');
  // A task that started is listed on its own (`<tasks>1</tasks>`); on a busy cell the other may still wait.
  assert.deepEqual(
    running.map((job) => job.tasks),
    ['1', '2'],
  );
  assert.equal(running[0]!.state, 'r');
  for (const job of running) assert.match(job.state, /^(r|t|qw)$/);
  assert.equal(running[0]!.number, running[1]!.number, 'running tasks share the job number');

  assert.deepEqual(parseQstatXml(fixture('qstat-empty')), { ok: true, value: [] });
  const error = parseQstatXml(fixture('qstat-error'));
  assert.ok(!error.ok && /cell directory/.test(error.error));
  const cut = parseQstatXml(fixture('qstat-truncated'));
  assert.ok(!cut.ok && /not a whole qstat -xml document/.test(cut.error));
  assert.equal(parseQstatXml({ stdout: 'Segmentation fault\n', stderr: '', exitCode: 0 }).ok, false);
  assert.equal(parseQstatXml({ stdout: '', stderr: '', exitCode: 0 }).ok, false);
});

test('qacct: success, exit 3, qdel kill, h_rt kill, array tasks, no record yet, garbage', () => {
  const one = (name: string) => {
    const parsed = parseQacct(fixture(name));
    assert.ok(parsed.ok, name);
    return parsed.value;
  };
  const [success] = one('qacct-ok');
  assert.equal(success?.jobName, 'fx_ok');
  assert.equal(success?.exitCode, 0);
  assert.equal(success?.failedCode, 0);
  assert.equal(success?.task, undefined);
  assert.equal(describeQacct(success!), undefined);

  const [exit3] = one('qacct-exit3');
  assert.equal(exit3?.exitCode, 3);
  assert.equal(exit3?.signal, undefined);
  assert.match(describeQacct(exit3!)!, /^SGE job \d+: exit status 3$/);

  const [killed] = one('qacct-killed');
  assert.equal(killed?.exitCode, 137);
  assert.equal(killed?.signal, 9);
  assert.equal(killed?.failedCode, 100);
  assert.equal(killed?.failedText, 'assumedly after job');
  assert.match(describeQacct(killed!)!, /killed by signal 9, e\.g\. by qdel\), failed 100 : assumedly after job/);

  const [walltime] = one('qacct-walltime');
  assert.equal(walltime?.failedCode, 37);
  assert.match(walltime?.failedText ?? '', /h_rt/);
  assert.equal(walltime?.signal, 9);
  assert.ok((walltime?.wallclockSeconds ?? 0) >= 2);
  assert.ok((walltime?.maxVmemBytes ?? 0) > 1024 * 1024, 'maxvmem in bytes');
  assert.equal(walltime?.requestedWallclockSeconds, 2, 'h_rt from the category line');
  assert.equal(success?.requestedWallclockSeconds, undefined);

  // h_vmem is a ulimit: the program fails its allocation ("tail: memory exhausted") and exits 1;
  // a one-second job's maxvmem is not sampled.
  const [memory] = one('qacct-memory');
  assert.deepEqual([memory?.exitCode, memory?.failedCode, memory?.requestedMemoryBytes], [1, 0, 50 * 1024 ** 2]);

  const tasks = one('qacct-array_done');
  assert.deepEqual(
    tasks.map((task) => [task.task, task.exitCode]),
    [
      ['1', 0],
      ['2', 1],
    ],
  );
  assert.deepEqual(parseQacct(fixture('qacct-unknown')), { ok: true, value: [] });
  assert.equal(parseQacct({ stdout: 'error: unable to open accounting file\n', stderr: '', exitCode: 0 }).ok, false);
  assert.equal(parseQacct({ stdout: '', stderr: 'error: no permission', exitCode: 1 }).ok, false);
});

test('requested limits from the category line', () => {
  assert.deepEqual(requestedLimits('-l h_rt=3600,h_vmem=2G'), {
    requestedWallclockSeconds: 3600,
    requestedMemoryBytes: 2 * 1024 ** 3,
  });
  assert.deepEqual(requestedLimits('-l h_rt=1:00:00 -q all.q'), { requestedWallclockSeconds: 3600 });
  assert.deepEqual(requestedLimits('NONE'), {});
});

test('maxvmem units are powers of 1024', () => {
  assert.equal(parseSgeMemory('3.434MB'), Math.round(3.434 * 1024 ** 2));
  assert.equal(parseSgeMemory('0.000B'), 0);
  assert.equal(parseSgeMemory('2G'), 2 * 1024 ** 3);
  assert.equal(parseSgeMemory('lots'), undefined);
});

test('qdel: a running job is deleted, an unknown one is already gone', () => {
  assert.deepEqual(parseQdel(fixture('qdel-running')), { ok: true, value: 'deleted' });
  assert.deepEqual(parseQdel(fixture('qdel-unknown')), { ok: true, value: 'absent' });
  assert.equal(parseQdel({ stdout: '', stderr: 'error: commlib error: got select error', exitCode: 1 }).ok, false);
});

test('every recorded SGE case is read by a test above', () => {
  assert.deepEqual(
    recordedCases('sge').filter((name) => !tested.has(name)),
    [],
  );
});
