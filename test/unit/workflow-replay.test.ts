/**
 * The upgrade guard: the current workflow code replays the recorded
 * histories of jobWorkflow runs (test/replay/histories/ and its folders, one
 * recording per folder, one history per path a job takes: completed,
 * rescheduled, run skipped, failed, cancelled, waiting for a parent, waiting
 * for a run through the run watcher, admitted by a round, resubmitted). A
 * change that would break runs still in flight when workers are upgraded
 * fails here with a DeterminismViolationError; ship such a change behind
 * `patched()` (or a new worker deployment version) and keep the old
 * histories beside new ones (test/replay/record.ts records them). Every
 * patch in the workflow code must be exercised by a recorded history.
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
const WORKFLOWS = path.join(REPO_ROOT, 'workflows');

/** Every recorded history file, relative to DIR (a recording's folder, then its file). */
function historyFiles(): string[] {
  return (fs.readdirSync(DIR, { recursive: true }) as string[]).filter((file) => file.endsWith('.json')).sort();
}

const readHistory = (file: string) => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as HistoryJson;

interface HistoryJson {
  events: {
    markerRecordedEventAttributes?: {
      markerName?: string;
      details?: Record<string, { payloads?: { data?: string }[] }>;
    };
  }[];
}

/** The patch ids in a history's patch markers. */
function patchesIn(history: HistoryJson): string[] {
  const ids: string[] = [];
  for (const event of history.events) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') continue;
    for (const detail of Object.values(marker.details ?? {})) {
      for (const payload of detail.payloads ?? []) {
        const value = JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as unknown;
        const id = typeof value === 'string' ? value : (value as { id?: unknown } | null)?.id;
        if (typeof id === 'string') ids.push(id);
      }
    }
  }
  return ids;
}

/**
 * The patch ids the workflow code asks about: `patched('id')`,
 * `deprecatePatch('id')`, or either with a constant declared in the same file
 * (`const X_PATCH = 'id'`). A call this cannot read fails the test, so a
 * patch never escapes the guard by being written differently.
 */
function patchesInWorkflowCode(): { id: string; file: string }[] {
  const found: { id: string; file: string }[] = [];
  for (const file of fs.readdirSync(WORKFLOWS).filter((name) => name.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(WORKFLOWS, file), 'utf8');
    for (const [, argument] of source.matchAll(/\b(?:patched|deprecatePatch)\(\s*([^)]*?)\s*\)/g)) {
      const literal = /^['"`]([^'"`]+)['"`]$/.exec(argument!)?.[1];
      const constant = literal
        ? undefined
        : new RegExp(`\\bconst\\s+${argument}\\s*=\\s*['"\`]([^'"\`]+)['"\`]`).exec(source)?.[1];
      const id = literal ?? constant;
      assert.ok(id, `workflows/${file}: cannot tell the patch id of patched(${argument}); use a string constant`);
      found.push({ id, file });
    }
  }
  return found;
}

test('the current jobWorkflow replays every recorded history', { timeout: 120_000 }, async () => {
  const files = historyFiles();
  assert.ok(files.length >= 16, `recorded histories in ${DIR} (found ${files.length})`);
  const histories = files.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: proto.temporal.api.history.v1.History.fromObject(readHistory(file)),
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

test('every patch in the workflow code is exercised by a recorded history', () => {
  const patches = patchesInWorkflowCode();
  assert.ok(patches.length >= 1, 'found the run-watcher patch in workflows/ (the scan reads the code)');
  const recorded = new Set(historyFiles().flatMap((file) => patchesIn(readHistory(file))));
  for (const { id, file } of patches) {
    assert.ok(
      recorded.has(id),
      `patch "${id}" (workflows/${file}) has no recorded history taking its new branch: ` +
        'record one with test/replay/record.ts (see its header) and commit it beside the old ones',
    );
  }
});
