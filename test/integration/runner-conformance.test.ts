/**
 * The behaviours of the runner contract (engine/runners/runner.ts),
 * checked on all five runners: SGE and SLURM on the fake scheduler, local,
 * do-nothing, and web-service against a local HTTP server; then on the real
 * SGE and SLURM when they are up. A behaviour a runner cannot have (a web
 * service has no cancel; a local run has no scheduler query to fail) is
 * skipped with the reason, and the faults are injected only where a fake can
 * inject them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { doNothing, localCommand, sgeScript, slurmScript, webService } from '../../core/runner-spec.js';
import type { RunnerSpec } from '../../core/runner-spec.js';
import { RunnerError } from '../../core/errors.js';
import type { RunHandle, RunnerBackend, RunStatus } from '../../engine/runners/runner.js';
import { createDoNothingRunner } from '../../engine/runners/do-nothing.js';
import { createLocalRunner } from '../../engine/runners/local.js';
import { createSgeRunner } from '../../engine/runners/sge.js';
import { createSlurmRunner } from '../../engine/runners/slurm.js';
import { createWebServiceRunner } from '../../engine/runners/web-service.js';
import { readJobStateFile } from '../../engine/runners/job-state-file.js';
import { createFakeScheduler, type FakeScheduler } from '../support/fake-scheduler.js';
import { startFakeSaliwebService, type FakeSaliwebService } from '../support/fake-saliweb-service.js';
import { clusterUnderTest } from '../support/clusters.js';
import { until } from '../support/until.js';

/** What a behaviour needs from a runner under test. */
interface Subject {
  label: string;
  runner: RunnerBackend;
  /** A run that does `shell` (ignored by runners that run nothing of ours). */
  spec(shell: string, options?: { array?: boolean }): RunnerSpec;
  /** Runs our shell snippets (exit codes, sleeps); not do-nothing or web-service. */
  runsShell: boolean;
  arrays: boolean;
  /** Why cancelling a running run cannot end it, when it cannot. */
  noCancel?: string;
  fake?: FakeScheduler;
  /** The web service's server, to make its answers fail. */
  service?: FakeSaliwebService;
  /** How many runs the scheduler holds for a job name (exactly-once checks). */
  runsNamed?(name: string): Promise<number>;
}

const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-conformance-'));
let jobCount = 0;

async function newJob(prefix: string) {
  jobCount += 1;
  const name = `${prefix}-${jobCount}`;
  const directory = path.join(scratch, name);
  await fs.mkdir(directory, { recursive: true });
  return { name, directory, cycle: 1 };
}

async function statusOf(runner: RunnerBackend, handle: RunHandle): Promise<RunStatus> {
  try {
    return (await runner.status([handle])).get(handle.id) ?? { state: 'unknown', reason: 'no answer for this id' };
  } catch (error) {
    // A status call that throws is every run unknown (the poller's rule).
    return { state: 'unknown', reason: (error as Error).message };
  }
}

/** Polls until the run has ended (finished or failed), checking on the way that it never was anything else. */
async function ended(runner: RunnerBackend, handle: RunHandle, timeoutMs = 60_000): Promise<RunStatus> {
  return until(
    `${runner.name} run ${handle.id} to end`,
    async () => {
      const status = await statusOf(runner, handle);
      return status.state === 'finished' || status.state === 'failed' ? status : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the run's script has begun (asking for its status meanwhile: a fake scheduler moves on when asked). */
async function running(runner: RunnerBackend, run: RunHandle): Promise<void> {
  await until(`${runner.name} run ${run.id} to start`, async () => {
    await statusOf(runner, run);
    return (await readJobStateFile(run.directory)) ? true : undefined;
  });
}

async function started(subject: Subject, prefix: string, shell: string, options: { array?: boolean } = {}) {
  const job = await newJob(prefix);
  const id = await subject.runner.submit(job, subject.spec(shell, options));
  return { ...job, id } satisfies RunHandle;
}

function clusterSubject(kind: 'sge' | 'slurm', label: string, runner: RunnerBackend, fake?: FakeScheduler): Subject {
  const script = kind === 'sge' ? sgeScript : slurmScript;
  return {
    label,
    runner,
    spec: (shell, { array } = {}) => script(shell, array ? { options: kind === 'sge' ? '-t 1-2' : '-a 1-2' } : {}),
    runsShell: true,
    arrays: true,
    ...(fake ? { fake } : {}),
    ...(fake
      ? {
          runsNamed: async (name: string) =>
            (await fake.jobs()).filter((job) => job.name.startsWith(`${name}_`)).length,
        }
      : {}),
  };
}

const taskVariable = (subject: Subject) => (subject.label.startsWith('SGE') ? 'SGE_TASK_ID' : 'SLURM_ARRAY_TASK_ID');

function conformance(make: () => Promise<Subject & { cleanup(): Promise<void> }>, skip?: string) {
  let subject: Subject & { cleanup(): Promise<void> };
  before(async () => {
    if (!skip) subject = await make();
  });
  after(async () => {
    await subject?.cleanup();
  });
  const check = (name: string, when: (s: Subject) => string | undefined, body: (s: Subject) => Promise<void>) =>
    test(name, { skip, timeout: 120_000 }, async (t) => {
      const reason = when(subject);
      if (reason) return t.skip(reason);
      await body(subject);
    });
  const always = () => undefined;
  const needsFake = (s: Subject) => (s.fake ? undefined : 'needs the fake scheduler to inject the fault');

  check('1. submit is exactly-once per (job, cycle); a new cycle is a new run', always, async (s) => {
    const job = await newJob('once');
    const spec = s.spec('true');
    const first = await s.runner.submit(job, spec);
    assert.equal(await s.runner.submit(job, spec), first, 'a retried submit returns the first id');
    if (s.runsNamed) assert.equal(await s.runsNamed(job.name), 1, 'one job in the scheduler');
    if (s.service) assert.equal(s.service.jobs.length, 1, 'one job posted to the web service');
    const second = await s.runner.submit({ ...job, cycle: 2 }, spec);
    assert.notEqual(second, first);
    await ended(s.runner, { ...job, cycle: 2, id: second });
    await ended(s.runner, { ...job, id: first });
  });

  check('1b. a submit command that errors after queuing the job (toil#5459) leaves one job', needsFake, async (s) => {
    const fake = s.fake!;
    await fake.fault(s.label.startsWith('SGE') ? 'qsub' : 'sbatch', 'accept-then-fail', 1);
    const job = await newJob('accepted');
    const spec = s.spec('true');
    await assert.rejects(s.runner.submit(job, spec), RunnerError, 'a passing fault, retried');
    const id = await s.runner.submit(job, spec);
    assert.equal(await s.runsNamed!(job.name), 1, 'the retry found the queued job instead of submitting again');
    const status = await ended(s.runner, { ...job, id });
    assert.equal(status.state, 'finished');
    assert.equal(await readJobStateFile(job.directory), 'DONE');
  });

  check('2. one status call answers for many runs', always, async (s) => {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await started(s, 'many', 'true'));
    const before = s.fake ? await s.fake.calls() : 0;
    const statuses = await s.runner.status(runs);
    if (s.fake) assert.equal((await s.fake.calls()) - before, 1, 'one scheduler query for three runs');
    // Runs may share an id (do-nothing's `cycle-1`); the answer has one entry per id.
    assert.deepEqual([...statuses.keys()].sort(), [...new Set(runs.map((run) => run.id))].sort());
    for (const run of runs) assert.notEqual(statuses.get(run.id)?.state, 'failed');
    for (const run of runs) assert.equal((await ended(s.runner, run)).state, 'finished');
  });

  for (const mode of ['fail', 'timeout', 'garbage', 'empty'] as const) {
    check(
      `3. a status query that ${mode === 'fail' ? 'fails' : mode === 'timeout' ? 'times out' : mode === 'garbage' ? 'prints garbage' : 'prints nothing'} changes no run`,
      (x) =>
        x.fake || (x.service && (mode === 'fail' || mode === 'timeout'))
          ? undefined
          : x.service
            ? 'a 200 reply from the web service is its final word (malformed results fail the run)'
            : 'no scheduler query to make fail',
      async (s) => {
        // The run ends while the query is broken: it must not be reported finished from the broken answer.
        const run = await started(s, `query-${mode}`, 'sleep 1');
        // Each hung query costs the runner's whole command timeout: one is enough to show it.
        const times = mode === 'timeout' ? 1 : 3;
        if (s.fake) await s.fake.fault(s.label.startsWith('SGE') ? 'qstat' : 'squeue', mode, times);
        if (s.service) {
          if (mode === 'timeout') s.service.options.delayMs = { results: 5000 };
          else s.service.options.resultsErrorTimes = 1000;
        }
        for (let i = 0; i < times; i++) {
          const status = await statusOf(s.runner, run);
          assert.ok(status.state === 'unknown' || status.state === 'running', `${mode}: ${JSON.stringify(status)}`);
          if (s.fake && mode !== 'empty') assert.equal(status.state, 'unknown');
        }
        if (s.service) {
          // The server reads this very object: clear the faults in place.
          delete s.service.options.delayMs;
          delete s.service.options.resultsErrorTimes;
        }
        const status = await ended(s.runner, run);
        assert.equal(status.state, 'finished', JSON.stringify(status));
      },
    );
  }

  check('4. a run gone from the queue without DONE or accounting is not finished', needsFake, async (s) => {
    const run = await started(s, 'lost', 'echo STARTED > job-state; sleep 30');
    await running(s.runner, run);
    await s.fake!.lose(run.id);
    for (let i = 0; i < 3; i++) {
      const status = await statusOf(s.runner, run);
      assert.equal(status.state, 'unknown', JSON.stringify(status));
    }
  });

  check('4b. a run requeued under the same id is followed, not failed', needsFake, async (s) => {
    const run = await started(s, 'requeued', 'true');
    await s.fake!.requeue(run.id, { held: true });
    for (let i = 0; i < 3; i++) assert.equal((await statusOf(s.runner, run)).state, 'running');
    await s.fake!.release(run.id);
    assert.equal((await ended(s.runner, run)).state, 'finished');
    assert.equal(await readJobStateFile(run.directory), 'DONE');
  });

  check('5. a run that succeeds is finished, DONE, with no detail', always, async (s) => {
    const run = await started(s, 'ok', 'echo hi > out.txt');
    const status = await ended(s.runner, run);
    assert.equal(status.state, 'finished', JSON.stringify(status));
    assert.equal((status as { detail?: string }).detail, undefined);
    assert.equal(await readJobStateFile(run.directory), 'DONE');
  });

  check(
    '5b. a run that exits 3 says so',
    (x) => (x.runsShell ? undefined : 'runs no shell of ours'),
    async (s) => {
      // No DONE: the exit ends the script before its last line.
      const run = await started(s, 'exit3', 'exit 3');
      const status = await ended(s.runner, run);
      // The local runner's wrapper writes DONE after any exit and reports the code as a failure.
      if (status.state === 'failed') assert.match(status.reason, /status 3/);
      else {
        assert.equal(status.state, 'finished');
        assert.match(status.detail ?? '', /exit status 3/);
        assert.equal(status.endings?.[0]?.exitCode, 3);
        assert.notEqual(await readJobStateFile(run.directory), 'DONE');
      }
    },
  );

  check(
    '5c. an array run with a failing task names the task',
    (x) => (x.arrays ? undefined : 'no arrays'),
    async (s) => {
      // Both tasks share job-state: the failing one writes it last, so the run has no DONE.
      const task = taskVariable(s);
      const shell = `if [ "$${task}" = 2 ]; then sleep 1; echo STARTED > job-state; exit 1; fi`;
      const run = await started(s, 'array', shell, { array: true });
      const status = await ended(s.runner, run);
      assert.equal(status.state, 'finished');
      assert.match(status.detail ?? '', s.label.startsWith('SGE') ? /task 2: exit status 1/ : /ExitCode=1:0/);
      assert.equal(status.endings?.length, 2);
    },
  );

  check('6. cancel of an ended run is a no-op', always, async (s) => {
    const run = await started(s, 'cancel-ended', 'true');
    const status = await ended(s.runner, run);
    await s.runner.cancel(run);
    await s.runner.cancel(run);
    assert.equal((await statusOf(s.runner, run)).state, status.state);
  });

  check(
    '6b. cancel of a running run ends it, without DONE',
    (x) => x.noCancel,
    async (s) => {
      const run = await started(s, 'cancel-running', 'echo STARTED > job-state; sleep 60');
      await running(s.runner, run);
      await s.runner.cancel(run);
      const status = await ended(s.runner, run);
      assert.notEqual(await readJobStateFile(run.directory), 'DONE');
      if (status.state === 'finished') assert.ok(status.detail, 'the ending says why');
    },
  );
}

describe('conformance: SGE on the fake scheduler', () =>
  conformance(async () => {
    const fake = await createFakeScheduler();
    const runner = createSgeRunner(
      { ...fake.sgeSection, pollSeconds: 0.1, unknownGraceSeconds: 600 },
      { commandTimeoutMs: 2000 },
    );
    return { ...clusterSubject('sge', 'SGE (fake)', runner as RunnerBackend, fake), cleanup: () => fake.cleanup() };
  }));

describe('conformance: SLURM on the fake scheduler', () =>
  conformance(async () => {
    const fake = await createFakeScheduler();
    const runner = createSlurmRunner(
      { ...fake.slurmSection, pollSeconds: 0.1, unknownGraceSeconds: 600 },
      { commandTimeoutMs: 2000 },
    );
    return { ...clusterSubject('slurm', 'SLURM (fake)', runner as RunnerBackend, fake), cleanup: () => fake.cleanup() };
  }));

describe('conformance: local', () =>
  conformance(async () => ({
    label: 'local',
    runner: createLocalRunner({ pollIntervalMs: 100 }) as RunnerBackend,
    spec: (shell) => localCommand(['/bin/sh', '-c', shell]),
    runsShell: true,
    arrays: false,
    cleanup: async () => undefined,
  })));

describe('conformance: do-nothing', () =>
  conformance(async () => ({
    label: 'do-nothing',
    runner: createDoNothingRunner() as RunnerBackend,
    spec: () => doNothing(),
    runsShell: false,
    arrays: false,
    noCancel: 'its runs have ended when submit returns',
    cleanup: async () => undefined,
  })));

describe('conformance: web service', () =>
  conformance(async () => {
    const service = await startFakeSaliwebService({ notReadyTimes: 1 });
    return {
      label: 'web service',
      runner: createWebServiceRunner({ initialBackoffMs: 1, maxBackoffMs: 1, requestTimeoutMs: 1000 }) as RunnerBackend,
      spec: () => webService(service.jobUrl, { input: 'x' }),
      runsShell: false,
      arrays: false,
      noCancel: "saliweb's REST interface has no cancel: the runner stops asking instead",
      service,
      cleanup: () => service.close(),
    };
  }));

for (const kind of ['sge', 'slurm'] as const) {
  const cluster = await clusterUnderTest(kind, 0.2);
  describe(`conformance: real ${kind.toUpperCase()}`, () =>
    conformance(async () => {
      const { section, env } = cluster;
      const runner =
        kind === 'sge'
          ? createSgeRunner({
              qsub: section.qsub!,
              qstat: section.qstat!,
              qacct: section.qacct!,
              qdel: section.qdel!,
              ...(env.SGE_ROOT ? { sgeRoot: env.SGE_ROOT } : {}),
              ...(env.SGE_CELL ? { sgeCell: env.SGE_CELL } : {}),
              pollSeconds: 0.2,
              unknownGraceSeconds: 600,
            })
          : createSlurmRunner({
              sbatch: section.sbatch!,
              squeue: section.squeue!,
              scontrol: section.scontrol!,
              scancel: section.scancel!,
              ...(section.jobcomp ? { jobcomp: section.jobcomp } : {}),
              pollSeconds: 0.2,
              unknownGraceSeconds: 600,
            });
      return {
        ...clusterSubject(kind, `${kind.toUpperCase()} (real)`, runner as RunnerBackend),
        cleanup: async () => undefined,
      };
    }, cluster.skip));
}

after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});
