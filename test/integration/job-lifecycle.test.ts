/**
 * Every transition and every step failing, on a real Temporal server, real
 * MySQL and a real SMTP server (SALIWEB.md "States and transitions").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, doNothing, localCommand, type Service } from '../../core/index.js';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { resubmitJob } from '../../client/admin.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';
import { readCompletionRecord } from '../../engine/completion-record.js';
import type { SmtpSink } from '../support/smtp-sink.js';
import type { Client } from '@temporalio/client';

let fixture: ServiceFixture;
let smtp: SmtpSink;

before(async () => {
  fixture = await createServiceFixture({
    columns: [
      { name: 'num_inputs', type: 'INTEGER' },
      { name: 'note', type: 'VARCHAR(100)', nullable: true, default: 'none', index: true },
    ],
  });
  smtp = fixture.smtp;
});
after(async () => {
  await fixture.cleanup();
});

async function submit(
  client: Client,
  name: string,
  extra: Partial<Parameters<typeof submitJob>[0]> = {},
): Promise<SubmittedJob> {
  return submitJob({
    config: fixture.config,
    db: fixture.frontendDb,
    client,
    name,
    files: { 'in.txt': 'x\n' },
    ...extra,
  });
}

const dirOf = (state: 'completed' | 'failed' | 'running' | 'incoming', job: string) =>
  path.join(fixture.root, state, job);

describe('the happy paths', () => {
  test('skip-run: PREPROCESSING → COMPLETED without a run', async () => {
    let ran = false;
    const service = defineService({
      preprocess: () => ({ skipRun: true }),
      run: () => {
        ran = true;
        return doNothing();
      },
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'skip');
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.state, 'COMPLETED');
      assert.equal(row.run_time, null);
      assert.equal(row.postprocess_time, null);
      assert.ok(row.preprocess_time && row.end_time);
      assert.equal(row.directory, dirOf('completed', job.name));
      assert.equal(ran, false);
    });
  });

  test('reschedule: three run cycles, data passed to rerun each time', async () => {
    const seen: unknown[] = [];
    const service = defineService({
      run: () => localCommand(['sh', '-c', 'echo run >> runs.txt']),
      rerun: (_job, data) => {
        seen.push(data);
        return localCommand(['sh', '-c', 'echo rerun >> runs.txt']);
      },
      async postprocess(job) {
        const runs = (await fs.readFile(job.path('runs.txt'), 'utf8')).trim().split('\n');
        return runs.length < 3 ? { reschedule: { data: { cycle: runs.length } } } : {};
      },
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'resched');
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      const runs = await fs.readFile(path.join(dirOf('completed', job.name), 'runs.txt'), 'utf8');
      assert.equal(runs, 'run\nrerun\nrerun\n');
      assert.deepEqual(seen, [{ cycle: 1 }, { cycle: 2 }]);
      assert.match((await jobRow(fixture.db, job.name)).runner_id ?? '', /^local:3-\d+@\S+$/);
    });
  });

  test('reschedule keeps the first run_time (saliweb sets it once, when the job first runs)', async () => {
    let firstRunTime: number | undefined;
    const service = defineService({
      run: () => doNothing(),
      async postprocess(job) {
        if (job.cycle > 1) return {};
        firstRunTime = (await jobRow(fixture.db, job.name)).run_time!.getTime();
        // The database's clock leaves that second before the job runs again, so a reset run_time would differ.
        await until('the database clock past run_time', async () => {
          const [[row]] = (await fixture.db.query('SELECT UTC_TIMESTAMP() AS now')) as unknown as [[{ now: Date }]];
          return row.now.getTime() > firstRunTime! ? true : undefined;
        });
        return { reschedule: {} };
      },
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'runtime');
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      const row = await jobRow(fixture.db, job.name);
      assert.ok(firstRunTime !== undefined);
      assert.equal(row.run_time!.getTime(), firstRunTime);
      assert.ok(row.postprocess_time!.getTime() > firstRunTime, 'the second cycle ran later');
    });
  });

  test('metadata columns, framework.log and the completion e-mail', async () => {
    const service = defineService({
      async preprocess(job) {
        job.metadata.num_inputs = (await fs.readdir(job.directory)).length;
        job.log.info('counted the inputs');
      },
      run: () => localCommand('echo "$PWD" > where.txt'),
      postprocess(job) {
        job.metadata.note = `saw ${String(job.metadata.num_inputs)}`;
        job.log.warn('a warning');
      },
    });
    await withWorker(fixture, service, async ({ client }) => {
      const before = smtp.messages.length;
      const job = await submit(client, 'meta', { contactEmail: 'user@test.example.org', user: 'bob' });
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.num_inputs, 1);
      assert.equal(row.note, 'saw 1');
      const dir = dirOf('completed', job.name);
      const log = await fs.readFile(path.join(dir, 'framework.log'), 'utf8');
      assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO counted the inputs\n.* WARNING a warning\n$/);
      // The command ran in the job directory (then RUNNING's directory).
      assert.equal((await fs.readFile(path.join(dir, 'where.txt'), 'utf8')).trim(), dirOf('running', job.name));
      const [mail] = (await smtp.waitFor(before + 1)).slice(before);
      assert.deepEqual(mail!.to, ['user@test.example.org']);
      assert.match(mail!.subject, new RegExp(`Job ${job.name} complete`));
      assert.ok(mail!.text.includes(job.url), 'the e-mail gives the results URL');
    });
  });

  test('a later step sees the metadata an earlier step wrote in the same workflow task', async () => {
    // doNothing and a quick local command both take preprocess → postprocess in one advance.
    for (const run of [() => doNothing(), () => localCommand(['true'])]) {
      const service = defineService({
        preprocess(job) {
          job.metadata.num_inputs = 7;
        },
        run,
        postprocess(job) {
          job.metadata.note = `saw ${String(job.metadata.num_inputs)}`;
        },
      });
      await withWorker(fixture, service, async ({ client }) => {
        const job = await submit(client, 'samecall');
        assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
        assert.equal((await jobRow(fixture.db, job.name)).note, 'saw 7');
      });
    }
  });

  test('a long run is waited for by the run watcher: no activity while it runs, its end arrives as a signal', async () => {
    const service = defineService({
      run: () => localCommand('while [ ! -e go ]; do sleep 0.1; done'),
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'watched');
      const handle = client.workflow.getHandle(job.workflowId);
      await until('the job to wait for its run', async () => {
        const status = await handle.query<{ state: string }>('jobStatus');
        return status.state === 'RUNNING' ? true : undefined;
      });
      const described = await handle.describe();
      assert.equal(described.raw.pendingActivities?.length ?? 0, 0, 'nothing but a condition waits for the run');
      await fs.writeFile(path.join(dirOf('running', job.name), 'go'), '');
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      const history = await handle.fetchHistory();
      const signals = (history.events ?? []).filter(
        (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'runEnded',
      );
      assert.equal(signals.length, 1, 'one worker told the workflow, once');
    });
  });

  test('no completion e-mail without a contact address', async () => {
    await withWorker(fixture, defineService({ run: () => doNothing() }), async ({ client }) => {
      const before = smtp.messages.length;
      const job = await submit(client, 'quiet');
      assert.equal((await workflowOutcome(client, job.workflowId)).result, 'COMPLETED');
      // The e-mail step ran before the workflow ended, and a sent message is in the sink before SMTP accepts it.
      const { directory } = await jobRow(fixture.db, job.name);
      assert.equal((await readCompletionRecord(directory!))?.emailDone, true, 'the e-mail step has run');
      assert.equal(smtp.messages.length, before);
    });
  });
});

describe('each step failing moves the job to FAILED and tells the admin', () => {
  const boom = (step: string) => () => {
    throw new Error(`${step} exploded`);
  };
  const cases: { step: string; service: Service; pattern: RegExp }[] = [
    {
      step: 'preprocess',
      service: { preprocess: boom('preprocess'), run: () => doNothing() },
      pattern: /preprocess of job \S+ failed: preprocess exploded/,
    },
    { step: 'run', service: { run: boom('run') }, pattern: /run of job \S+ failed: run exploded/ },
    {
      step: 'runner',
      service: { run: () => localCommand(['sh', '-c', 'exit 7']) },
      pattern: /RunFailedError: .*"sh" "-c" "exit 7" exited with status 7/,
    },
    {
      step: 'postprocess',
      service: { run: () => doNothing(), postprocess: boom('postprocess') },
      pattern: /postprocess of job \S+ failed/,
    },
    {
      step: 'finalize',
      service: { run: () => doNothing(), finalize: boom('finalize') },
      pattern: /finalize of job \S+ failed/,
    },
    {
      step: 'run returning a non-runner',
      service: { run: () => ({ kind: 'teleport' }) as never },
      pattern: /not a runner/,
    },
    {
      step: 'the run dying without DONE',
      // Kills the wrapper shell, as a node crash or the OOM killer would: no DONE is written.
      service: { run: () => localCommand('kill -9 $PPID') },
      pattern: /RunDiedError: .*job-state says "STARTED", not DONE/,
    },
  ];
  for (const { step, service, pattern } of cases) {
    test(step, async () => {
      await withWorker(fixture, service, async ({ client }) => {
        const before = smtp.messages.length;
        const job = await submit(client, `fail-${step.split(' ')[0]}`);
        const outcome = await workflowOutcome(client, job.workflowId);
        assert.match(outcome.failure ?? '', pattern);
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.state, 'FAILED');
        assert.match(row.failure ?? '', pattern);
        assert.equal(row.directory, dirOf('failed', job.name));
        await fs.access(row.directory!);
        const description = await client.workflow.getHandle(job.workflowId).describe();
        assert.equal(description.status.name, 'FAILED');
        assert.deepEqual(description.searchAttributes.JobState, ['FAILED']);
        const [mail] = (await smtp.waitFor(before + 1)).slice(before);
        assert.deepEqual(mail!.to, ['admin@test.example.org']);
        assert.equal(mail!.subject, `Sali lab ${fixture.config.general.serviceName} service: Job ${job.name} FAILED`);
        assert.match(mail!.text, pattern);
      });
    });
  }

  // saliweb: a failing `complete` or completion e-mail fails the job, COMPLETED or not (issue 29; this used to leave it COMPLETED).
  const endCases: { step: string; service: Service; pattern: RegExp }[] = [
    {
      step: 'complete',
      service: { run: () => doNothing(), complete: boom('complete') },
      pattern: /complete of job \S+ failed: complete exploded/,
    },
    {
      step: 'email',
      service: { run: () => doNothing(), sendJobCompletedEmail: boom('the e-mail') },
      pattern: /the e-mail exploded/,
    },
  ];
  for (const { step, service, pattern } of endCases) {
    test(`${step} failing after COMPLETED: the job ends FAILED in FAILED's folder, the admin is mailed once`, async () => {
      await withWorker(fixture, service, async ({ client }) => {
        const before = smtp.messages.length;
        const job = await submit(client, `fail-end-${step}`);
        const outcome = await workflowOutcome(client, job.workflowId);
        assert.match(outcome.failure ?? '', pattern);
        const row = await jobRow(fixture.db, job.name);
        assert.equal(row.state, 'FAILED');
        assert.match(row.failure ?? '', pattern);
        assert.match(row.failure ?? '', /after the job COMPLETED/);
        assert.equal(row.directory, dirOf('failed', job.name));
        await fs.access(row.directory!);
        const description = await client.workflow.getHandle(job.workflowId).describe();
        assert.equal(description.status.name, 'FAILED');
        assert.deepEqual(description.searchAttributes.JobState, ['FAILED']);
        // The workflow has ended: every mail it sent is in the sink.
        const mails = smtp.messages.slice(before).filter((mail) => mail.to.includes('admin@test.example.org'));
        assert.equal(mails.length, 1, 'the admin is mailed exactly once');
        assert.equal(
          mails[0]!.subject,
          `Sali lab ${fixture.config.general.serviceName} service: Job ${job.name} FAILED`,
        );
        assert.match(mails[0]!.text, pattern);
      });
    });
  }

  test('a service step failure keeps the stack of the service code', async () => {
    await withWorker(fixture, { run: boom('run') }, async ({ client }) => {
      const job = await submit(client, 'stack');
      await workflowOutcome(client, job.workflowId);
      const row = await jobRow(fixture.db, job.name);
      assert.match(
        row.failure ?? '',
        /ServiceStepError: run of job stack failed: run exploded\n\s+at .*job-lifecycle\.test\.ts/,
      );
    });
  });
});

describe('resubmit', () => {
  test("a resubmitted job's preprocess finds no job-state of its failed run (saliweb removes it at PREPROCESSING)", async () => {
    const seen: boolean[] = [];
    let runs = 0;
    const service = defineService({
      async preprocess(job) {
        seen.push(
          await fs.access(job.path('job-state')).then(
            () => true,
            () => false,
          ),
        );
      },
      run: () => (++runs === 1 ? localCommand(['sh', '-c', 'exit 7']) : doNothing()),
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'stale');
      assert.match((await workflowOutcome(client, job.workflowId)).failure ?? '', /exited with status 7/);
      const failed = await jobRow(fixture.db, job.name);
      assert.equal(
        (await fs.readFile(path.join(failed.directory!, 'job-state'), 'utf8')).trim(),
        'DONE',
        'the failed run left its job-state',
      );
      const outcome = await resubmitJob({ config: fixture.config, db: fixture.db, client, job: job.name });
      assert.ok(outcome.started);
      assert.equal(await client.workflow.getHandle(job.workflowId, outcome.runId).result(), 'COMPLETED');
      assert.deepEqual(seen, [false, false]);
    });
  });

  test('a FAILED job resubmitted runs again as a new run of the same workflow ID', async () => {
    let attempts = 0;
    const service = defineService({
      run: () => {
        attempts += 1;
        if (attempts === 1) throw new Error('transient bug');
        return doNothing();
      },
    });
    await withWorker(fixture, service, async ({ client }) => {
      const job = await submit(client, 'again');
      assert.match((await workflowOutcome(client, job.workflowId)).failure ?? '', /transient bug/);
      const failedRunId = (await client.workflow.getHandle(job.workflowId).describe()).runId;
      await assert.rejects(
        resubmitJob({ config: fixture.config, db: fixture.db, client, job: 'no-such-job' }),
        /no job no-such-job in Test/,
      );
      const outcome = await resubmitJob({ config: fixture.config, db: fixture.db, client, job: job.name });
      assert.ok(outcome.started);
      assert.notEqual(outcome.runId, failedRunId);
      assert.equal(await client.workflow.getHandle(job.workflowId, outcome.runId).result(), 'COMPLETED');
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.state, 'COMPLETED');
      assert.equal(row.failure, null);
      assert.equal(row.directory, dirOf('completed', job.name));
      await assert.rejects(
        resubmitJob({ config: fixture.config, db: fixture.db, client, job: job.name }),
        /is COMPLETED; only FAILED jobs can be resubmitted/,
      );
    });
  });
});
