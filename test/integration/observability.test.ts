/**
 * What an operator watches, from a real `saliflow worker` process: its
 * Prometheus endpoint scraped over HTTP while real jobs run (completed,
 * failed by a step, failed by their run, cancelled), and its stdout read as
 * JSON lines with each job's context.
 */
import { after, before, test } from 'node:test';
import fs from 'node:fs/promises';
import path from 'node:path';
import assert from 'node:assert/strict';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { submitJob } from '../../client/submit.js';
import { CANCEL_SIGNAL } from '../../core/job-workflow-contract.js';
import { SALIFLOW_METRICS } from '../../engine/job-metrics.js';
import { MAX_FIELD_CHARS, MAX_MESSAGE_CHARS } from '../../worker/logger.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { jobRow } from '../support/jobs.js';
import { until } from '../support/until.js';
import { freePort, spawnWorkerProcess, WORKER_READY } from '../support/processes.js';
import { clusterUnderTest } from '../support/clusters.js';
import { execa } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { familyNames, scrape, total } from '../support/prometheus.js';
import { dashboardQueries, metricNames } from '../support/dashboard.js';
import { FRAMEWORK_LOG } from '../../engine/job-logger.js';
import { LONG_TEXT } from '../support/services/observed-job.js';

const MODES = { ok1: 'ok', ok2: 'ok', throws: 'step-throws', runfails: 'run-fails', slow: 'slow' } as const;
type JobKey = keyof typeof MODES;

let fixture: ServiceFixture;
let client: Client;
let closeClient: () => Promise<void>;
before(async () => {
  fixture = await createServiceFixture({ sections: { logging: { level: 'debug' } } });
  ({ client, close: closeClient } = await temporalClient());
});
after(async () => {
  await deleteSchedules(client, fixture.config).catch(() => undefined);
  await closeClient();
  await fixture.cleanup();
});

async function settled(workflowId: string): Promise<void> {
  await client.workflow
    .getHandle(workflowId)
    .result()
    .catch((error: unknown) => {
      if (!(error instanceof WorkflowFailedError)) throw error;
    });
}

/** A `saliflow worker` process for the fixture, with metrics on a free port; resolves once it polls. */
async function startWorker(serviceFixture: ServiceFixture, env: Record<string, string> = {}) {
  const address = `127.0.0.1:${await freePort()}`;
  const worker = spawnWorkerProcess(
    serviceFixture.configFile,
    'observed-job',
    { ...env, SALIFLOW_METRICS_ADDRESS: address },
    { asSaliflowWorker: true },
  );
  const output = { stdout: '', stderr: '' };
  worker.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  worker.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  await until('the worker to start', async () => {
    if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output.stdout}\n${output.stderr}`);
    return WORKER_READY.test(output.stdout) ? true : undefined;
  });
  return { address, worker, output };
}

test(
  'a real worker exports metrics that move as jobs run, and logs JSON lines with job context',
  { timeout: 240_000 },
  async () => {
    const { address, worker, output } = await startWorker(fixture);
    const service = fixture.config.general.serviceName;
    try {
      // The jobs-by-state gauge is set within a few seconds of the start, every state (0 while none).
      const before = await until('the jobs gauge', async () => {
        const samples = await scrape(address);
        return samples.some((sample) => sample.name === 'saliflow_jobs') ? samples : undefined;
      });
      assert.equal(total(before, 'saliflow_jobs', { service, state: 'COMPLETED' }), 0);
      assert.equal(total(before, 'saliflow_job_failures', { service, cause: 'step_exception' }), 0);

      const jobs = {} as Record<JobKey, { name: string; workflowId: string }>;
      for (const [key, mode] of Object.entries(MODES) as [JobKey, string][]) {
        jobs[key] = await submitJob({
          config: fixture.config,
          db: fixture.frontendDb,
          client,
          name: key,
          files: { 'mode.txt': mode },
        });
      }
      for (const key of ['ok1', 'ok2', 'throws', 'runfails'] as const) await settled(jobs[key].workflowId);
      assert.equal((await jobRow(fixture.db, jobs.ok1.name)).state, 'COMPLETED');
      assert.equal((await jobRow(fixture.db, jobs.throws.name)).state, 'FAILED');
      assert.equal((await jobRow(fixture.db, jobs.runfails.name)).state, 'FAILED');

      // The slow job shows RUNNING in the gauge, then is cancelled.
      await until('the slow job counted as RUNNING', async () =>
        total(await scrape(address), 'saliflow_jobs', { service, state: 'RUNNING' }) === 1 ? true : undefined,
      );
      await client.workflow.getHandle(jobs.slow.workflowId).signal(CANCEL_SIGNAL, 'stopped by the metrics test');
      await settled(jobs.slow.workflowId);

      const samples = await until('the gauge to show the finished jobs', async () => {
        const scraped = await scrape(address);
        const done = total(scraped, 'saliflow_jobs', { service, state: 'COMPLETED' }) === 2;
        return done && total(scraped, 'saliflow_jobs', { service, state: 'FAILED' }) === 3 ? scraped : undefined;
      });
      const count = (name: string, labels: Record<string, string> = {}) => total(samples, name, { service, ...labels });
      assert.equal(count('saliflow_jobs', { state: 'RUNNING' }), 0);
      assert.equal(count('saliflow_jobs', { state: 'INCOMING' }), 0);

      // State changes: each counted once, by the state entered.
      assert.equal(count('saliflow_job_state_entered', { state: 'PREPROCESSING' }), 5);
      assert.equal(count('saliflow_job_state_entered', { state: 'RUNNING' }), 4);
      assert.equal(count('saliflow_job_state_entered', { state: 'POSTPROCESSING' }), 2);
      assert.equal(count('saliflow_job_state_entered', { state: 'COMPLETED' }), 2);
      assert.equal(count('saliflow_job_state_entered', { state: 'FAILED' }), 3);
      // Failures by cause.
      assert.equal(count('saliflow_job_failures', { cause: 'step_exception' }), 1);
      assert.equal(count('saliflow_job_failures', { cause: 'run_failed' }), 1);
      assert.equal(count('saliflow_job_failures', { cause: 'cancelled' }), 1);
      assert.equal(count('saliflow_job_failures', { cause: 'run_died' }), 0);
      // Histograms: admission wait for every job; time in RUNNING for every run that ended (ok runs sleep 1 s).
      assert.equal(count('saliflow_admission_wait_seconds_count'), 5);
      assert.equal(count('saliflow_job_state_seconds_count', { state: 'INCOMING' }), 5);
      assert.equal(count('saliflow_job_state_seconds_count', { state: 'RUNNING' }), 4);
      assert.ok(count('saliflow_job_state_seconds_sum', { state: 'RUNNING' }) >= 2, 'two runs of at least 1 s each');
      assert.equal(count('saliflow_job_state_seconds_bucket', { state: 'RUNNING', le: '+Inf' }), 4);
      // Runs and status queries (one per poll for every waiting local run).
      assert.equal(count('saliflow_runs_submitted', { runner: 'local' }), 4);
      const queries = count('saliflow_status_queries', { runner: 'local', outcome: 'ok' });
      assert.ok(queries >= 1, `status queries made: ${queries}`);
      assert.equal(count('saliflow_status_query_seconds_count', { runner: 'local' }), queries);
      // The SDK's own metrics on the same endpoint.
      assert.ok(
        samples.some((sample) => sample.name.startsWith('temporal_')),
        'temporal_* metrics exported',
      );

      // Every saliflow metric the code defines is exported, with the service label on every sample.
      const exported = familyNames(samples);
      for (const metric of SALIFLOW_METRICS) assert.ok(exported.has(metric.name), `${metric.name} is exported`);
      // saliflow_build_info is one series per process, whatever services it hosts: it has no service label.
      for (const sample of samples.filter((s) => s.name.startsWith('saliflow_') && s.name !== 'saliflow_build_info')) {
        assert.equal(sample.labels.service, service, `${sample.name} carries the service label`);
      }
      // Every metric the Grafana dashboard plots is in the scrape.
      for (const { panel, expr } of dashboardQueries()) {
        for (const name of metricNames(expr))
          assert.ok(exported.has(name), `panel "${panel}" plots ${name}, not exported`);
      }
      assertLogs(output.stdout, service, jobs);
      // job.log lines stay whole in the job's framework.log.
      const frameworkLog = await fs.readFile(
        path.join(fixture.config.directories.COMPLETED, jobs.ok1.name, FRAMEWORK_LOG),
        'utf8',
      );
      assert.match(frameworkLog, /INFO preprocess saw mode ok\n/);
      assert.ok(frameworkLog.includes(`WARNING a long line: ${LONG_TEXT}\n`), 'the long line, whole');
    } finally {
      worker.kill('SIGTERM');
      await worker;
    }
  },
);

type LogLine = Record<string, unknown> & { msg: string };

function assertLogs(stdout: string, service: string, jobs: Record<JobKey, { name: string }>): void {
  const lines: LogLine[] = stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      assert.ok(line.length < MAX_MESSAGE_CHARS + 10 * MAX_FIELD_CHARS, `a bounded line: ${line.slice(0, 200)}…`);
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`a worker stdout line is not JSON: ${line}`);
      }
    });
  for (const line of lines) {
    assert.equal(line.service, service, `every line names the service: ${JSON.stringify(line)}`);
    assert.equal(typeof line.time, 'string');
    assert.equal(typeof line.level, 'number');
  }
  const about = (job: string) => lines.filter((line) => line.job === job);
  const find = (job: string, predicate: (line: LogLine) => boolean, what: string) => {
    const line = about(job).find(predicate);
    assert.ok(
      line,
      `a log line for ${job}: ${what}; its lines:\n${about(job)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    );
    return line;
  };

  // job.log goes to the worker log with the job's context (and stays whole in framework.log).
  const saw = find(jobs.ok1.name, (line) => line.msg === 'preprocess saw mode ok', 'its job.log line');
  assert.deepEqual(
    { state: saw.state, step: saw.step, activity: saw.activity, attempt: saw.attempt, source: saw.source },
    { state: 'PREPROCESSING', step: 'preprocess', activity: 'runStep', attempt: 1, source: 'job.log' },
  );
  const long = find(jobs.ok1.name, (line) => line.msg.startsWith('a long line: '), 'its long job.log line');
  assert.ok(long.msg.length <= MAX_MESSAGE_CHARS + 40, `cut to a bound: ${long.msg.length} characters`);
  assert.match(long.msg, /… \(\d+ more characters\)$/);

  // The run, the completion and each failure, with state and activity.
  const submitted = find(jobs.ok1.name, (line) => line.msg.startsWith('run submitted: local:'), 'run submitted');
  assert.equal(submitted.state, 'RUNNING');
  assert.equal(submitted.activity, 'advanceJob');
  assert.equal(find(jobs.ok2.name, (line) => line.msg === 'job completed', 'completed').state, 'COMPLETED');
  const threw = find(jobs.throws.name, (line) => line.msg.startsWith('job failed: ServiceStepError'), 'failed');
  assert.equal(threw.state, 'FAILED');
  assert.equal(threw.activity, 'failJob');
  assert.ok(threw.msg.length <= MAX_MESSAGE_CHARS + 40, 'the failure text is cut');
  find(jobs.runfails.name, (line) => line.msg.startsWith('job failed: RunFailedError'), 'run failed');
  find(jobs.slow.name, (line) => line.msg.startsWith('job failed: JobCancelledError'), 'cancelled');
  // A workflow's own log line (through the SDK's sink), with the job from its workflow ID.
  const cancel = find(jobs.slow.name, (line) => line.msg.startsWith('cancel requested:'), 'the workflow log line');
  assert.deepEqual([cancel.component, cancel.workflow, cancel.state], ['workflow', 'jobWorkflow', 'RUNNING']);
  assert.equal(about(jobs.slow.name).filter((line) => line.msg.startsWith('cancel requested:')).length, 1);
  // At level debug (from [logging] level), every state change.
  find(jobs.ok1.name, (line) => line.msg === 'job entered POSTPROCESSING' && line.level === 20, 'debug transition');
  // The SDK's own lines about a job's activities carry it too.
  assert.ok(
    about(jobs.ok1.name).some((line) => line.component === 'activity' || line.component === 'worker'),
    'SDK lines about the job',
  );
  assert.ok(lines.some((line) => line.msg.startsWith('saliflow worker for ')));
}

test(
  'cluster runs are counted per runner, and each qstat or squeue poll is counted and timed',
  { timeout: 240_000 },
  async (t) => {
    const clusters = await Promise.all([clusterUnderTest('sge'), clusterUnderTest('slurm')]);
    const up = clusters.filter((cluster) => !cluster.skip);
    if (up.length === 0) return t.skip(clusters.map((cluster) => cluster.skip).join('; '));
    const clusterFixture = await createServiceFixture({
      sections: Object.fromEntries(up.map((cluster) => [cluster.kind, cluster.section])),
    });
    const { address, worker } = await startWorker(clusterFixture);
    try {
      const submitted = await Promise.all(
        up.map((cluster) =>
          submitJob({
            config: clusterFixture.config,
            db: clusterFixture.frontendDb,
            client,
            name: `on-${cluster.kind}`,
            files: { 'mode.txt': cluster.kind },
          }),
        ),
      );
      for (const job of submitted) await settled(job.workflowId);
      for (const job of submitted) assert.equal((await jobRow(clusterFixture.db, job.name)).state, 'COMPLETED');
      const service = clusterFixture.config.general.serviceName;
      const samples = await scrape(address);
      for (const { kind } of up) {
        assert.equal(total(samples, 'saliflow_runs_submitted', { service, runner: kind }), 1, `one ${kind} run`);
        const polls = total(samples, 'saliflow_status_queries', { service, runner: kind });
        assert.ok(polls >= 1, `${kind} polled: ${polls}`);
        assert.equal(total(samples, 'saliflow_status_query_seconds_count', { service, runner: kind }), polls);
        assert.ok(total(samples, 'saliflow_status_query_seconds_sum', { service, runner: kind }) > 0, 'and timed');
      }
    } finally {
      worker.kill('SIGTERM');
      await worker;
      await deleteSchedules(client, clusterFixture.config).catch(() => undefined);
      await clusterFixture.cleanup();
    }
  },
);

test('on a terminal the worker writes readable lines, not JSON', { timeout: 120_000 }, async () => {
  // script(1) gives the worker a pseudo-terminal for stdout, as an operator running it by hand has.
  const command = [
    'node --import tsx test/support/worker-process.ts',
    fixture.configFile,
    path.join(REPO_ROOT, 'test/support/services/observed-job.ts'),
    '--as-saliflow-worker',
  ].join(' ');
  const worker = execa('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, reject: false });
  let output = '';
  worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const ready = await until('the worker to say it is ready', async () => {
      if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
      return /^.*saliflow worker for .*$/m.exec(output)?.[0];
    });
    assert.match(ready.trim(), /^\d\d:\d\d:\d\d\.\d{3} INFO {2}saliflow worker for /);
    assert.ok(!output.includes('{"level"'), `no JSON on a terminal:\n${output}`);
  } finally {
    worker.kill('SIGTERM');
    await worker;
  }
});
