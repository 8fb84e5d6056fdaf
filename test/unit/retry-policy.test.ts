/**
 * The retry policy by run cause (core/retry-policy.ts) and the scheduler
 * options a retry's resources become (sge-commands.ts, slurm-commands.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideRetry,
  describeRetries,
  parseDuration,
  parseMemory,
  retryPolicyProblem,
  type RetryOn,
  type RetryState,
} from '../../core/retry-policy.js';
import { sgeOptionsWithResources } from '../../engine/runners/sge-commands.js';
import { slurmDuration, slurmOptionsWithResources } from '../../engine/runners/slurm-commands.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const policy: RetryOn = {
  memory_exceeded: { attempts: 3, factor: 2, cap: '16G' },
  walltime_exceeded: { attempts: 2, cap: '4:00:00' },
  node_failure: { attempts: 2 },
};

test('sizes and durations are read as the schedulers write them', () => {
  assert.equal(parseMemory('16G'), 16 * GiB);
  assert.equal(parseMemory('512M'), 512 * MiB);
  assert.equal(parseMemory('1.5GB'), 1.5 * GiB);
  assert.equal(parseMemory(1000), 1000);
  assert.equal(parseMemory('lots'), undefined);
  assert.equal(parseMemory('0G'), undefined);
  assert.equal(parseDuration('4:00:00'), 4 * 3600);
  assert.equal(parseDuration('1-00:00:00'), 86400);
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration(30), 30);
  assert.equal(parseDuration('soon'), undefined);
});

test('a bad retryOn is refused with the key and value it got wrong', () => {
  assert.equal(retryPolicyProblem(policy, 4), undefined);
  assert.equal(retryPolicyProblem(undefined), undefined);
  assert.match(retryPolicyProblem([]) ?? '', /^retryOn must be an object of causes/);
  assert.match(
    retryPolicyProblem({ memory_exceded: { attempts: 1 } }) ?? '',
    /retryOn\.memory_exceded: "memory_exceded" is not a run cause; use one of memory_exceeded/,
  );
  assert.match(
    retryPolicyProblem({ succeeded: { attempts: 1 } }) ?? '',
    /retryOn\.succeeded: succeeded is never retried/,
  );
  assert.match(
    retryPolicyProblem({ node_failure: { attempts: 0 } }) ?? '',
    /retryOn\.node_failure\.attempts must be a whole number ≥ 1, not 0/,
  );
  assert.match(
    retryPolicyProblem({ node_failure: { attempts: 1, factor: 2 } }) ?? '',
    /factor and cap apply only to memory_exceeded and walltime_exceeded/,
  );
  assert.match(
    retryPolicyProblem({ memory_exceeded: { attempts: 1, cap: '16 gigs' } }) ?? '',
    /retryOn\.memory_exceeded\.cap "16 gigs" is not a memory size; write e\.g\. '16G'/,
  );
  assert.match(
    retryPolicyProblem({ walltime_exceeded: { attempts: 1, cap: '16G' } }) ?? '',
    /retryOn\.walltime_exceeded\.cap "16G" is not a duration/,
  );
  assert.match(
    retryPolicyProblem({ memory_exceeded: { attempts: 1, factor: 1 } }) ?? '',
    /factor must be a number > 1, not 1/,
  );
  assert.match(
    retryPolicyProblem({ memory_exceeded: { attempts: 1, tries: 2 } }) ?? '',
    /retryOn\.memory_exceeded\.tries is not a retry setting/,
  );
  assert.match(
    retryPolicyProblem({ exit_code: { attempts: 1, codes: [0] } }) ?? '',
    /codes must be an array of exit codes 1–255, not \[0\]/,
  );
  assert.match(retryPolicyProblem(policy, -1) ?? '', /maxRetries must be a whole number ≥ 0, not -1/);
});

test('memory doubles from the limit up to the cap, and stops there or when its attempts are used', () => {
  let state: RetryState | undefined;
  const sizes: number[] = [];
  let memory = 2 * GiB;
  for (;;) {
    const decision = decideRetry(
      policy,
      undefined,
      { cause: 'memory_exceeded', resources: { memoryBytes: memory } },
      state,
    );
    if (!decision.retry) {
      assert.match(decision.why, /its 3 retries on memory_exceeded are used/);
      break;
    }
    state = decision.state;
    memory = decision.state.resources!.memoryBytes!;
    sizes.push(memory / GiB);
  }
  assert.deepEqual(sizes, [4, 8, 16]);
  assert.equal(describeRetries(state, policy), 'retries: memory_exceeded 3/3 (last run with memory 16 GiB)');
  // At the cap already: no retry that asks for the same again.
  const capped = decideRetry(policy, undefined, { cause: 'memory_exceeded', resources: { memoryBytes: 16 * GiB } });
  assert.deepEqual(capped.retry ? undefined : capped.why, 'memory 16 GiB is already at its cap (16G)');
  // Over the cap on the way: the cap, not twice.
  const near = decideRetry(policy, undefined, { cause: 'memory_exceeded', resources: { memoryBytes: 12 * GiB } });
  assert.equal(near.retry && near.state.resources?.memoryBytes, 16 * GiB);
});

test('the observed peak sizes the retry when it is above the limit; nothing known is no retry', () => {
  const fromPeak = decideRetry(policy, undefined, {
    cause: 'memory_exceeded',
    peakMemoryBytes: 3 * GiB,
    resources: { memoryBytes: 2 * GiB },
  });
  assert.equal(fromPeak.retry && fromPeak.state.resources?.memoryBytes, 6 * GiB);
  const unknown = decideRetry(policy, undefined, { cause: 'memory_exceeded', resources: {} });
  assert.match(unknown.retry ? '' : unknown.why, /neither the memory limit of the run nor its peak is known/);
  const walltime = decideRetry(policy, undefined, {
    cause: 'walltime_exceeded',
    wallclockSeconds: 61,
    resources: { wallclockSeconds: 60 },
  });
  assert.equal(walltime.retry && walltime.state.resources?.wallclockSeconds, 122);
  assert.equal(walltime.retry && walltime.change, 'walltime 122 s (was 60 s)');
});

test('never on an exit code unless declared; per-cause and per-job budgets; node failure reruns as is', () => {
  const exit = decideRetry(policy, undefined, { cause: 'exit_code', exitCode: 3, resources: {} });
  assert.deepEqual(exit, { retry: false, why: 'the service declares no retry on exit_code' });
  const only75: RetryOn = { exit_code: { attempts: 1, codes: [75] } };
  assert.equal(decideRetry(only75, undefined, { cause: 'exit_code', exitCode: 3, resources: {} }).retry, false);
  assert.equal(decideRetry(only75, undefined, { cause: 'exit_code', exitCode: 75, resources: {} }).retry, true);
  assert.equal(decideRetry(policy, undefined, { cause: 'vanished', resources: {} }).retry, false);
  const node = decideRetry(policy, undefined, { cause: 'node_failure', resources: { memoryBytes: GiB } });
  assert.ok(node.retry);
  assert.equal(node.change, 'as is');
  assert.equal(node.state.resources, undefined, 'a plain retry changes no resource');
  const spent: RetryState = { byCause: { memory_exceeded: 1 }, total: 1 };
  const budget = decideRetry(policy, 1, { cause: 'node_failure', resources: {} }, spent);
  assert.deepEqual(budget, { retry: false, why: "the job's 1 retries (maxRetries) are used" });
});

test('SGE options get the new h_rt and h_vmem (or mem_free), replacing the service’s own', () => {
  assert.equal(sgeOptionsWithResources('', { wallclockSeconds: 120 }), '-l h_rt=120');
  assert.equal(
    sgeOptionsWithResources('-l h_rt=60,h_vmem=1G -t 1-4', { wallclockSeconds: 120, memoryBytes: 2 * GiB }),
    '-l h_rt=120,h_vmem=2048M -t 1-4',
  );
  assert.equal(sgeOptionsWithResources('-l mem_free=1G', { memoryBytes: 2 * GiB }), '-l mem_free=2048M');
  assert.equal(
    sgeOptionsWithResources('-N "my job" -l arch=lx-amd64', { memoryBytes: 1.5 * GiB, wallclockSeconds: 30.2 }),
    '-N "my job" -l arch=lx-amd64 -l h_rt=31,h_vmem=1536M',
  );
});

test('SLURM options get the new --time and --mem, replacing the service’s own', () => {
  assert.equal(slurmDuration(61), '00:01:01');
  assert.equal(slurmDuration(90061), '1-01:01:01');
  assert.equal(
    slurmOptionsWithResources('', { wallclockSeconds: 120, memoryBytes: GiB }),
    '--time=00:02:00 --mem=1024M',
  );
  assert.equal(
    slurmOptionsWithResources('--time=1:00 --mem 500M -a 1-3', { wallclockSeconds: 120, memoryBytes: GiB }),
    '--time=00:02:00 --mem 1024M -a 1-3',
  );
  assert.equal(
    slurmOptionsWithResources('-t 5 --mem-per-cpu=1G', { wallclockSeconds: 600, memoryBytes: 2 * GiB }),
    '-t 00:10:00 --mem-per-cpu=2048M',
  );
});
