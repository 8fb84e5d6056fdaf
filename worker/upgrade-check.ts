/**
 * `saliflow upgrade-check`: before workers restart on new code, replay the
 * history of every open workflow of the service (jobs that may wait for
 * days, the maintenance workflows) against that code, and name each one it
 * would fail. A workflow that replays cleanly resumes on the new code; one
 * that does not would be stuck with a nondeterminism error until the old
 * code runs it again, so the operator keeps the old workers until it is done
 * (or ships a `patched()` guard).
 */
import type { Client } from '@temporalio/client';
import { Runtime, Worker } from '@temporalio/worker';
import type { ServiceConfig } from '../core/config/index.js';
import { firstLine } from '../core/text.js';
import { INSTALLED_WORKFLOWS, workflowBundle } from './create-worker.js';

export interface ReplayVerdict {
  workflowId: string;
  /** The first line of the replay's error; undefined when it replays cleanly. */
  error?: string;
}

export interface UpgradeCheck {
  service: string;
  taskQueue: string;
  /** The workflow code replayed against. */
  workflows: string;
  verdicts: ReplayVerdict[];
}

/** The SDK logs every nondeterminism it finds as a warning: the report says it once, per workflow. */
function installQuietRuntime(): void {
  try {
    Runtime.install({ telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  } catch {
    // Installed already (a test process, or a worker): its logging stays as it is.
  }
}

export async function checkUpgrade(options: {
  client: Client;
  config: ServiceConfig;
  /** Workflow code to replay against (a release's `dist/workflows/index.js`); default: the installed code. */
  workflowsPath?: string;
}): Promise<UpgradeCheck> {
  const { client, config } = options;
  const taskQueue = config.temporal.taskQueue;
  installQuietRuntime();
  const bundle = await workflowBundle(options.workflowsPath);
  const open: { workflowId: string; runId: string }[] = [];
  // Every workflow a worker of this service would run: jobs and the Schedules' maintenance workflows.
  const query = `TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`;
  for await (const execution of client.workflow.list({ query })) {
    open.push({ workflowId: execution.workflowId, runId: execution.runId });
  }
  async function* histories() {
    for (const { workflowId, runId } of open) {
      yield { workflowId, history: await client.workflow.getHandle(workflowId, runId).fetchHistory() };
    }
  }
  const verdicts: ReplayVerdict[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories())) {
    verdicts.push({
      workflowId: result.workflowId,
      ...(result.error ? { error: firstLine(result.error.message) } : {}),
    });
  }
  return {
    service: config.general.serviceName,
    taskQueue,
    workflows: options.workflowsPath ?? INSTALLED_WORKFLOWS,
    verdicts,
  };
}

export function formatUpgradeCheck(check: UpgradeCheck): string {
  const failing = check.verdicts.filter((verdict) => verdict.error !== undefined);
  const lines = [
    `${check.verdicts.length} open workflow(s) of ${check.service} (task queue ${check.taskQueue}) replayed against ` +
      `${check.workflows}: ${check.verdicts.length - failing.length} replay, ${failing.length} would fail`,
  ];
  for (const { workflowId, error } of failing) lines.push(`  FAILS  ${workflowId}: ${error}`);
  lines.push(
    failing.length === 0
      ? 'Safe to restart the workers on this code.'
      : 'Do not restart every worker on this code yet: keep workers on the current code until these workflows end, ' +
          'or guard the change with patched() (README "Upgrading").',
  );
  return lines.join('\n');
}
