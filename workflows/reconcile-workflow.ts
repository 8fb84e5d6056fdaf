/**
 * The polling fallback saliweb's daemon had, run by a Schedule every
 * `[backend] check_minutes`: starts the workflow of every unfinished job
 * that has none open (rows from legacy frontends, lost starts, orphans whose
 * workflow was terminated), wakes the admitter, and deletes abandoned
 * INCOMING folders.
 */
import { store } from './activity-options.js';

export async function reconcileWorkflow(_input: {
  serviceName: string;
}): Promise<{ started: string[]; deleted: string[] }> {
  const { started } = await store.reconcileJobs();
  const deleted = await store.deleteAbandonedIncoming();
  return { started, deleted };
}
