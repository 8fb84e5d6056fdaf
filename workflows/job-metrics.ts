/**
 * saliflow's own Prometheus metric, next to the SDK's: how many jobs entered
 * each state (tagged with the task queue, which names the service). The
 * workflow metric meter skips replays, so counts are not doubled.
 */
import { metricMeter } from '@temporalio/workflow';
import type { JobState } from '../core/states.js';

const entered = metricMeter.createCounter('saliflow_job_state_entered', 'jobs', 'Jobs that entered a state');

export function countState(state: JobState): void {
  entered.add(1, { state });
}
