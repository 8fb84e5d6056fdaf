/**
 * What an operator sees in the Temporal Web UI, checked in a real browser
 * (Debian's headless Chromium driven by playwright-core) against the dev
 * stack's Web UI, after real jobs ran to COMPLETED and FAILED while one runs
 * and one waits behind `[limits] running`: the workflow list filtered by the
 * search attributes shows exactly the service's jobs it should, and a job's
 * page shows its summary and current details. Screenshots go to
 * test-artifacts/web-ui/ (git-ignored).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { defineService, doNothing, localCommand } from '../../core/index.js';
import type { JobStatus } from '../../core/job-workflow-contract.js';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { REPO_ROOT, stackSettings } from '../../scripts/stack/settings.js';
import { launchChromium } from '../support/browser.js';
import { jobRow, workflowOutcome } from '../support/jobs.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { withWorker } from '../support/temporal.js';
import { untilHolds } from '../support/until.js';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'web-ui');
const { host, uiPort, namespace } = stackSettings().temporal;
const WEB_UI = `http://${host}:${uiPort}`;
/** How long the page may take to show what is expected (the shared machine can be busy). */
const PAGE_TIMEOUT_MS = 60_000;

let fixture: ServiceFixture;
let browser: Browser;
before(async () => {
  // Fail first, and clearly, when there is no browser: nothing else is worth setting up then.
  browser = await launchChromium();
  fixture = await createServiceFixture({ sections: { limits: { running: '1' } } });
  await fs.mkdir(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await fixture?.cleanup();
});

const FAILURE = 'input.pdb has no atoms';
const service = defineService({
  async preprocess(job) {
    if (job.name.startsWith('broken')) throw new Error(`${FAILURE}\n(a second line the details leave out)`);
  },
  // The long job runs until the test drops a file `go` into its directory (at most 5 minutes).
  run: (job) =>
    job.name.startsWith('long')
      ? localCommand('for i in $(seq 3000); do [ -e go ] && exit 0; sleep 0.1; done; exit 1')
      : doNothing(),
});

const status = (client: Client, job: SubmittedJob) =>
  client.workflow.getHandle(job.workflowId).query<JobStatus>('jobStatus');

function listUrl(query: string): string {
  return `${WEB_UI}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`;
}

const ROW = '[data-testid="workflows-summary-configurable-table-row"]';

/** The workflow IDs in the list's rows: each row's first link is its workflow ID. */
async function listedIds(page: Page): Promise<string[]> {
  return page.locator(ROW).evaluateAll((rows) => rows.map((row) => row.querySelector('a')?.textContent?.trim() ?? ''));
}

const sorted = (ids: readonly string[]) => JSON.stringify([...ids].sort());

/** Workflow IDs Temporal's visibility store answers for `query` (what the Web UI lists, once it has caught up). */
async function visibleIds(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const workflow of client.workflow.list({ query })) ids.push(workflow.workflowId);
  return ids;
}

/**
 * Opens the workflow list filtered by `query` and waits until its rows are
 * exactly `expected` (in any order); saves a screenshot either way. The page
 * is opened once visibility (updated a moment after a workflow changes) has
 * the expected answer, since the list does not refresh by itself.
 */
async function expectList(page: Page, client: Client, name: string, query: string, expected: string[]) {
  const want = [...expected].sort();
  await untilHolds(
    `visibility to answer ${query}`,
    () => visibleIds(client, query),
    (ids) => sorted(ids) === sorted(want),
    30_000,
  );
  await page.goto(listUrl(query));
  const shown = await untilHolds(
    `the list for ${query}`,
    () => listedIds(page),
    (ids) => sorted(ids) === sorted(want),
    PAGE_TIMEOUT_MS,
  ).then(
    () => true,
    () => false,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, `list-${name}.png`), fullPage: true });
  const listed = await listedIds(page);
  assert.deepEqual(listed.sort(), want, `the Web UI's list for ${query}${shown ? '' : ' (gave up waiting for it)'}`);
}

/** The text of the Markdown frame (the UI renders summary and details in iframes) under a heading of the User Metadata tab. */
function sectionText(page: Page, heading: string) {
  return page.locator(`xpath=//h3[normalize-space()="${heading}"]/following::iframe[1]`).contentFrame().locator('body');
}

/**
 * Opens a job's page as an operator does (by its workflow ID: the latest
 * run), goes to User Metadata and waits until it shows the job's summary and
 * its current details.
 */
async function expectJobPage(page: Page, name: string, job: SubmittedJob, summary: string, details: string) {
  await page.goto(`${WEB_UI}/namespaces/${namespace}/workflows/${encodeURIComponent(job.workflowId)}`);
  await page.getByTestId('user-metadata-tab').click();
  // Wait until both show what is expected; a timeout is reported below as what they show instead.
  await Promise.all([
    sectionText(page, 'Summary').getByText(summary, { exact: true }).waitFor(),
    sectionText(page, 'Current Details').getByText(details, { exact: true }).waitFor(),
  ]).catch(() => undefined);
  await page.screenshot({ path: path.join(ARTIFACTS, `job-${name}.png`), fullPage: true });
  const shown = async (heading: string) =>
    (
      await sectionText(page, heading)
        .innerText({ timeout: 1000 })
        .catch(() => '(nothing)')
    ).trim();
  assert.equal(await shown('Summary'), summary, `${job.workflowId}'s summary`);
  assert.equal(await shown('Current Details'), details, `${job.workflowId}'s current details`);
}

test('the Web UI lists a service’s jobs by state, service and user, and a job’s page says where it is', async () => {
  const svc = fixture.config.general.serviceName;
  const id = fixture.taskQueue.replace(/^test-/, '');
  const alice = `alice_${id}`;
  const bob = `bob_${id}`;
  const carol = `carol_${id}`;
  await withWorker(fixture, service, async ({ client }) => {
    const submit = (name: string, user: string) =>
      submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, user });
    const done1 = await submit('done1', alice);
    const done2 = await submit('done2', bob);
    const broken = await submit('broken1', bob);
    assert.equal((await workflowOutcome(client, done1.workflowId)).result, 'COMPLETED');
    assert.equal((await workflowOutcome(client, done2.workflowId)).result, 'COMPLETED');
    assert.match((await workflowOutcome(client, broken.workflowId)).failure ?? '', new RegExp(FAILURE));

    const long = await submit('long1', alice);
    const running = await untilHolds(
      'long1 to run',
      () => status(client, long),
      (s) => s.state === 'RUNNING' && !!s.run,
      30_000,
    );
    const queued = await submit('queued1', carol);
    const waiting = await untilHolds(
      'queued1 to wait for a slot',
      () => status(client, queued),
      (s) => !!s.waiting,
      30_000,
    );
    assert.equal(waiting.waiting, '1 of 1 running slots taken, 1st in line');

    async function checkWebUi() {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      page.setDefaultTimeout(PAGE_TIMEOUT_MS);
      try {
        await expectList(page, client, 'completed', `JobService="${svc}" AND JobState="COMPLETED"`, [
          done1.workflowId,
          done2.workflowId,
        ]);
        await expectList(page, client, 'failed', `JobService="${svc}" AND JobState="FAILED"`, [broken.workflowId]);
        await expectList(page, client, 'service', `JobService="${svc}"`, [
          done1.workflowId,
          done2.workflowId,
          broken.workflowId,
          long.workflowId,
          queued.workflowId,
        ]);
        await expectList(page, client, 'user', `JobUser="${alice}"`, [done1.workflowId, long.workflowId]);

        await expectJobPage(
          page,
          'running',
          long,
          `${svc} job long1 for ${alice}`,
          `RUNNING (cycle 1, on ${running.run})`,
        );
        await expectJobPage(page, 'waiting', queued, `${svc} job queued1 for ${carol}`, `INCOMING: ${waiting.waiting}`);
        await expectJobPage(
          page,
          'failed',
          broken,
          `${svc} job broken1 for ${bob}`,
          `FAILED: ServiceStepError: preprocess of job broken1 failed: ${FAILURE}`,
        );
      } finally {
        await page.close();
      }
    }

    // Whatever the checks find, release the long job so it and the waiting one end COMPLETED, not left behind.
    const uiFailure = await checkWebUi().then(
      () => undefined,
      (error: unknown) => error,
    );
    await fs.writeFile(path.join(fixture.root, 'running', long.name, 'go'), '');
    assert.equal((await workflowOutcome(client, long.workflowId)).result, 'COMPLETED');
    assert.equal((await workflowOutcome(client, queued.workflowId)).result, 'COMPLETED');
    assert.equal((await jobRow(fixture.db, queued.name)).state, 'COMPLETED');
    if (uiFailure) throw uiFailure;
  });
});
