/**
 * The periodic work saliweb's daemon did between jobs, as activities for the
 * maintenance workflows: finding old jobs to archive or expire, starting
 * the workflows of jobs that have none, and deleting abandoned INCOMING folders.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServiceConfig } from '../core/config/index.js';
import type { Client } from '@temporalio/client';
import { jobWorkflowId } from '../core/job-workflow-contract.js';
import type { Pool } from '../store/pool.js';
import { jobsDueForArchive, jobsDueForExpiry, jobsToReconcile, type DueJob } from '../store/maintenance.js';
import { jobExists } from '../store/job-listing.js';
import type { Admitter } from '../engine/admission.js';
import { needsOperator } from '../engine/operator-attention.js';
import { startJob } from './job-start.js';
import { whileHeartbeating } from './heartbeat.js';
import { StartupError } from '../core/errors.js';

export type { DueJob };

export interface DueJobs {
  archive: DueJob[];
  expire: DueJob[];
}

/** How many jobs one maintenance run handles; the next run takes the rest. */
export const MAINTENANCE_BATCH = 200;

const ABANDONED_AFTER_MS = 60 * 60 * 1000;

export interface MaintenanceDeps {
  /** The worker's Temporal client (reconcile starts workflows). */
  client?: () => Client | undefined;
  admitter?: Admitter;
}

export function createMaintenanceActivities(config: ServiceConfig, pool: Pool, deps: MaintenanceDeps = {}) {
  async function reconcile(): Promise<{ started: string[] }> {
    const client = deps.client?.();
    if (!client) throw new StartupError('reconcile needs a Temporal client; the worker provides one');
    const rows = await jobsToReconcile(pool);
    const open = new Set<string>();
    const query = `JobService = "${config.general.serviceName.replace(/["\\]/g, '')}" AND ExecutionStatus = "Running"`;
    for await (const execution of client.workflow.list({ query })) open.add(execution.workflowId);
    const started: string[] = [];
    for (const row of rows) {
      const job = row.name;
      if (open.has(jobWorkflowId(config.general.serviceName, job))) continue;
      // Left for an operator (engine/operator-attention.ts): starting it would only end again, every round.
      if (await needsOperator(config, row)) continue;
      const outcome = await startJob(client, config, { job, user: row.user, db: pool });
      if (outcome.started) started.push(job);
    }
    deps.admitter?.wake();
    return { started };
  }

  return {
    async findOldJobs(): Promise<DueJobs> {
      return {
        archive: await jobsDueForArchive(pool, MAINTENANCE_BATCH),
        expire: await jobsDueForExpiry(pool, MAINTENANCE_BATCH),
      };
    },

    /**
     * Starts the workflow of every unfinished job that has none open: rows a
     * legacy frontend inserted without a ping (or whose start was lost), and
     * orphans, in-flight rows whose workflow was terminated; the new run
     * resumes them from the row. A RUNNING job saliweb left without a run
     * record waits for an operator and is not started. Which jobs have an open workflow comes from
     * one visibility query, so jobs that are fine cost nothing each.
     */
    async reconcileJobs(): Promise<{ started: string[] }> {
      return whileHeartbeating(reconcile);
    },

    /**
     * Deletes folders in INCOMING that have no row and were not modified for
     * an hour: a frontend that died between mkdir and INSERT.
     */
    async deleteAbandonedIncoming(): Promise<string[]> {
      const incoming = config.directories.INCOMING;
      const entries = await fs.readdir(incoming, { withFileTypes: true }).catch(() => []);
      const deleted: string[] = [];
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const full = path.join(incoming, entry.name);
        // Gone since the listing: a job's directory on its way (reconcile has just started its workflow).
        const modified = await fs.stat(full).then(
          (stat) => stat.mtimeMs,
          (error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return undefined;
            throw error;
          },
        );
        if (modified === undefined || Date.now() - modified < ABANDONED_AFTER_MS) continue;
        if (await jobExists(pool, entry.name)) continue;
        await fs.rm(full, { recursive: true, force: true });
        deleted.push(entry.name);
      }
      return deleted;
    },
  };
}
