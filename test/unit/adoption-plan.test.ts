import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countActions,
  mapRunnerId,
  parseRunnerNames,
  planAdoption,
  type AdoptionChoices,
  type AdoptionFacts,
  type AdoptionPlan,
} from '../../core/adoption-plan.js';

const choices: AdoptionChoices = {
  transientSteps: 'fail',
  runnerNames: parseRunnerNames('wyntonsge=sge, mycluster = slurm'),
  availableKinds: ['do-nothing', 'local', 'web-service', 'sge', 'slurm'],
  operatorRunnerIds: {},
};

const at = (iso: string) => new Date(iso);

function facts(overrides: Partial<AdoptionFacts>): AdoptionFacts {
  return {
    name: 'job1',
    state: 'INCOMING',
    runnerId: null,
    directory: '/svc/incoming/job1',
    directoryFact: { where: 'as-row' },
    hasWorkflow: false,
    runTime: null,
    ...overrides,
  };
}

interface Case {
  name: string;
  facts: Partial<AdoptionFacts>;
  choices?: Partial<AdoptionChoices>;
  action: AdoptionPlan['action'];
  /** Matches the why (and the problem, when given). */
  why?: RegExp;
  problem?: RegExp | null;
  run?: { kind: string; id: string };
  failure?: RegExp;
  moveBack?: { from: string; to: string };
}

const CASES: Case[] = [
  { name: 'INCOMING is started', facts: {}, action: 'start', why: /submit order/, problem: null },
  {
    name: 'PREPROCESSING fails by default (saliweb rule)',
    facts: { state: 'PREPROCESSING' },
    action: 'fail',
    failure: /PREPROCESSING state when saliweb's backend stopped.*preprocess/,
  },
  {
    name: 'POSTPROCESSING fails by default',
    facts: { state: 'POSTPROCESSING' },
    action: 'fail',
    failure: /postprocess/,
  },
  { name: 'FINALIZING fails by default', facts: { state: 'FINALIZING' }, action: 'fail', failure: /finalize/ },
  {
    name: 'PREPROCESSING re-run when the service says so',
    facts: { state: 'PREPROCESSING' },
    choices: { transientSteps: 'rerun' },
    action: 'start',
    why: /safe to repeat/,
  },
  {
    name: 'FINALIZING re-run when the service says so',
    facts: { state: 'FINALIZING' },
    choices: { transientSteps: 'rerun' },
    action: 'start',
  },
  {
    name: 'RUNNING on SGE is watched',
    facts: { state: 'RUNNING', runnerId: 'SGE:1234', run: 'running' },
    action: 'watch',
    run: { kind: 'sge', id: '1234' },
    problem: null,
  },
  {
    name: 'an SGE array id is kept whole',
    facts: { state: 'RUNNING', runnerId: 'SGE:1234.1-10:1' },
    action: 'watch',
    run: { kind: 'sge', id: '1234.1-10:1' },
  },
  {
    name: 'a site SGE name maps through runner_names',
    facts: { state: 'RUNNING', runnerId: 'wyntonsge:77' },
    action: 'watch',
    run: { kind: 'sge', id: '77' },
  },
  {
    name: 'a SLURM array id is kept whole',
    facts: { state: 'RUNNING', runnerId: 'SLURM:555_1-10:1' },
    action: 'watch',
    run: { kind: 'slurm', id: '555_1-10:1' },
  },
  {
    name: 'a local run is watched by pid',
    facts: { state: 'RUNNING', runnerId: 'local:4321', run: 'running' },
    action: 'watch',
    run: { kind: 'local', id: '4321' },
  },
  {
    name: 'a saliweb web-service run keeps its URL',
    facts: { state: 'RUNNING', runnerId: 'saliweb:https://remote.example.org/job/x?passwd=y' },
    action: 'watch',
    run: { kind: 'web-service', id: 'https://remote.example.org/job/x?passwd=y' },
  },
  {
    name: 'a do-nothing run goes on to postprocess',
    facts: { state: 'RUNNING', runnerId: 'donothing:none' },
    action: 'watch',
    run: { kind: 'do-nothing', id: 'none' },
  },
  {
    name: 'RUNNING with a NULL runner_id is left for the operator',
    facts: { state: 'RUNNING', runnerId: null },
    action: 'operator',
    problem: /NULL runner_id/,
  },
  {
    name: 'RUNNING with a NULL runner_id whose run is found by name is watched',
    facts: { state: 'RUNNING', runnerId: null, foundByName: ['SGE:4242'] },
    action: 'watch',
    run: { kind: 'sge', id: '4242' },
    problem: /found by name/,
  },
  {
    name: 'RUNNING with a NULL runner_id and several runs of its name is left for the operator',
    facts: { state: 'RUNNING', runnerId: null, foundByName: ['SGE:1', 'SLURM:2'] },
    action: 'operator',
    problem: /several cluster jobs have its name: SGE:1, SLURM:2/,
  },
  {
    name: 'an unknown runner prefix is left for the operator with the config fix',
    facts: { state: 'RUNNING', runnerId: 'othersge:12' },
    action: 'operator',
    problem: /\[adopt\] runner_names: othersge=sge/,
  },
  {
    name: 'a runner the config lacks is left for the operator',
    facts: { state: 'RUNNING', runnerId: 'SLURM:12' },
    choices: { availableKinds: ['do-nothing', 'local', 'web-service'] },
    action: 'operator',
    problem: /no \[slurm\] section/,
  },
  {
    name: 'a stale id (its DONE predates the return to RUNNING) is left for the operator',
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'DONE', modified: at('2026-01-01T10:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
    },
    action: 'operator',
    problem: /stale runner_id SGE:99/,
  },
  {
    name: "a stale id whose cycle's run is found by name is watched (that run)",
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'DONE', modified: at('2026-01-01T10:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
      foundByName: ['SGE:104'],
    },
    action: 'watch',
    run: { kind: 'sge', id: '104' },
    problem: /stale runner_id SGE:99 in RUNNING: run SGE:104 found by name/,
  },
  {
    name: 'a stale id with several runs of its name is left for the operator, naming them',
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'DONE', modified: at('2026-01-01T10:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
      foundByName: ['SGE:104', 'SGE:105'],
    },
    action: 'operator',
    problem: /stale runner_id SGE:99 .*several cluster jobs have its name: SGE:104, SGE:105/,
  },
  {
    name: "a finished run whose job-state says STARTED, with this cycle's run found by name: that run is watched",
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'STARTED', modified: at('2026-01-01T12:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
      foundByName: ['SGE:99', 'SGE:104'],
    },
    action: 'watch',
    run: { kind: 'sge', id: '104' },
  },
  {
    name: 'a finished run whose job-state says STARTED, nothing else by its name: watched (no DONE fails it)',
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'STARTED', modified: at('2026-01-01T12:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
      foundByName: [],
    },
    action: 'watch',
    run: { kind: 'sge', id: '99' },
  },
  {
    name: 'a run that finished after entering RUNNING is watched (it goes on to postprocess)',
    facts: {
      state: 'RUNNING',
      runnerId: 'SGE:99',
      run: 'finished',
      jobState: { text: 'DONE', modified: at('2026-01-01T12:00:00Z') },
      runTime: at('2026-01-01T11:00:00Z'),
    },
    action: 'watch',
    run: { kind: 'sge', id: '99' },
  },
  {
    name: "the operator's runner id is used for a NULL one",
    facts: { state: 'RUNNING', runnerId: null },
    choices: { operatorRunnerIds: { job1: 'SLURM:808' } },
    action: 'watch',
    run: { kind: 'slurm', id: '808' },
    problem: /given by the operator/,
  },
  {
    name: 'COMPLETED is left to the old-jobs schedule',
    facts: { state: 'COMPLETED' },
    action: 'leave',
    why: /archives it at its archive_time/,
  },
  { name: 'ARCHIVED is left to expire', facts: { state: 'ARCHIVED' }, action: 'leave', why: /expire_time/ },
  { name: 'FAILED is left', facts: { state: 'FAILED' }, action: 'leave', why: /FAILED stays FAILED/ },
  { name: 'EXPIRED is left', facts: { state: 'EXPIRED', directory: null }, action: 'leave' },
  {
    name: 'a job that has a workflow already is left (a second run changes nothing)',
    facts: { state: 'RUNNING', runnerId: 'SGE:1', hasWorkflow: true },
    action: 'leave',
    why: /already has a saliflow workflow/,
  },
  {
    name: 'a directory ahead of its row is moved back (saliweb moves before it commits)',
    facts: { state: 'INCOMING', directoryFact: { where: 'elsewhere', path: '/svc/running/job1' } },
    action: 'start',
    moveBack: { from: '/svc/running/job1', to: '/svc/incoming/job1' },
    problem: /moved back where the row says/,
  },
  {
    name: 'an unfinished job without its directory fails',
    facts: { state: 'RUNNING', runnerId: 'SGE:1', directoryFact: { where: 'missing' } },
    action: 'fail',
    failure: /without its directory/,
    problem: /missing/,
  },
  {
    name: 'a COMPLETED job without its directory is left, with a warning',
    facts: { state: 'COMPLETED', directoryFact: { where: 'missing' } },
    action: 'leave',
    problem: /archive\/expire steps will fail/,
  },
];

for (const item of CASES) {
  test(`adoption plan: ${item.name}`, () => {
    const plan = planAdoption(facts(item.facts), { ...choices, ...item.choices });
    assert.equal(plan.action, item.action, JSON.stringify(plan));
    assert.equal(plan.job, 'job1');
    if (item.why) assert.match(plan.why, item.why);
    if (item.problem === null) assert.equal(plan.problem, undefined);
    else if (item.problem) assert.match(plan.problem ?? '', item.problem);
    if (item.run) assert.deepEqual(plan.action === 'watch' ? plan.run : undefined, item.run);
    if (item.failure) assert.match(plan.action === 'fail' ? plan.failure : '', item.failure);
    if (item.moveBack) assert.deepEqual(plan.moveBack, item.moveBack);
    else assert.equal(plan.moveBack, undefined);
  });
}

test('every state is covered by the table', () => {
  const states = new Set(CASES.map((item) => item.facts.state ?? 'INCOMING'));
  for (const state of [
    'INCOMING',
    'PREPROCESSING',
    'RUNNING',
    'POSTPROCESSING',
    'COMPLETED',
    'FAILED',
    'EXPIRED',
    'ARCHIVED',
    'FINALIZING',
  ]) {
    assert.ok(states.has(state as AdoptionFacts['state']), state);
  }
});

test('runner_names: bad entries are refused with the form to write', () => {
  assert.throws(() => parseRunnerNames('wyntonsge'), /is not NAME=KIND.*wyntonsge=sge/);
  assert.throws(() => parseRunnerNames('x=pbs'), /KIND one of sge, slurm/);
  assert.equal(parseRunnerNames('')['sge'], 'sge');
  assert.equal(parseRunnerNames('WyntonSGE=sge')['wyntonsge'], 'sge');
});

test('runner ids that are not ids are refused', () => {
  assert.match(String((mapRunnerId('SGE', choices) as { problem: string }).problem), /not NAME:ID/);
  assert.match(String((mapRunnerId('local:abc', choices) as { problem: string }).problem), /process id/);
  assert.match(String((mapRunnerId('SGE:abc', choices) as { problem: string }).problem), /not an SGE job id/);
  assert.match(String((mapRunnerId('saliweb:nourl', choices) as { problem: string }).problem), /results URL/);
});

test('counts per action', () => {
  const plans = [
    planAdoption(facts({}), choices),
    planAdoption(facts({ name: 'b' }), choices),
    planAdoption(facts({ name: 'c', state: 'FAILED' }), choices),
  ];
  assert.deepEqual(countActions(plans), { start: 2, watch: 0, fail: 0, operator: 0, leave: 1 });
});
