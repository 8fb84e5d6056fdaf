/**
 * `[limits] running` changed while a burst is in line, without a restart:
 * raised by editing the config file and sending the worker SIGHUP, lowered
 * by `saliflow reload-limits`. A bad file (SIGHUP or the command) changes
 * nothing and says why. MySQL's triggers record every state change: played
 * back in commit order, the number of jobs in flight follows each limit
 * from the moment it was published (a lowered limit lets the jobs in
 * flight finish and admits none until fewer than it remain).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { readServiceControl } from '../../store/service-control.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';
import { WORKER_READY, saliflowFor, spawnWorkerProcess } from '../support/processes.js';
import { assertEachStateOnce, installStateAudit, readStateAudit, type StateChange } from '../support/state-audit.js';

const JOBS = 14;
const FIRST = 2;
const RAISED = 5;
const LOWERED = 1;
const IN_FLIGHT = new Set(['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING']);

let fixture: ServiceFixture;
let original: string;
before(async () => {
  fixture = await createServiceFixture({ sections: { limits: { running: String(FIRST) } } });
  await installStateAudit(fixture.admin, fixture.config.database.db);
  original = await fs.readFile(fixture.configFile, 'utf8');
});
after(async () => {
  await fixture.cleanup();
});

const saliflow = saliflowFor(() => fixture.configFile);

/** The config file with `[limits] running` set to `value` (any text, to write a bad one). */
async function writeRunningLimit(value: string): Promise<void> {
  assert.match(original, /^running: /m);
  await fs.writeFile(fixture.configFile, original.replace(/^running: .*$/m, `running: ${value}`));
}

async function inFlight(): Promise<{ name: string; state: string; directory: string }[]> {
  const [rows] = (await fixture.db.query(
    "SELECT name, state, directory FROM jobs WHERE state IN ('PREPROCESSING','RUNNING','POSTPROCESSING','FINALIZING')",
  )) as unknown as [{ name: string; state: string; directory: string }[]];
  return rows;
}

/** The most jobs in flight at once among `changes`, starting from `start` in flight; and how many at the end. */
function peakOf(changes: readonly StateChange[], start: number): { peak: number; end: number; admittedAbove: number } {
  let count = start;
  let peak = start;
  let admittedAbove = 0;
  for (const change of changes) {
    const delta = Number(IN_FLIGHT.has(change.to ?? '')) - Number(change.from !== null && IN_FLIGHT.has(change.from));
    count += delta;
    peak = Math.max(peak, count);
    if (delta > 0 && count > LOWERED) admittedAbove++;
  }
  return { peak, end: count, admittedAbove };
}

test(
  'the running limit raised by SIGHUP and lowered by reload-limits during a burst; a bad file changes nothing',
  {
    timeout: 300_000,
  },
  async () => {
    const { client, close } = await temporalClient();
    const child = spawnWorkerProcess(fixture.configFile, 'go-file-job', {}, { asSaliflowWorker: true });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until('the worker to poll', async () => {
        if (child.exitCode !== null) throw new Error(`the worker exited: ${output.slice(-2000)}`);
        return WORKER_READY.test(output) ? true : undefined;
      });
      // Every job waits for the test's `go` in its directory: the test decides when a slot frees.
      const jobs: SubmittedJob[] = [];
      for (let i = 0; i < JOBS; i++) {
        jobs.push(
          await submitJob({
            config: fixture.config,
            db: fixture.frontendDb,
            client,
            name: `job${String(i).padStart(2, '0')}`,
            files: {},
          }),
        );
      }
      await until(`${FIRST} jobs to run`, async () =>
        (await inFlight()).filter((job) => job.state === 'RUNNING').length === FIRST ? true : undefined,
      );

      // Raised: the file, then SIGHUP to the worker.
      let audit = await readStateAudit(fixture.db);
      const beforeRaise = audit.length;
      await writeRunningLimit(String(RAISED));
      child.kill('SIGHUP');
      await until(`${RAISED} jobs to run`, async () =>
        (await inFlight()).filter((job) => job.state === 'RUNNING').length === RAISED ? true : undefined,
      );
      assert.match((await saliflow('status')).stdout, new RegExp(`\\n {2}Limits {5}running ${RAISED}\\n`));

      // A bad file, by SIGHUP and by the command: nothing changes, and both say why.
      await writeRunningLimit('0');
      const refused = await saliflow('reload-limits');
      assert.equal(refused.exitCode, 1);
      assert.match(refused.stderr, /the limits were not changed: .*\[limits\] running/);
      child.kill('SIGHUP');
      await until('the worker to log why it kept the limits', async () =>
        /SIGHUP: the limits were not changed: .*\[limits\] running/.test(output) ? true : undefined,
      );
      assert.equal((await readServiceControl(fixture.db, fixture.config)).limits.running, RAISED);

      // Lowered by the command; then the test lets the jobs finish one slot at a time.
      await writeRunningLimit(String(LOWERED));
      audit = await readStateAudit(fixture.db);
      const beforeLower = audit.length;
      const lowered = await saliflow('reload-limits');
      assert.equal(lowered.exitCode, 0, lowered.stderr);
      assert.match(lowered.stdout, new RegExp(`limits running ${RAISED} -> running ${LOWERED}`));
      assert.match((await saliflow('status')).stdout, new RegExp(`\\n {2}Limits {5}running ${LOWERED}\\n`));
      const done = Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
      let finished = false;
      void done.finally(() => (finished = true));
      await until(
        'every job to complete',
        async () => {
          for (const job of await inFlight()) {
            if (job.state === 'RUNNING') await fs.writeFile(path.join(job.directory, 'go'), '').catch(() => undefined);
          }
          return finished ? true : undefined;
        },
        240_000,
      );
      const outcomes = await done;
      assert.deepEqual(
        outcomes.map((outcome) => outcome.result ?? outcome.failure),
        jobs.map(() => 'COMPLETED'),
      );

      audit = await readStateAudit(fixture.db);
      const first = peakOf(audit.slice(0, beforeRaise), 0);
      assert.equal(first.peak, FIRST, `[limits] running ${FIRST} was reached and never exceeded`);
      const raised = peakOf(audit.slice(beforeRaise, beforeLower), first.end);
      assert.equal(raised.peak, RAISED, `after SIGHUP, running ${RAISED} was reached and never exceeded`);
      const last = peakOf(audit.slice(beforeLower), raised.end);
      assert.equal(last.admittedAbove, 0, `after reload-limits, no job was admitted above ${LOWERED} in flight`);
      assert.equal(last.end, 0);
      assertEachStateOnce(audit);
    } finally {
      await fs.writeFile(fixture.configFile, original);
      child.kill('SIGTERM');
      await child;
      await close();
    }
  },
);
