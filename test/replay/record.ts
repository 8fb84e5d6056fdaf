/**
 * Records histories of the current jobWorkflow, one per path a job can take,
 * into test/replay/histories/ for test/unit/workflow-replay.test.ts: the
 * guard that a changed workflow still replays the runs already in flight
 * when workers are upgraded. Run it on the dev stack when the workflow
 * changes on purpose (with versioning or patching, keep the old files too):
 *
 *   SALIFLOW_STATE_DIR=/work/main/.state node --import tsx test/replay/record.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { defineService, localCommand } from '../../core/index.js';
import { submitJob } from '../../client/submit.js';
import { cancelJob } from '../../client/admin.js';
import { createServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';

const OUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'histories');
const WAIT_FOR_GO = 'for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done';

/** Each job's name chooses its path (the prefix before the first dash). */
const service = defineService({
  preprocess: (job) => (job.name.startsWith('skiprun') ? { skipRun: true } : {}),
  run: (job) => localCommand(job.name.startsWith('cancelled') ? WAIT_FOR_GO : 'echo ran > ran.txt'),
  rerun: () => localCommand('echo again > again.txt'),
  postprocess(job) {
    if (job.name.startsWith('failed')) throw new Error('postprocess failed on purpose');
    if (job.name.startsWith('rescheduled') && !fs.existsSync(job.path('again.txt'))) return { reschedule: { data: 2 } };
    return {};
  },
});

const fixture = await createServiceFixture();
try {
  await withWorker(fixture, service, async ({ client }) => {
    const submit = (name: string, parents: string[] = []) =>
      submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, parents });
    const jobs = [
      await submit('completed'),
      await submit('rescheduled'),
      await submit('skiprun'),
      await submit('failed'),
      await submit('cancelled'),
    ];
    const parent = jobs[0]!.name;
    jobs.push(await submit('childofcompleted', [parent]));
    for (let row = await jobRow(fixture.db, 'cancelled'); row.state !== 'RUNNING';) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      row = await jobRow(fixture.db, 'cancelled');
    }
    await cancelJob({ config: fixture.config, db: fixture.db, client, job: 'cancelled' });
    fs.mkdirSync(OUT, { recursive: true });
    for (const job of jobs) {
      const outcome = await workflowOutcome(client, job.workflowId);
      const history = await client.workflow.getHandle(job.workflowId).fetchHistory();
      const json = proto.temporal.api.history.v1.History.fromObject(history).toJSON();
      fs.writeFileSync(path.join(OUT, `${job.name}.json`), `${JSON.stringify(json, null, 1)}\n`);
      console.log(`${job.name}: ${outcome.result ?? outcome.failure}, ${history.events?.length} events`);
    }
  });
} finally {
  await fixture.cleanup();
}
