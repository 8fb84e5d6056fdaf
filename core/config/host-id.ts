/**
 * This host's identity: local runs are waited for and cancelled on the host
 * that started them. The one place `SALIFLOW_HOST_ID` is read.
 */
import os from 'node:os';
import { envString } from './env.js';

export function defaultHostId(env: NodeJS.ProcessEnv = process.env): string {
  return envString(env, 'SALIFLOW_HOST_ID') ?? os.hostname();
}
