/**
 * The Temporal Schedules of one service: reconcile every `check_minutes`,
 * old jobs every tenth of the shorter of the archive/expire delays (as
 * saliweb checked them). Creating them again updates them, so a changed
 * config takes effect at the next worker start. Several workers may start
 * at once, so creating and updating must tolerate each other.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { ServiceConfig } from '../core/config/index.js';

export function scheduleIds(serviceName: string) {
  return { reconcile: `${serviceName}/reconcile`, oldJobs: `${serviceName}/old-jobs` };
}

/** At least a second (Temporal's resolution), at most a day. */
function clampInterval(ms: number): number {
  return Math.min(Math.max(Math.round(ms), 1000), 86400_000);
}

export function oldJobsIntervalMs(config: ServiceConfig): number | null {
  const delays = [config.oldjobs.archiveMs, config.oldjobs.expireMs].filter((ms): ms is number => ms !== null);
  return delays.length === 0 ? null : clampInterval(Math.min(...delays) / 10);
}

/**
 * Update, or create when absent. Between the update's "not found" and the
 * create another worker may have created it: then update again. Every
 * worker writes the same options, so the last write winning is harmless.
 */
async function upsertSchedule(client: Client, options: ScheduleOptions): Promise<void> {
  const handle = client.schedule.getHandle(options.scheduleId);
  const update = () =>
    handle.update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: options.policies,
    }));
  try {
    return await update();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
  try {
    await client.schedule.create(options);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await update();
  }
}

export async function ensureSchedules(
  client: Client,
  config: ServiceConfig,
  taskQueue = config.temporal.taskQueue,
): Promise<void> {
  const serviceName = config.general.serviceName;
  const ids = scheduleIds(serviceName);
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' };
  await upsertSchedule(client, {
    scheduleId: ids.reconcile,
    spec: { intervals: [{ every: clampInterval(config.backend.checkMinutes * 60_000) }] },
    action: { type: 'startWorkflow', workflowType: 'reconcileWorkflow', taskQueue, args: [{ serviceName }] },
    policies,
  });
  const every = oldJobsIntervalMs(config);
  if (every === null) {
    await client.schedule
      .getHandle(ids.oldJobs)
      .delete()
      .catch(() => undefined);
    return;
  }
  await upsertSchedule(client, {
    scheduleId: ids.oldJobs,
    spec: { intervals: [{ every }] },
    action: { type: 'startWorkflow', workflowType: 'oldJobsWorkflow', taskQueue, args: [{ serviceName }] },
    policies,
  });
}

export async function deleteSchedules(client: Client, config: ServiceConfig): Promise<void> {
  for (const id of Object.values(scheduleIds(config.general.serviceName))) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  }
}
