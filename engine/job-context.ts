/**
 * Builds the context a service step receives, and writes back the metadata
 * the step changed.
 */
import { declaredColumnsOnly } from '../core/job-metadata.js';
import path from 'node:path';
import type { Logger } from '@temporalio/common';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import type { JobContext, Metadata } from '../core/service.js';
import type { Pool } from '../store/pool.js';
import { readJob, type JobRow } from '../store/job-row.js';
import { saveJobMetadata } from '../store/job-metadata.js';
import { checkJobDirectory, isOldJob } from './job-directory.js';
import { createJobLogger } from './job-logger.js';
import type { Mailer } from './mail.js';
import { readCycleRecord, serviceCycle } from './run-cycle-record.js';

export interface StepContext {
  context: JobContext;
  /** Writes the metadata columns the step changed (and returns them); call after the step returns. */
  saveMetadata(): Promise<Metadata>;
}

function changedColumns(before: Metadata, after: Metadata): Metadata {
  const changed: Metadata = {};
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    const same = old instanceof Date && value instanceof Date ? old.getTime() === value.getTime() : old === value;
    if (!same) changed[key] = value;
  }
  return changed;
}

/**
 * The context for a step of job `name`; `known` saves reading the row again
 * when the caller has it. The directory is checked (a real directory inside
 * a state folder) before any step may write to it.
 */
export async function loadStepContext(
  config: ServiceConfig,
  pool: Pool,
  mailer: Mailer,
  name: string,
  known?: JobRow,
  /** The worker's log: `job.log` lines go there too. */
  workerLog?: Logger,
): Promise<StepContext> {
  const row: JobRow = known ?? (await readJob(pool, name));
  if (row.directory === null) throw new JobStateError(name, 'has no directory (expired?); its steps cannot run');
  const directory = await checkJobDirectory(config, name, row.directory, { oldLocationOk: isOldJob(row.state) });
  const cycle = await readCycleRecord(directory);
  const before = { ...row.metadata };
  const metadata: Metadata = { ...row.metadata };
  const context: JobContext = {
    name,
    directory,
    url: row.url,
    serviceName: config.general.serviceName,
    config,
    user: row.user,
    contactEmail: row.contactEmail,
    cycle: cycle ? serviceCycle(cycle) : 1,
    rerunData: cycle?.rerun?.data,
    metadata: declaredColumnsOnly(name, metadata, before),
    log: createJobLogger(directory, workerLog),
    path: (...segments) => path.join(directory, ...segments),
    async sendUserEmail(subject, body) {
      if (row.contactEmail) await mailer.send({ to: row.contactEmail, subject, text: body });
    },
    async sendAdminEmail(subject, body) {
      await mailer.send({ to: config.general.adminEmail, subject, text: body });
    },
    async sendEmail(to, subject, body) {
      const list = typeof to === 'string' ? [to] : [...to];
      if (list.length > 0) await mailer.send({ to: list.join(', '), subject, text: body });
    },
  };
  return {
    context,
    async saveMetadata() {
      const changed = changedColumns(before, metadata);
      await saveJobMetadata(pool, name, changed);
      return changed;
    },
  };
}
