/**
 * The periodic work saliweb's daemon did between jobs, as activities for the
 * maintenance workflows: finding old jobs to archive or expire, starting
 * INCOMING jobs nobody started, and deleting abandoned INCOMING folders.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { ServiceConfig } from '../core/config/index.js';
import type { Pool } from './database.js';

export interface DueJobs {
  archive: string[];
  expire: string[];
}

/** How many jobs one maintenance run handles; the next run takes the rest. */
export const MAINTENANCE_BATCH = 200;

const ABANDONED_AFTER_MS = 60 * 60 * 1000;

export function createMaintenanceActivities(config: ServiceConfig, pool: Pool) {
  async function names(sql: string): Promise<string[]> {
    const [rows] = await pool.query<mysql.RowDataPacket[]>(sql, [MAINTENANCE_BATCH]);
    return rows.map((row) => String(row.name));
  }

  return {
    async findOldJobs(): Promise<DueJobs> {
      return {
        archive: await names(
          "SELECT name FROM jobs WHERE state = 'COMPLETED' AND archive_time <= UTC_TIMESTAMP() ORDER BY archive_time LIMIT ?",
        ),
        expire: await names(
          "SELECT name FROM jobs WHERE state = 'ARCHIVED' AND expire_time <= UTC_TIMESTAMP() ORDER BY expire_time LIMIT ?",
        ),
      };
    },

    /**
     * INCOMING rows in submit order, and PREPROCESSING ones (another job's
     * admission may have admitted a row that has no workflow yet): the
     * reconcile workflow starts the workflows of those that have none.
     */
    async findIncomingJobs(): Promise<{ job: string; user: string | null }[]> {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT name, user FROM jobs WHERE state IN ('INCOMING', 'PREPROCESSING') ORDER BY submit_time, name LIMIT ?",
        [MAINTENANCE_BATCH],
      );
      return rows.map((row) => ({ job: String(row.name), user: row.user ?? null }));
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
        const { mtimeMs } = await fs.stat(full);
        if (Date.now() - mtimeMs < ABANDONED_AFTER_MS) continue;
        const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT 1 FROM jobs WHERE name = ?', [entry.name]);
        if (rows.length > 0) continue;
        await fs.rm(full, { recursive: true, force: true });
        deleted.push(entry.name);
      }
      return deleted;
    },
  };
}
