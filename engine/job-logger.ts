/**
 * A job's `framework.log` (created on the first message, appended to after),
 * and the same lines in the worker's log with the job's context (the
 * worker's logger bounds their length; framework.log keeps them whole).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '@temporalio/common';
import type { JobLogger, JobLogLevel } from '../core/service.js';

export const FRAMEWORK_LOG = 'framework.log';

/** Python logging's level names, as saliweb's framework.log has them. */
const LEVELS: Record<JobLogLevel, { rank: number; label: string }> = {
  debug: { rank: 10, label: 'DEBUG' },
  info: { rank: 20, label: 'INFO' },
  warn: { rank: 30, label: 'WARNING' },
  error: { rank: 40, label: 'ERROR' },
  critical: { rank: 50, label: 'CRITICAL' },
};

export function createJobLogger(directory: string, workerLog?: Logger, level: JobLogLevel = 'info'): JobLogger {
  let threshold = LEVELS[level].rank;
  const write = (at: JobLogLevel, message: string) => {
    const { rank, label } = LEVELS[at];
    if (rank < threshold) return;
    const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
    fs.appendFileSync(path.join(directory, FRAMEWORK_LOG), `${stamp} ${label} ${message}\n`);
    if (!workerLog) return;
    const fields = { source: 'job.log' };
    if (rank >= LEVELS.error.rank) workerLog.error(message, fields);
    else if (rank >= LEVELS.warn.rank) workerLog.warn(message, fields);
    else if (rank >= LEVELS.info.rank) workerLog.info(message, fields);
    else workerLog.debug(message, fields);
  };
  return {
    debug: (message) => write('debug', message),
    info: (message) => write('info', message),
    warn: (message) => write('warn', message),
    error: (message) => write('error', message),
    critical: (message) => write('critical', message),
    setLevel(next) {
      if (!(next in LEVELS))
        throw new TypeError(`job.log.setLevel(${JSON.stringify(next)}): use one of ${Object.keys(LEVELS).join(', ')}`);
      threshold = LEVELS[next].rank;
    },
  };
}
