/**
 * The SLURM parsers on output recorded from a real SLURM 22.05
 * (test/fixtures/slurm/, scripts/cluster/record-fixtures.sh): every case is
 * read by a test below, including error text and output cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recorded, recordedCases } from '../support/scheduler-fixtures.js';
import {
  describeSlurmEnding,
  parseJobcomp,
  parseSacct,
  parseSbatch,
  parseScancel,
  parseScontrolJobs,
  parseSqueue,
  sacctCommand,
  scancelCommand,
  squeueByNameCommand,
  squeueCommand,
} from '../../engine/runners/slurm-commands.js';

const tested = new Set<string>();
const fixture = (name: string) => {
  tested.add(name);
  return recorded('slurm', name);
};
const commands = { sbatch: 'sbatch', squeue: 'squeue', scontrol: 'scontrol', scancel: 'scancel', sacct: 'sacct' };

test('builders: squeue names the asked ids (never all jobs), scancel the base id', () => {
  assert.deepEqual(squeueCommand(commands, ['12', '14']).args, [
    '-h',
    '-t',
    'all',
    '-o',
    '%i|%F|%T|%j|%r',
    '-j',
    '12,14',
  ]);
  assert.throws(() => squeueCommand(commands, []), /at least one job id/);
  assert.deepEqual(squeueByNameCommand(commands, 'job_ab').args.slice(-2), ['-n', 'job_ab']);
  assert.deepEqual(scancelCommand(commands, '7_1-3:1').args, ['7']);
  assert.deepEqual(sacctCommand(commands, ['7']).args.slice(0, 4), ['-n', '-P', '-j', '7']);
});

test('sbatch --parsable: an id, an array id as saliweb shows it, a refusal, a passing fault', () => {
  const plain = fixture('sbatch-plain').stdout.trim();
  assert.deepEqual(parseSbatch(fixture('sbatch-plain'), ''), { id: plain });
  const array = fixture('sbatch-array').stdout.trim();
  assert.deepEqual(parseSbatch(fixture('sbatch-array'), '-a 1-2'), { id: `${array}_1-2:1` });
  assert.match((parseSbatch(fixture('sbatch-refused'), '') as { refused: string }).refused, /invalid partition/);
  assert.ok('unreachable' in parseSbatch({ stdout: '', stderr: 'sbatch: error: Socket timed out', exitCode: 1 }, ''));
  // The toil#5459 case: an error after the job was queued is not a refusal, so the retry looks by name.
  assert.ok(
    'unreachable' in parseSbatch({ stdout: '42\n', stderr: 'sbatch: error: slurm_persist_conn', exitCode: 1 }, ''),
  );
});

test('squeue: running, pending, held, array tasks and every ended state', () => {
  const parsed = parseSqueue(fixture('squeue-mixed'));
  assert.ok(parsed.ok);
  const byName = (name: string) => parsed.value.filter((row) => row.name === name);
  assert.equal(byName('fx_running')[0]?.state, 'RUNNING');
  assert.deepEqual([byName('fx_pending')[0]?.state, byName('fx_pending')[0]?.reason], ['PENDING', 'BeginTime']);
  assert.equal(byName('fx_held')[0]?.reason, 'JobHeldUser');
  assert.match(byName('fx_array_pending')[0]?.id ?? '', /^\d+_\[1-3\]$/);
  const tasks = byName('fx_array_done');
  assert.deepEqual(tasks.map((row) => row.state).sort(), ['COMPLETED', 'FAILED']);
  assert.ok(tasks.every((row) => row.base === tasks[0]!.base && row.id.startsWith(`${row.base}_`)));
  assert.equal(byName('fx_exit3')[0]?.state, 'FAILED');
  assert.equal(byName('fx_killed')[0]?.state, 'CANCELLED');
  assert.deepEqual([byName('fx_walltime')[0]?.state, byName('fx_walltime')[0]?.reason], ['TIMEOUT', 'TimeLimit']);
});

test('squeue: unknown ids are no rows; a broken config, output cut short and garbage are errors', () => {
  assert.deepEqual(parseSqueue(fixture('squeue-unknown')), { ok: true, value: [] });
  const some = parseSqueue(fixture('squeue-some-unknown'));
  assert.ok(some.ok && some.value.length === 1 && some.value[0]!.name === 'fx_pending');
  const error = parseSqueue(fixture('squeue-error'));
  assert.ok(!error.ok && /slurm\.conf/.test(error.error));
  const cut = parseSqueue(fixture('squeue-truncated'));
  assert.ok(!cut.ok && /not a squeue row/.test(cut.error));
  assert.equal(parseSqueue({ stdout: '<html>Bad Gateway</html>\n', stderr: '', exitCode: 0 }).ok, false);
  assert.deepEqual(parseSqueue({ stdout: '', stderr: '', exitCode: 0 }), { ok: true, value: [] });
});

test('scontrol -o show job: exit code, signal, state and reason of each ended run', () => {
  const one = (name: string) => {
    const parsed = parseScontrolJobs(fixture(name));
    assert.ok(parsed.ok, name);
    return parsed.value;
  };
  const [ok] = one('scontrol-ok');
  assert.deepEqual([ok?.state, ok?.exitCode, ok?.signal, ok?.name], ['COMPLETED', 0, undefined, 'fx_ok']);
  assert.equal(describeSlurmEnding(ok!), undefined);
  const [exit3] = one('scontrol-exit3');
  assert.deepEqual([exit3?.state, exit3?.reason, exit3?.exitCode], ['FAILED', 'NonZeroExitCode', 3]);
  assert.match(describeSlurmEnding(exit3!)!, /JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 \(exit status 3\)/);
  const [killed] = one('scontrol-killed');
  assert.deepEqual([killed?.state, killed?.exitCode, killed?.signal], ['CANCELLED', 0, 15]);
  assert.match(describeSlurmEnding(killed!)!, /cancelled, e\.g\. by scancel/);
  const [walltime] = one('scontrol-walltime');
  assert.deepEqual([walltime?.state, walltime?.reason, walltime?.signal], ['TIMEOUT', 'TimeLimit', 15]);
  const [held] = one('scontrol-held');
  assert.deepEqual([held?.state, held?.reason], ['PENDING', 'JobHeldUser']);
  const array = one('scontrol-array');
  assert.equal(array.length, 2);
  assert.deepEqual(array.map((task) => [task.task, task.state, task.exitCode]).sort(), [
    ['1', 'COMPLETED', 0],
    ['2', 'FAILED', 1],
  ]);
  assert.ok(array.every((task) => task.arrayJobId === array[0]!.arrayJobId));
  assert.deepEqual(parseScontrolJobs(fixture('scontrol-unknown')), { ok: true, value: [] });
  assert.equal(parseScontrolJobs({ stdout: 'garbage\n', stderr: '', exitCode: 0 }).ok, false);
  assert.equal(parseScontrolJobs({ stdout: '', stderr: 'Unable to contact slurm controller', exitCode: 1 }).ok, false);
});

test('jobcomp: the lines of one run by its unique name, array tasks included', () => {
  const text = fixture('jobcomp').stdout;
  const [exit3] = parseJobcomp(text, 'fx_exit3');
  assert.deepEqual([exit3?.source, exit3?.state, exit3?.exitCode], ['jobcomp', 'FAILED', 3]);
  const [killed] = parseJobcomp(text, 'fx_killed');
  // jobcomp drops the signal scontrol shows (0:15): a cancel is told by JobState alone.
  assert.deepEqual([killed?.state, killed?.exitCode, killed?.signal], ['CANCELLED', 0, undefined]);
  const [walltime] = parseJobcomp(text, 'fx_walltime');
  assert.equal(walltime?.state, 'TIMEOUT');
  const tasks = parseJobcomp(text, 'fx_array_done');
  assert.deepEqual(tasks.map((task) => task.task).sort(), ['1', '2']);
  assert.deepEqual(parseJobcomp(text, 'fx_ok').length, 1);
  // A prefix of a name is not the name; garbage lines are skipped.
  assert.deepEqual(parseJobcomp(`${text}\nnot a line\n`, 'fx_'), []);
});

test('sacct without slurmdbd says accounting is disabled', () => {
  const parsed = parseSacct(fixture('sacct-disabled'));
  assert.ok(!parsed.ok && 'disabled' in parsed && parsed.disabled);
});

test('scancel: a running job is cancelled; an unknown id is fine', () => {
  assert.deepEqual(parseScancel(fixture('scancel-running')), { ok: true, value: 'cancelled' });
  assert.equal(parseScancel(fixture('scancel-unknown')).ok, true);
  assert.deepEqual(
    parseScancel({
      stdout: '',
      stderr: 'scancel: error: Kill job error on job id 9: Invalid job id specified',
      exitCode: 1,
    }),
    { ok: true, value: 'absent' },
  );
  assert.equal(
    parseScancel({ stdout: '', stderr: 'scancel: error: Unable to contact slurm controller', exitCode: 1 }).ok,
    false,
  );
});

test('every recorded SLURM case is read by a test above', () => {
  assert.deepEqual(
    recordedCases('slurm').filter((name) => !tested.has(name)),
    [],
  );
});
