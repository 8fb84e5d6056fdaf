/**
 * `saliflow status`: what saliweb's `status` said of its daemon ("running
 * or not"), for a service whose backend is any number of workers: who
 * polls its task queues, how many jobs are in each state, when its
 * Schedules last ran, and where everything is.
 */
import type mysql from 'mysql2/promise';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { LimitsConfig, ServiceConfig } from '../core/config/index.js';
import { hostQueue, waitQueue } from '../core/job-workflow-contract.js';
import { JOB_STATES, type JobState } from '../core/states.js';
import { scheduleIds } from '../activities/schedules.js';
import { describeLimits, pauseReason, readServiceControl, type Pause } from '../store/service-control.js';
import { formatTable, formatTime, mysqlAddress, serviceLink } from './format.js';
import { describeStatusOutages, readStatusOutages, type StatusOutage } from '../store/status-outages.js';
import { countJobsByState, runningJobs } from '../store/job-listing.js';
import { needsOperator } from '../engine/operator-attention.js';
import { parseWorkerIdentity, workerName } from '../core/worker-identity.js';

/** Which saliflow the workers run: `saliflow 0.1.0`, or `saliflow 0.1.0 ×2, 0.2.0 ×1` in an upgrade. */
function describeVersions(identities: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const identity of identities) {
    const version = parseWorkerIdentity(identity)?.version ?? 'unknown';
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  if (counts.size === 1) return `saliflow ${[...counts.keys()][0]!}`;
  return `saliflow ${[...counts].map(([version, count]) => `${version} ×${count}`).join(', ')}`;
}

/** Temporal's TaskQueueType (temporal.api.enums.v1): which half of a worker polled. */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;
const TASK_QUEUE_KIND_NORMAL = 1;

/**
 * The server keeps a poller listed for minutes after it stopped; a worker's
 * long poll renews it at least every ~70 s. Older ones are gone workers.
 */
export const POLLER_FRESH_MS = 2 * 60_000;

export interface Poller {
  queue: string;
  kind: 'workflow' | 'activity';
  identity: string;
  lastAccess: Date;
}

export interface ScheduleStatus {
  id: string;
  exists: boolean;
  paused?: boolean;
  lastRun?: { at: Date; workflowId: string; status: string };
  nextRun?: Date;
}

export interface ServiceStatus {
  service: string;
  taskQueue: string;
  temporal: { address: string; namespace: string; webUi?: string };
  mysql: string;
  pollers: Poller[];
  /** Distinct worker identities (`pid@host`) polling the main queue for workflow tasks. */
  workers: string[];
  jobs: Partial<Record<JobState, number>>;
  /** The limits in force (the last published: worker start, SIGHUP, `reload-limits`; else the config file's). */
  limits: LimitsConfig;
  /** Where and when the limits in force were read, if published. */
  limitsFrom?: { source: string; at: Date };
  /** The config file's `[limits]` where they differ from those in force (not reloaded yet). */
  fileLimits?: LimitsConfig;
  /** Set while `saliflow pause` holds: nothing is admitted. */
  pause?: Pause;
  schedules: ScheduleStatus[];
  /** Scheduler status queries failing interval after interval (or recovered in the last day), by worker. */
  statusOutages?: StatusOutage[];
  /** RUNNING jobs saliweb left without a run record, waiting for an operator (engine/operator-attention.ts). */
  needsOperator?: { job: string; why: string }[];
}

/** The workers that polled `queue` in the last POLLER_FRESH_MS. */
export async function queuePollers(client: Client, config: ServiceConfig, queue: string): Promise<Poller[]> {
  const found: Poller[] = [];
  for (const kind of ['workflow', 'activity'] as const) {
    const response = await client.workflowService.describeTaskQueue({
      namespace: config.temporal.namespace,
      taskQueue: { name: queue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TASK_QUEUE_TYPE[kind],
    });
    for (const poller of response.pollers ?? []) {
      const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
      const lastAccess = new Date(seconds * 1000 + Math.floor((poller.lastAccessTime?.nanos ?? 0) / 1e6));
      if (Date.now() - lastAccess.getTime() > POLLER_FRESH_MS) continue;
      found.push({ queue, kind, identity: poller.identity ?? '?', lastAccess });
    }
  }
  return found;
}

/** Worker identities are `<pid>@<host id>` (worker/create-worker.ts): each host has its own local-run queue. */
function hostIds(pollers: readonly Poller[]): string[] {
  return [...new Set(pollers.map((poller) => poller.identity.split('@').slice(1).join('@')).filter(Boolean))];
}

async function scheduleStatus(client: Client, id: string): Promise<ScheduleStatus> {
  let description;
  try {
    description = await client.schedule.getHandle(id).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return { id, exists: false };
    throw error;
  }
  const status: ScheduleStatus = { id, exists: true, paused: description.state.paused };
  const last = description.info.recentActions.at(-1);
  if (last) {
    const { workflowId, firstExecutionRunId } = last.action.workflow;
    const run = await client.workflow
      .getHandle(workflowId, firstExecutionRunId)
      .describe()
      .then(
        (run) => run.status.name,
        () => 'unknown (its history is gone)',
      );
    status.lastRun = { at: last.takenAt, workflowId, status: run };
  }
  const next = description.info.nextActionTimes[0];
  if (next) status.nextRun = next;
  return status;
}

export async function serviceStatus(options: {
  config: ServiceConfig;
  db: Pick<mysql.Pool, 'query'>;
  client: Client;
}): Promise<ServiceStatus> {
  const { config, db, client } = options;
  const taskQueue = config.temporal.taskQueue;
  const main = await queuePollers(client, config, taskQueue);
  const waits = await queuePollers(client, config, waitQueue(taskQueue));
  const hosts = [];
  for (const host of hostIds([...main, ...waits]))
    hosts.push(...(await queuePollers(client, config, hostQueue(taskQueue, host))));
  const jobs = await countJobsByState(db);
  const ids = scheduleIds(config.general.serviceName);
  const { address, namespace, webUi } = config.temporal;
  const link = serviceLink(config);
  const control = await readServiceControl(db, config);
  const differs = describeLimits(control.limits) !== describeLimits(config.limits);
  const attention: { job: string; why: string }[] = [];
  for (const row of await runningJobs(db)) {
    const why = await needsOperator(config, row);
    if (why) attention.push({ job: row.name, why });
  }
  return {
    service: config.general.serviceName,
    taskQueue,
    temporal: { address, namespace, ...(webUi && link ? { webUi: link } : {}) },
    mysql: mysqlAddress(config),
    pollers: [...main, ...waits, ...hosts],
    workers: [...new Set(main.filter((poller) => poller.kind === 'workflow').map((poller) => poller.identity))],
    jobs,
    limits: control.limits,
    ...(control.limitsFrom ? { limitsFrom: control.limitsFrom } : {}),
    ...(differs ? { fileLimits: config.limits } : {}),
    ...(control.pause ? { pause: control.pause } : {}),
    schedules: [await scheduleStatus(client, ids.reconcile), await scheduleStatus(client, ids.oldJobs)],
    statusOutages: await readStatusOutages(db),
    ...(attention.length > 0 ? { needsOperator: attention } : {}),
  };
}

export function formatServiceStatus(status: ServiceStatus): string {
  const lines = [
    `service ${status.service}`,
    `  Temporal   ${status.temporal.address}, namespace ${status.temporal.namespace}, task queue ${status.taskQueue}`,
    `  Web UI     ${status.temporal.webUi ?? '(set [temporal] web_ui in the config to get a link)'}`,
    `  MySQL      ${status.mysql}`,
    `  Limits     ${describeLimits(status.limits)}`,
    ...(status.fileLimits
      ? [
          `             (read ${status.limitsFrom ? `${formatTime(status.limitsFrom.at)} UTC from ${status.limitsFrom.source}` : 'earlier'}; ` +
            `the config file says ${describeLimits(status.fileLimits)}: \`saliflow reload-limits\` applies it)`,
        ]
      : []),
    `  Admission  ${status.pause ? `PAUSED: ${pauseReason(status.pause)} (\`saliflow resume\` ends it)` : 'open'}`,
    ...describeStatusOutages(status.statusOutages ?? []).map((line) => `  Scheduler  ${line}`),
    '',
    status.workers.length > 0
      ? `workers: ${status.workers.length} polling ${status.taskQueue} (${describeVersions(status.workers)})`
      : `workers: NONE polling ${status.taskQueue}: jobs do not move; start \`saliflow worker\``,
  ];
  if (status.pollers.length > 0) {
    const byQueue = new Map<string, Set<string>>();
    for (const poller of status.pollers) {
      const key = `${poller.queue}\u0000${poller.identity}`;
      byQueue.set(key, (byQueue.get(key) ?? new Set()).add(poller.kind));
    }
    const rows = [...byQueue].map(([key, kinds]) => {
      const [queue, identity] = key.split('\u0000') as [string, string];
      const seen = Math.max(
        ...status.pollers
          .filter((p) => p.queue === queue && p.identity === identity)
          .map((p) => p.lastAccess.getTime()),
      );
      return [
        `  ${queue}`,
        workerName(identity),
        parseWorkerIdentity(identity)?.version ?? '?',
        [...kinds].sort().join('+'),
        `${Math.round((Date.now() - seen) / 1000)} s ago`,
      ];
    });
    lines.push(formatTable(['  QUEUE', 'WORKER', 'SALIFLOW', 'POLLS FOR', 'LAST POLL'], rows));
    // Temporal lists a poller until its long poll (up to ~70 s) would have been renewed.
    lines.push(`  (a worker stopped in the last ${POLLER_FRESH_MS / 60_000} minutes may still be listed)`);
  }
  lines.push('', 'jobs:');
  const counts = JOB_STATES.filter((state) => status.jobs[state]).map((state) => [
    `  ${state}`,
    String(status.jobs[state]),
  ]);
  lines.push(counts.length > 0 ? formatTable(['  STATE', 'JOBS'], counts) : '  none');
  for (const { job, why } of status.needsOperator ?? []) lines.push(`  ${job}: ${why}`);
  lines.push('', 'schedules:');
  for (const schedule of status.schedules) {
    if (!schedule.exists) {
      lines.push(`  ${schedule.id}: missing (a worker creates it when it starts)`);
      continue;
    }
    const last = schedule.lastRun
      ? `last ran ${formatTime(schedule.lastRun.at)} UTC (${schedule.lastRun.status.toLowerCase()})`
      : 'not run yet';
    const next = schedule.nextRun ? `, next ${formatTime(schedule.nextRun)} UTC` : '';
    lines.push(`  ${schedule.id}: ${schedule.paused ? 'PAUSED, ' : ''}${last}${next}`);
  }
  return lines.join('\n');
}
