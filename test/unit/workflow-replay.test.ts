/**
 * The upgrade guard: the current workflow code replays the recorded
 * histories of jobWorkflow runs (test/replay/histories/, one per path a job
 * takes: completed, rescheduled, run skipped, failed, cancelled, waiting for
 * a parent). A change that would break runs still in flight when workers are
 * upgraded fails here with a DeterminismViolationError; ship such a change
 * behind `patched()` (or a new worker deployment version) and keep the old
 * histories beside new ones (test/replay/record.ts records them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../../worker/create-worker.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const DIR = path.join(REPO_ROOT, 'test/replay/histories');

test('the current jobWorkflow replays every recorded history', { timeout: 120_000 }, async () => {
  const files = fs.readdirSync(DIR).filter((file) => file.endsWith('.json'));
  assert.ok(files.length >= 6, `recorded histories in ${DIR} (found ${files.length})`);
  const histories = files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: proto.temporal.api.history.v1.History.fromObject(
      JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')),
    ),
  }));
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${result.error?.message}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed.sort(), histories.map((h) => h.workflowId).sort());
});

test('a history the workflow would not produce is refused (the guard can fail)', { timeout: 120_000 }, async () => {
  const json = JSON.parse(fs.readFileSync(path.join(DIR, 'completed.json'), 'utf8')) as {
    events: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } }[];
  };
  const scheduled = json.events.find((event) => event.activityTaskScheduledEventAttributes);
  assert.ok(scheduled, 'the completed job scheduled an activity');
  scheduled.activityTaskScheduledEventAttributes!.activityType = { name: 'anActivityThatNoLongerExists' };
  const history = proto.temporal.api.history.v1.History.fromObject(json);
  await assert.rejects(
    Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'tampered'),
    /Determinism|nondetermin/i,
  );
});
