/** Writing back the service's own columns of a job's row (engine/job-context.ts). */
import type mysql from 'mysql2/promise';
import type { Metadata } from '../core/service.js';

/**
 * Sets the columns in `changed` (names of the service's declared columns, which
 * the step context admitted) on job `name`'s row; nothing when there are none.
 */
export async function saveJobMetadata(db: Pick<mysql.Pool, 'query'>, name: string, changed: Metadata): Promise<void> {
  const columns = Object.keys(changed);
  if (columns.length === 0) return;
  await db.query(`UPDATE jobs SET ${columns.map((column) => `\`${column}\` = ?`).join(', ')} WHERE name = ?`, [
    ...Object.values(changed),
    name,
  ]);
}
