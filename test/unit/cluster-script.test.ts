/**
 * The job script a cluster runner writes and the options it submits with
 * (engine/runners/cluster-script.ts, script-submission.ts): saliweb's
 * `_SALI_JOB_DIR` lines, and a service's own job name kept out of the
 * unique cluster job name the exactly-once lookup relies on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderScript, takeJobName } from '../../engine/runners/cluster-script.js';
import { scriptSettings } from '../../engine/runners/script-submission.js';
import { sgeScript, slurmScript } from '../../core/runner-spec.js';

const parts = (interpreter: string) => ({ interpreter, directives: ['-N x', '-cwd'], prefix: '#$', body: 'cd /tmp\n' });

test('sh-family scripts record the job directory first and write job-state there', () => {
  for (const interpreter of ['/bin/sh', '/bin/bash', '/usr/bin/zsh', '/bin/ksh', '/bin/dash']) {
    assert.equal(
      renderScript(parts(interpreter)),
      `#!${interpreter}\n#$ -N x\n#$ -cwd\n_SALI_JOB_DIR=\`pwd\`\necho "STARTED" > "\${_SALI_JOB_DIR}/job-state"\n` +
        `cd /tmp\necho "DONE" > "\${_SALI_JOB_DIR}/job-state"\n`,
      interpreter,
    );
  }
});

test('csh and tcsh scripts set it with setenv', () => {
  for (const interpreter of ['/bin/csh', '/usr/bin/tcsh']) {
    assert.equal(
      renderScript(parts(interpreter)),
      `#!${interpreter}\n#$ -N x\n#$ -cwd\nsetenv _SALI_JOB_DIR \`pwd\`\necho "STARTED" > "\${_SALI_JOB_DIR}/job-state"\n` +
        `cd /tmp\necho "DONE" > "\${_SALI_JOB_DIR}/job-state"\n`,
      interpreter,
    );
  }
});

test('other interpreters get no job-state lines (their script writes it)', () => {
  assert.equal(renderScript(parts('/usr/bin/python3')), '#!/usr/bin/python3\n#$ -N x\n#$ -cwd\ncd /tmp\n');
});

test("a job name in the options is taken out of them, SGE's -N", () => {
  assert.deepEqual(takeJobName('sge', '-l h_rt=1:00:00 -N myname -j y'), {
    options: '-l h_rt=1:00:00 -j y',
    name: 'myname',
  });
  assert.deepEqual(takeJobName('sge', '-N "my job" -l "a=b c"'), { options: '-l "a=b c"', name: 'my job' });
  assert.deepEqual(takeJobName('sge', '-N first -N second'), { options: '', name: 'second' });
  assert.deepEqual(takeJobName('sge', '-l h_rt=1:00:00'), { options: '-l h_rt=1:00:00' });
  // -J is not SGE's
  assert.deepEqual(takeJobName('sge', '-J x'), { options: '-J x' });
});

test("a job name in the options is taken out of them, SLURM's -J and --job-name", () => {
  assert.deepEqual(takeJobName('slurm', '--mem=1G -J myname'), { options: '--mem=1G', name: 'myname' });
  assert.deepEqual(takeJobName('slurm', '-Jmyname --time=5'), { options: '--time=5', name: 'myname' });
  assert.deepEqual(takeJobName('slurm', '--job-name=myname -a 1-3'), { options: '-a 1-3', name: 'myname' });
  assert.deepEqual(takeJobName('slurm', '--job-name myname'), { options: '', name: 'myname' });
  assert.deepEqual(takeJobName('slurm', '-N 2'), { options: '-N 2' }, "SLURM's -N is a node count");
});

test("the service's name starts the unique cluster job name; the spec's name wins, as saliweb's set_name does", () => {
  const job = { name: '12job', directory: '/jobs/12job', cycle: 1 };
  assert.deepEqual(scriptSettings(sgeScript('true', { options: '-N "my name"' }), job), {
    options: '',
    interpreter: '/bin/sh',
    baseName: 'myname',
  });
  assert.deepEqual(scriptSettings(sgeScript('true', { options: '-N mine -j y' }), job).baseName, 'mine');
  assert.deepEqual(scriptSettings(sgeScript('true', { options: '-N mine', name: 'spec' }), job).baseName, 'spec');
  assert.deepEqual(scriptSettings(sgeScript('true'), job).baseName, 'J12job');
  const slurm = scriptSettings(
    slurmScript('true', { options: '--job-name=mine --mem=1G', interpreter: '/bin/bash' }),
    job,
  );
  assert.deepEqual(slurm, { options: '--mem=1G', interpreter: '/bin/bash', baseName: 'mine' });
});
