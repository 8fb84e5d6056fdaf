/**
 * Typed causes of ended runs from the accounting recorded on the real SGE
 * and SLURM (test/fixtures/), and from records built for the states the
 * single-node clusters could not produce (memory kills, node failures,
 * preemption): those are marked as such below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recorded } from '../support/scheduler-fixtures.js';
import { parseQacct } from '../../engine/runners/sge-commands.js';
import { parseJobcomp, parseScontrolJobs } from '../../engine/runners/slurm-commands.js';
import { causeOfEnding, describeCause, describeCauseAndUsage, runCause } from '../../engine/runners/run-cause.js';
import type { RunEnding } from '../../engine/runners/runner.js';

function qacct(name: string): RunEnding[] {
  const parsed = parseQacct(recorded('sge', name));
  assert.ok(parsed.ok && parsed.value.length > 0, name);
  return parsed.value;
}
function scontrol(name: string): RunEnding[] {
  const parsed = parseScontrolJobs(recorded('slurm', name));
  assert.ok(parsed.ok && parsed.value.length > 0, name);
  return parsed.value;
}
const jobcomp = (name: string) => parseJobcomp(recorded('slurm', 'jobcomp').stdout, name);
const ended = (endings: RunEnding[], extra: Partial<Parameters<typeof runCause>[0]> = {}) =>
  runCause({ jobState: 'STARTED', endings, accounting: 'searched', ...extra });

test('SGE: success, exit 3, h_rt kill, qdel by saliflow or by someone else, array task', () => {
  assert.deepEqual(runCause({ jobState: 'DONE', endings: qacct('qacct-ok'), accounting: 'searched' }).cause, {
    kind: 'succeeded',
  });
  assert.deepEqual(ended(qacct('qacct-exit3')).cause, { kind: 'exit_code', code: 3 });
  const walltime = ended(qacct('qacct-walltime'));
  assert.deepEqual(walltime.cause, { kind: 'walltime_exceeded' });
  assert.ok((walltime.usage.wallclockSeconds ?? 0) >= 2);
  assert.ok((walltime.usage.peakMemoryBytes ?? 0) > 0, 'peak memory recorded');
  assert.deepEqual(ended(qacct('qacct-killed'), { cancelledBySaliflow: true }).cause, {
    kind: 'cancelled_by_operator',
  });
  assert.deepEqual(ended(qacct('qacct-killed')).cause, { kind: 'killed_externally', signal: 9 });
  assert.deepEqual(ended(qacct('qacct-array_done')).cause, { kind: 'exit_code', code: 1 });
});

test('SGE: a job over its h_vmem on the real cell fails as its program does (recorded)', () => {
  // What the single-node cell really records: exit 1, failed 0, maxvmem 0 (not sampled). Nothing in
  // accounting says memory, so the cause stays the exit code rather than a guess.
  assert.deepEqual(ended(qacct('qacct-memory')).cause, { kind: 'exit_code', code: 1 });
});

test('SGE: an h_vmem kill is told from an h_rt kill by usage against the requests (built records)', () => {
  const [walltime] = qacct('qacct-walltime');
  // failed 37 covers h_rt, h_cpu and h_vmem alike; here the memory was at its limit and the time was not.
  const memory = { ...walltime!, wallclockSeconds: 1, requestedMemoryBytes: 100e6, maxVmemBytes: 99e6 };
  assert.deepEqual(causeOfEnding(memory), { kind: 'memory_exceeded' });
  // hpc-gridware/clusterscheduler#66: failed 100 / exit_status 140 with the memory at its limit.
  const crash = { ...memory, failedCode: 100, failedText: 'assumedly after job', exitCode: 140, signal: 12 };
  assert.deepEqual(causeOfEnding(crash), { kind: 'memory_exceeded' });
  // Neither limit reached: the evidence is kept, not guessed.
  const neither = { ...walltime!, wallclockSeconds: 1, requestedWallclockSeconds: 100 };
  assert.equal(causeOfEnding(neither).kind, 'unknown');
});

test('SLURM (scontrol and jobcomp): success, exit 3, TIMEOUT, CANCELLED, array task', () => {
  for (const source of ['scontrol', 'jobcomp'] as const) {
    const read = (name: string) =>
      source === 'scontrol' ? scontrol(`scontrol-${name === 'array_done' ? 'array' : name}`) : jobcomp(`fx_${name}`);
    assert.deepEqual(ended(read('exit3')).cause, { kind: 'exit_code', code: 3 }, source);
    assert.deepEqual(ended(read('walltime')).cause, { kind: 'walltime_exceeded' }, source);
    assert.deepEqual(ended(read('killed'), { cancelledBySaliflow: true }).cause, { kind: 'cancelled_by_operator' });
    assert.equal(ended(read('killed')).cause.kind, 'killed_externally', source);
    assert.deepEqual(ended(read('array_done')).cause, { kind: 'exit_code', code: 1 }, source);
    assert.deepEqual(ended(read('ok'), { jobState: 'DONE' }).cause, { kind: 'succeeded' }, source);
  }
  const walltime = ended(scontrol('scontrol-walltime'));
  assert.ok((walltime.usage.wallclockSeconds ?? 0) >= 60, 'RunTime read');
  assert.equal(scontrol('scontrol-walltime')[0]?.requestedWallclockSeconds, 60);
});

test('SLURM states the single-node cluster cannot produce (built records)', () => {
  const base: RunEnding = { source: 'sacct', jobId: '9', exitCode: 0, signal: 9 };
  assert.deepEqual(causeOfEnding({ ...base, state: 'OUT_OF_MEMORY' }), { kind: 'memory_exceeded' });
  assert.deepEqual(causeOfEnding({ ...base, state: 'NODE_FAIL' }), { kind: 'node_failure' });
  assert.deepEqual(causeOfEnding({ ...base, state: 'PREEMPTED' }), { kind: 'killed_externally', signal: 9 });
  assert.deepEqual(causeOfEnding({ ...base, state: 'DEADLINE' }), { kind: 'walltime_exceeded' });
  assert.deepEqual(causeOfEnding({ ...base, state: 'SPECIAL_EXIT' }), {
    kind: 'unknown',
    evidence: 'SLURM JobState=SPECIAL_EXIT',
  });
  // nextflow#1285: an OOM kill with exit code 0 is a memory failure, even if the script then wrote DONE.
  const oom: RunEnding = { source: 'jobcomp', jobId: '9', state: 'OUT_OF_MEMORY', exitCode: 0 };
  assert.deepEqual(ended([oom]).cause, { kind: 'memory_exceeded' });
  assert.deepEqual(ended([oom], { jobState: 'DONE' }).cause, { kind: 'memory_exceeded' });
  // Other endings defer to DONE (saliweb's rule): a cancel that came after it changes nothing.
  assert.deepEqual(ended(scontrol('scontrol-killed'), { jobState: 'DONE' }).cause, { kind: 'succeeded' });
  assert.equal(runCause({ jobState: 'DONE', endings: [], accounting: 'searched' }).cause.kind, 'succeeded');
});

test('never success without DONE; no trace is vanished, no accounting is unknown with the evidence', () => {
  const ok = scontrol('scontrol-ok');
  const noDone = ended(ok);
  assert.equal(noDone.cause.kind, 'unknown');
  assert.match(describeCause(noDone.cause), /exit 0, but job-state says "STARTED", not DONE/);
  assert.deepEqual(ended(ok, { writesNoJobState: true }).cause, { kind: 'succeeded' });
  assert.deepEqual(ended([]).cause, { kind: 'vanished' });
  const off = ended([], { accounting: 'disabled', jobState: undefined });
  assert.match(
    describeCause(off.cause),
    /^unknown \(job-state says nothing \(no file\) and the scheduler keeps no accounting\)$/,
  );
});

test('an array run takes the cause that most changes what to do next', () => {
  const tasks: RunEnding[] = [
    { source: 'scontrol', jobId: '1', task: '1', state: 'FAILED', exitCode: 2 },
    { source: 'scontrol', jobId: '2', task: '2', state: 'TIMEOUT', exitCode: 0, signal: 15 },
    { source: 'scontrol', jobId: '3', task: '3', state: 'COMPLETED', exitCode: 0 },
  ];
  assert.deepEqual(ended(tasks).cause, { kind: 'walltime_exceeded' });
  assert.equal(describeCause({ kind: 'exit_code', code: 3 }), 'exit_code(3)');
  assert.equal(describeCause({ kind: 'killed_externally', signal: 9 }), 'killed_externally(signal 9)');
});

test('the failure text names the cause with the peak memory and wall time the scheduler reported', () => {
  const gib = 1024 ** 3;
  assert.equal(
    describeCauseAndUsage({ kind: 'memory_exceeded' }, { peakMemoryBytes: 2.1 * gib, requestedMemoryBytes: 2 * gib }),
    'memory_exceeded (peak 2.1 GiB of 2 GiB)',
  );
  assert.equal(
    describeCauseAndUsage({ kind: 'walltime_exceeded' }, { wallclockSeconds: 61.4, requestedWallclockSeconds: 60 }),
    'walltime_exceeded (wall 61 s of 60 s)',
  );
  assert.equal(describeCauseAndUsage({ kind: 'vanished' }, {}), 'vanished');
  // SGE's maxvmem 0 is "not sampled", never a peak of zero.
  const [walltime] = qacct('qacct-walltime');
  const unsampled = runCause({
    jobState: 'STARTED',
    endings: [{ ...walltime!, maxVmemBytes: 0 }],
    accounting: 'searched',
  });
  assert.equal(unsampled.usage.peakMemoryBytes, undefined);
  assert.match(describeCauseAndUsage(unsampled.cause, unsampled.usage), /^walltime_exceeded \(wall \d+ s of \d+ s\)$/);
});
