/**
 * What the benchmark asks Temporal, through the public client only: the
 * workflows on a task queue (visibility), their histories (event and
 * workflow-task counts), and cleaning up after a run (terminate what is
 * still open, delete the service's schedules).
 */
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { targetConnection } from './target.js';
import { mapConcurrently, sleep } from './stats.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export async function connectClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const { options, namespace } = targetConnection();
  const connection = await Connection.connect(options);
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

const onQueue = (taskQueue: string, extra = '') => `TaskQueue = "${taskQueue}"${extra ? ` AND ${extra}` : ''}`;

export async function countWorkflows(client: Client, taskQueue: string, extra = ''): Promise<number> {
  return (await client.workflow.count(onQueue(taskQueue, extra))).count;
}

/** Every workflow run on the task queue; waits (up to `timeoutMs`) until visibility lists at least `atLeast`. */
export async function listWorkflows(
  client: Client,
  taskQueue: string,
  atLeast: number,
  timeoutMs = 30_000,
): Promise<WorkflowExecutionInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed: WorkflowExecutionInfo[] = [];
    for await (const info of client.workflow.list({ query: onQueue(taskQueue) })) listed.push(info);
    if (listed.length >= atLeast || Date.now() > deadline) return listed;
    await sleep(1000);
  }
}

/** `WorkflowTaskCompleted` from `workflowTaskCompletedEventAttributes`: the event's type, read from its payload. */
function eventTypeName(event: HistoryEvent): string {
  const key = Object.keys(event).find(
    (name) => name.endsWith('EventAttributes') && event[name as keyof HistoryEvent] != null,
  );
  return key ? key[0]!.toUpperCase() + key.slice(1, -'EventAttributes'.length) : `type${String(event.eventType)}`;
}

export function timestampMs(time: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return time ? Number(time.seconds ?? 0) * 1000 + (time.nanos ?? 0) / 1e6 : NaN;
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

export interface HistoryTally {
  /** Workflow runs listed on the task queue, by workflow type. */
  listed: Record<string, number>;
  /** Histories fetched (all, or a random sample). */
  fetched: number;
  /** Events per workflow type and event type, summed over the fetched histories. */
  events: Record<string, Record<string, number>>;
  /** Times (ms) of every WorkflowTaskCompleted event in the fetched histories. */
  workflowTaskTimes: number[];
}

/**
 * Fetches the histories of `sample` workflows picked at random among
 * `workflows` (all when `sample` is 0 or larger), and tallies their events.
 */
export async function tallyHistories(
  client: Client,
  workflows: readonly WorkflowExecutionInfo[],
  sample = 0,
  concurrency = 16,
): Promise<HistoryTally> {
  const listed: Record<string, number> = {};
  for (const info of workflows) listed[info.type] = (listed[info.type] ?? 0) + 1;
  const chosen = sample > 0 && sample < workflows.length ? shuffled(workflows).slice(0, sample) : [...workflows];
  const events: Record<string, Record<string, number>> = {};
  const workflowTaskTimes: number[] = [];
  await mapConcurrently(chosen, concurrency, async (info) => {
    const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
    const counts = (events[info.type] ??= {});
    for (const event of history.events ?? []) {
      const name = eventTypeName(event);
      counts[name] = (counts[name] ?? 0) + 1;
      if (name === 'WorkflowTaskCompleted') workflowTaskTimes.push(timestampMs(event.eventTime));
    }
  });
  return { listed, fetched: chosen.length, events, workflowTaskTimes };
}

/** Per-job figures from a tally: the sample's mean per workflow, scaled to every listed workflow, over `jobs`. */
export function perJob(tally: HistoryTally, jobs: number) {
  const listedTotal = Object.values(tally.listed).reduce((a, b) => a + b, 0);
  const scale = tally.fetched === 0 ? 0 : listedTotal / tally.fetched / jobs;
  const sum = (eventType?: string) =>
    Object.values(tally.events).reduce(
      (total, counts) =>
        total + (eventType ? (counts[eventType] ?? 0) : Object.values(counts).reduce((a, b) => a + b, 0)),
      0,
    );
  const byEventType: Record<string, number> = {};
  for (const counts of Object.values(tally.events))
    for (const [name, count] of Object.entries(counts)) byEventType[name] = (byEventType[name] ?? 0) + count * scale;
  return {
    events: sum() * scale,
    workflowTasks: sum('WorkflowTaskCompleted') * scale,
    activityTasks: sum('ActivityTaskScheduled') * scale,
    /** Local activities (and side effects) leave a marker. */
    markers: sum('MarkerRecorded') * scale,
    timers: sum('TimerStarted') * scale,
    byEventType,
  };
}

/** Terminates whatever still runs on the task queue (a run that timed out, a waiting job). */
export async function terminateOpen(client: Client, taskQueue: string, reason: string): Promise<number> {
  const open: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query: onQueue(taskQueue, 'ExecutionStatus = "Running"') }))
    open.push(info);
  await mapConcurrently(open, 16, (info) =>
    client.workflow
      .getHandle(info.workflowId, info.runId)
      .terminate(reason)
      .catch(() => undefined),
  );
  return open.length;
}

/** Deletes the schedules whose ID mentions `token` (the service's unique name). */
export async function deleteSchedulesMentioning(client: Client, token: string): Promise<number> {
  const ids: string[] = [];
  for await (const schedule of client.schedule.list())
    if (schedule.scheduleId.includes(token)) ids.push(schedule.scheduleId);
  await Promise.all(
    ids.map((id) =>
      client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined),
    ),
  );
  return ids.length;
}
