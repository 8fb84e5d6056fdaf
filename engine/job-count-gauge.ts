/**
 * The jobs-by-state gauge: one `GROUP BY state` (an index scan) every few
 * seconds per worker, whatever the job rate, and only when metrics are on.
 * Every worker of a service reports the same table: dashboards take the max.
 */
import type { Logger } from '@temporalio/common';
import type { Pool } from '../store/pool.js';
import { countJobsByState } from '../store/job-counts.js';
import type { JobMetrics } from './job-metrics.js';

export const JOB_COUNT_INTERVAL_MS = 5000;

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
      metrics.jobCounts(await countJobsByState(pool));
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
