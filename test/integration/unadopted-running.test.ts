/**
 * A RUNNING job saliweb left without a run id (its crash window: RUNNING
 * committed, `run()` not called yet) is left RUNNING, untouched, for an
 * operator: the reconcile schedule does not start it, a workflow started
 * anyway ends without changing the row, `list`/`show`/`status` name it with
 * the commands to choose from, and `adopt --runner-id` takes it on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { defineService, doNothing } from '../../core/index.js';
import { startJob } from '../../activities/job-start.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { saliflowFor } from '../support/processes.js';
import { until } from '../support/until.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const service = defineService({ run: () => doNothing() });
const saliflow = saliflowFor(() => fixture.configFile);

test('a RUNNING job without a run id is left RUNNING, untouched, and listed for the operator with the commands', async () => {
  const name = 'lost1';
  const directory = path.join(fixture.root, 'running', name);
  await fs.mkdir(directory);
  await fs.writeFile(path.join(directory, 'input.txt'), 'x\n');
  await fixture.db.query(
    'INSERT INTO jobs (name, user, directory, url, state, submit_time, preprocess_time, run_time) ' +
      "VALUES (?, 'alice', ?, 'http://example.org/lost1', 'RUNNING', UTC_TIMESTAMP(), UTC_TIMESTAMP(), UTC_TIMESTAMP())",
    [name, directory],
  );
  const untouched = await jobRow(fixture.db, name);

  await withWorker(fixture, service, async ({ client }) => {
    // The reconcile schedule's run: it starts orphans (in-flight rows without a workflow), but not this one.
    const reconciled = await client.workflow.execute('reconcileWorkflow', {
      taskQueue: fixture.taskQueue,
      workflowId: `${fixture.config.general.serviceName}/reconcile-test`,
      args: [{ serviceName: fixture.config.general.serviceName }],
    });
    assert.deepEqual(reconciled.started, [], 'not started: it waits for an operator');

    // Started anyway (a stray start): its workflow ends, red, and the row stays as saliweb left it.
    const start = await startJob(client, fixture.config, { job: name, user: 'alice', db: fixture.db });
    assert.ok(start.started);
    const outcome = await workflowOutcome(client, start.workflowId);
    assert.match(outcome.failure ?? '', /needs an operator: RUNNING without a run id/);
    assert.deepEqual(await jobRow(fixture.db, name), untouched, 'the row is untouched');
    assert.deepEqual(
      (await fs.readdir(directory)).sort(),
      ['input.txt'],
      'nothing was submitted (no script, no job-state, no run record)',
    );

    const commands = [
      /saliflow adopt --apply --runner-id lost1=NAME:ID/,
      /saliflow failjob/,
      /saliflow resubmit lost1/,
    ];
    for (const args of [['list'], ['show', name], ['status']]) {
      const shown = await saliflow(...args);
      assert.equal(shown.exitCode, 0, shown.stderr);
      assert.match(shown.stdout, /needs an operator/, `${args[0]} names the job`);
      for (const command of commands) assert.match(shown.stdout, command, `${args[0]} gives the commands`);
    }
    assert.match((await saliflow('status')).stdout, /lost1: needs an operator/);
    // `check --repair` names it too, and leaves the choice to the operator: it does not start it.
    const checked = await saliflow('check', '--repair');
    assert.equal(checked.exitCode, 3, checked.stderr);
    assert.match(checked.stdout, /job lost1 \(RUNNING\) needs an operator/);
    assert.doesNotMatch(checked.stdout, /started its workflow/);

    // The operator found its run (here: one that had nothing to do) and adopts it: the job goes on.
    const adopted = await saliflow('adopt', '--apply', '--runner-id', `${name}=donothing:none`);
    assert.equal(adopted.exitCode, 0, adopted.stderr + adopted.stdout);
    await until('lost1 COMPLETED', async () =>
      (await jobRow(fixture.db, name)).state === 'COMPLETED' ? true : undefined,
    );
    assert.equal((await jobRow(fixture.db, name)).run_time?.getTime(), untouched.run_time?.getTime());
  });
});
