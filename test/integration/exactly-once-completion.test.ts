/**
 * The completion's side effects happen once: a worker SIGKILLed just before,
 * during or just after the COMPLETED commit, inside `complete`, or between
 * `complete` and the e-mail leaves a job that another worker finishes with
 * exactly one finished `complete` call and exactly one e-mail to the user
 * (counted on the real SMTP server the service mails to).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob } from '../../client/submit.js';
import service, { COMPLETE_CALLS } from '../support/services/completion-job.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { spawnWorkerProcess } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const cases: { name: string; env: Record<string, string>; startedCalls: number }[] = [
  { name: 'before-commit', env: { SALIFLOW_FAILPOINT: 'before-completed-commit' }, startedCalls: 1 },
  { name: 'in-commit', env: { SALIFLOW_FAILPOINT: 'in-completed-commit' }, startedCalls: 1 },
  { name: 'after-commit', env: { SALIFLOW_FAILPOINT: 'after-completed-commit' }, startedCalls: 1 },
  // Cut short inside the step: it runs again (guarantees.md), and finishes once.
  { name: 'in-complete', env: { SALIFLOW_TEST_DIE_IN_COMPLETE: '1' }, startedCalls: 2 },
  { name: 'after-complete', env: { SALIFLOW_FAILPOINT: 'after-complete-step' }, startedCalls: 1 },
  { name: 'after-email', env: { SALIFLOW_FAILPOINT: 'after-completion-email' }, startedCalls: 1 },
];

async function completeCalls(directory: string): Promise<string[]> {
  const text = await fs.readFile(path.join(directory, COMPLETE_CALLS), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

for (const { name, env, startedCalls } of cases) {
  test(`worker killed ${name}: one complete, one e-mail`, { timeout: 120_000 }, async () => {
    const child = spawnWorkerProcess(fixture.configFile, 'completion-job', env);
    const { client, close } = await temporalClient();
    const contactEmail = `${name}@users.example.org`;
    try {
      const job = await submitJob({
        config: fixture.config,
        db: fixture.frontendDb,
        client,
        name: `done-${name}`,
        contactEmail,
      });
      const ended = await child;
      assert.equal(ended.signal, 'SIGKILL', `the worker died where asked (stderr: ${ended.stderr})`);
      const outcome = await withWorker(fixture, service, () => workflowOutcome(client, job.workflowId));
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      const row = await jobRow(fixture.db, job.name);
      assert.equal(row.state, 'COMPLETED');
      const calls = await completeCalls(row.directory!);
      assert.equal(calls.filter((line) => line === 'finished').length, 1, `complete finished once: ${calls}`);
      assert.equal(calls.filter((line) => line === 'started').length, startedCalls, `complete started: ${calls}`);
      const mails = fixture.smtp.messages.filter((mail) => mail.to.includes(contactEmail));
      assert.equal(mails.length, 1, 'exactly one e-mail to the user');
      assert.match(mails[0]!.subject, new RegExp(`Job ${job.name} complete`));
    } finally {
      child.kill('SIGKILL');
      await close();
    }
  });
}
