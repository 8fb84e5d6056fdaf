/**
 * The jobs-by-state gauge: one `GROUP BY state` (an index scan) every few
 * seconds per worker, whatever the job rate, and only when metrics are on.
 * Every worker of a service reports the same table: dashboards take the max.
 */
import type { Logger } from '@temporalio/common';
import type { Pool } from '../store/pool.js';
import { isJobState, type JobState } from '../core/states.js';
import { countJobsByState } from '../store/job-listing.js';
import type { JobMetrics } from './job-metrics.js';

export const JOB_COUNT_INTERVAL_MS = 5000;

/** The counts of the states saliweb defines: a bad row's state (an invalid ENUM value reads as '') is no gauge label. */
function knownStates(counts: Partial<Record<string, number>>): Partial<Record<JobState, number>> {
  const known: Partial<Record<JobState, number>> = {};
  for (const [state, n] of Object.entries(counts)) if (isJobState(state)) known[state] = n;
  return known;
}

/** Refreshes the gauge now and every `intervalMs`; returns a function that stops it. */
export function startJobCountGauge(
  pool: Pick<Pool, 'query'>,
  metrics: JobMetrics,
  log: Logger,
  intervalMs = JOB_COUNT_INTERVAL_MS,
): () => void {
  let failing = false;
  let running = false;
  const refresh = async () => {
    if (running) return;
    running = true;
    try {
      metrics.jobCounts(knownStates(await countJobsByState(pool)));
      failing = false;
    } catch (error) {
      // One line per outage, not one per refresh.
      if (!failing) log.warn('could not count jobs by state for the metrics', { error: (error as Error).message });
      failing = true;
    } finally {
      running = false;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
