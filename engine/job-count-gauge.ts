/**
 * The jobs-by-state gauge: one `GROUP BY state` (an index scan) every few
 * seconds per worker, whatever the job rate, and only when metrics are on.
 * Every worker of a service reports the same table: dashboards take the max.
 */
import type mysql from 'mysql2/promise';
import type { Logger } from '@temporalio/common';
import { isJobState, type JobState } from '../core/states.js';
import type { Pool } from '../store/pool.js';
import type { JobMetrics } from './job-metrics.js';

export const JOB_COUNT_INTERVAL_MS = 5000;

export async function countJobsByState(pool: Pick<Pool, 'query'>): Promise<Partial<Record<JobState, number>>> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  const counts: Partial<Record<JobState, number>> = {};
  for (const row of rows) if (isJobState(row.state)) counts[row.state] = Number(row.n);
  return counts;
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
