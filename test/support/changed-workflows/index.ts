/**
 * A release whose job workflow no longer matches the histories of jobs in flight (its first call is another
 * activity): what `saliflow upgrade-check --workflows` must refuse (test/integration/upgrade-check.test.ts).
 */
import { proxyLocalActivities } from '@temporalio/workflow';

const { renamedAdvance } = proxyLocalActivities<{ renamedAdvance(input: unknown): Promise<string> }>({
  startToCloseTimeout: '1 minute',
});

export async function jobWorkflow(input: unknown): Promise<string> {
  return renamedAdvance(input);
}
