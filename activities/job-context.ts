/**
 * Builds the context a service step receives, and writes back the metadata
 * the step changed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../core/config/index.js';
import { JobStateError } from '../core/errors.js';
import type { JobContext, Metadata } from '../core/service.js';
import type { Pool } from './database.js';
import { readJob, type JobRow } from './job-row.js';
import { createJobLogger } from './job-logger.js';
import type { Mailer } from './mail.js';

export interface StepContext {
  context: JobContext;
  /** Writes the metadata columns the step changed; call after the step returns. */
  saveMetadata(): Promise<void>;
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

export async function loadStepContext(
  config: ServiceConfig,
  pool: Pool,
  mailer: Mailer,
  name: string,
): Promise<StepContext> {
  const row: JobRow = await readJob(pool, name);
  if (row.directory === null) throw new JobStateError(name, 'has no directory (expired?); its steps cannot run');
  const directory = row.directory;
  const stat = await fs.stat(directory).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new JobStateError(
      name,
      `its directory ${directory} ${stat ? 'is not a directory' : 'is missing'}; restore it, or fail the job`,
    );
  }
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
    metadata: new Proxy(metadata, {
      set(target, key, value) {
        if (typeof key !== 'string' || !(key in before)) {
          throw new JobStateError(name, `metadata has no column "${String(key)}"; declare it in the service's columns`);
        }
        target[key] = value as Metadata[string];
        return true;
      },
    }),
    log: createJobLogger(directory),
    path: (...segments) => path.join(directory, ...segments),
    async sendUserEmail(subject, body) {
      if (row.contactEmail) await mailer.send({ to: row.contactEmail, subject, text: body });
    },
  };
  return {
    context,
    async saveMetadata() {
      const changed = changedColumns(before, metadata);
      const columns = Object.keys(changed);
      if (columns.length === 0) return;
      await pool.query(`UPDATE jobs SET ${columns.map((column) => `\`${column}\` = ?`).join(', ')} WHERE name = ?`, [
        ...Object.values(changed),
        name,
      ]);
    },
  };
}
