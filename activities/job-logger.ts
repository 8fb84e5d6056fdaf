/** A job's `framework.log`: created on the first message, appended to after. */
import fs from 'node:fs';
import path from 'node:path';
import type { JobLogger } from '../core/service.js';

export const FRAMEWORK_LOG = 'framework.log';

export function createJobLogger(directory: string): JobLogger {
  const write = (level: string, message: string) => {
    const stamp = new Date().toISOString().replace('T', ' ').slice(0, 19);
    fs.appendFileSync(path.join(directory, FRAMEWORK_LOG), `${stamp} ${level} ${message}\n`);
  };
  return {
    info: (message) => write('INFO', message),
    warn: (message) => write('WARNING', message),
    error: (message) => write('ERROR', message),
  };
}
