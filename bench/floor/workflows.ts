/** The floor: the least a workflow can do on Temporal, one local activity that does nothing. */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { FloorActivities } from './activities.js';

const { nothing } = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

export async function floorWorkflow(): Promise<void> {
  await nothing();
}
