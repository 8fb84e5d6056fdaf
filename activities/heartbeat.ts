/**
 * Keeps a long activity's heartbeat going while `work` runs, so Temporal
 * notices a dead worker within its heartbeat timeout and retries elsewhere,
 * however long the work itself takes.
 */
import { Context } from '@temporalio/activity';

export async function whileHeartbeating<T>(work: () => Promise<T>, everyMs = 5000): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    // Called directly (an operator command, a test), not as an activity: nothing to heartbeat to.
    return work();
  }
  context.heartbeat();
  const beat = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}

/** The activity's cancellation as a rejection, when called inside an activity; nothing otherwise. */
export function activityCancellation(): Promise<never>[] {
  try {
    return [Context.current().cancelled];
  } catch {
    return [];
  }
}
