/**
 * Submitting a job as a saliweb frontend does (SALIWEB.md "How the frontend
 * submits"): create the job directory under INCOMING, insert the `jobs` row
 * with the frontend's MySQL user, then write `INCOMING <name>\n` to the
 * backend's Unix socket, ignoring a failed ping (the backend's periodic
 * check would still find the job). Nothing here imports saliflow's engine.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';

export interface Frontend {
  incomingDir: string;
  /** The frontend user's pool (SELECT/INSERT on jobs). */
  db: Pick<mysql.Pool, 'query'>;
  /** `[general] socket` of the service. */
  socket: string;
  urltop: string;
}

export interface FrontendStats {
  submitted: number;
  /** Pings that failed (the job then waits for the backend's periodic check). */
  pingFailures: number;
  lastPingError?: string;
}

function ping(socketPath: string, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => socket.end(line));
    socket.once('close', (hadError) => (hadError ? undefined : resolve()));
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}

export function createFrontend(frontend: Frontend) {
  const stats: FrontendStats = { submitted: 0, pingFailures: 0 };
  return {
    stats,
    async submit(name: string, user = 'bench'): Promise<void> {
      const directory = path.join(frontend.incomingDir, name);
      await fs.mkdir(directory);
      const passwd = randomBytes(5).toString('hex');
      await frontend.db.query(
        'INSERT INTO jobs (name, passwd, user, contact_email, directory, url, submit_time) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())',
        [name, passwd, user, null, directory, `${frontend.urltop}/job/${name}?passwd=${passwd}`],
      );
      stats.submitted += 1;
      try {
        await ping(frontend.socket, `INCOMING ${name}\n`);
      } catch (error) {
        stats.pingFailures += 1;
        stats.lastPingError = (error as Error).message;
      }
    },
  };
}
