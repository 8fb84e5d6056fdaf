/**
 * A job's `framework.log` (created on the first message, appended to after),
 * and the same lines in the worker's log with the job's context (the
 * worker's logger bounds their length; framework.log keeps them whole).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '@temporalio/common';
import type { JobLogger } from '../core/service.js';

export const FRAMEWORK_LOG = 'framework.log';

export function createJobLogger(directory: string, workerLog?: Logger): JobLogger {
  const write = (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => {
    const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
    fs.appendFileSync(path.join(directory, FRAMEWORK_LOG), `${stamp} ${level} ${message}\n`);
    if (!workerLog) return;
    const fields = { source: 'job.log' };
    if (level === 'ERROR') workerLog.error(message, fields);
    else if (level === 'WARNING') workerLog.warn(message, fields);
    else workerLog.info(message, fields);
  };
  return {
    info: (message) => write('INFO', message),
    warn: (message) => write('WARNING', message),
    error: (message) => write('ERROR', message),
  };
}
