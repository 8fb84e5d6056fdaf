/** The rows a new job brings: what a frontend's submit inserts, all or nothing. */
import type mysql from 'mysql2/promise';

export interface NewJob {
  name: string;
  passwd: string;
  user: string | null;
  contactEmail: string | null;
  directory: string;
  url: string;
  /** Jobs that must complete first (its `dependencies` rows). */
  parents: readonly string[];
}

/**
 * The row and its `dependencies` rows in one transaction: a child is never
 * seen without its parents, and a failed insert leaves no row at all.
 * A name already taken fails with MySQL's ER_DUP_ENTRY.
 */
export async function insertJob(db: Pick<mysql.Pool, 'getConnection'>, job: NewJob): Promise<void> {
  const connection = await db.getConnection();
  try {
    await connection.beginTransaction();
    await connection.query(
      'INSERT INTO jobs (name, passwd, user, contact_email, directory, url, submit_time) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())',
      [job.name, job.passwd, job.user, job.contactEmail, job.directory, job.url],
    );
    if (job.parents.length > 0) {
      await connection.query('INSERT INTO dependencies (child, parent) VALUES ?', [
        job.parents.map((parent) => [job.name, parent]),
      ]);
    }
    await connection.commit();
  } catch (error) {
    await connection.rollback().catch(() => undefined);
    throw error;
  } finally {
    connection.release();
  }
}
