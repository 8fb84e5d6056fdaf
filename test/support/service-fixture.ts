/**
 * A service of its own for each test: a fresh MySQL database (with the two
 * users saliweb has), fresh directories, a saliweb-format config file, and
 * a task queue nobody else polls. Tests can run in any order.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { loadServiceConfig, type ServiceConfig } from '../../core/config/index.js';
import type { ColumnSpec } from '../../core/schema.js';
import {
  DEFAULT_ACCOUNT_HOSTS,
  dropServiceDatabase,
  provisionServiceDatabase,
  type AdminConnection,
} from '../../store/database-admin.js';
import { randomToken } from '../../client/job-names.js';
import { stackSettings, type StackSettings } from '../../scripts/stack/settings.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

export function adminConnection(settings: StackSettings = stackSettings()): AdminConnection {
  const { host, port, adminUser, adminPassword } = settings.mysql;
  return { host, port, user: adminUser, password: adminPassword };
}

export interface FixtureOptions {
  columns?: readonly ColumnSpec[];
  /** Extra lines per section, e.g. `{ oldjobs: ['archive: 1h'] }` replaces defaults of that key. */
  sections?: Record<string, Record<string, string>>;
  trackHostname?: boolean;
  /** The MySQL and Temporal servers to use; default the shared dev stack (e.g. a private stack's `settings`). */
  stack?: StackSettings;
}

export interface ServiceFixture {
  config: ServiceConfig;
  root: string;
  configFile: string;
  taskQueue: string;
  /** The MySQL admin account of the stack the fixture lives on. */
  admin: AdminConnection;
  /** The backend user's pool. */
  db: mysql.Pool;
  /** The frontend user's pool (SELECT/INSERT only). */
  frontendDb: mysql.Pool;
  /** The real SMTP server the service's mail goes to. */
  smtp: SmtpSink;
  cleanup(): Promise<void>;
}

function iniText(sections: Record<string, Record<string, string>>): string {
  return Object.entries(sections)
    .map(
      ([name, keys]) =>
        `[${name}]\n${Object.entries(keys)
          .map(([key, value]) => `${key}: ${value}`)
          .join('\n')}\n`,
    )
    .join('\n');
}

export async function createServiceFixture(options: FixtureOptions = {}): Promise<ServiceFixture> {
  const id = randomToken(8).toLowerCase();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `saliflow-${id}-`));
  const db = `sftest_${id}`;
  const backend = { user: `sfb_${id}`, passwd: `b-${randomToken(12)}` };
  const frontend = { user: `sff_${id}`, passwd: `f-${randomToken(12)}` };
  const stack = options.stack ?? stackSettings();
  const admin = adminConnection(stack);
  await provisionServiceDatabase(admin, {
    db,
    backend,
    frontend,
    ...(options.columns ? { columns: options.columns } : {}),
    trackHostname: options.trackHostname ?? false,
  });
  const smtp = await startSmtpSink();
  const temporal = stack.temporal;
  const taskQueue = `test-${id}`;
  const sections: Record<string, Record<string, string>> = {
    general: {
      admin_email: 'admin@test.example.org',
      // Absolute: a worker may run in any folder, and a frontend needs the full path.
      socket: path.join(root, 'backend.socket'),
      service_name: `Test${id}`,
      urltop: `http://127.0.0.1/test${id}`,
      track_hostname: options.trackHostname ? 'true' : 'false',
      // saliweb's default ACL user, apache, is rarely on a test host: the ACL goes to the user running the tests.
      socket_user: os.userInfo().username,
    },
    backend: { user: 'root', state_file: 'backend.state', check_minutes: '1' },
    database: {
      db,
      host: admin.host,
      port: String(admin.port),
      backend_config: 'backend.conf',
      frontend_config: 'frontend.conf',
    },
    directories: {
      incoming: 'incoming',
      preprocessing: 'running',
      completed: 'completed',
      failed: 'failed',
    },
    oldjobs: { archive: '30d', expire: '90d' },
    temporal: { address: temporal.address, namespace: temporal.namespace, task_queue: taskQueue },
    mail: { smtp_host: '127.0.0.1', smtp_port: String(smtp.port), from: 'backend@test.example.org' },
  };
  for (const [section, keys] of Object.entries(options.sections ?? {})) {
    sections[section] = { ...(sections[section] ?? {}), ...keys };
  }
  const configFile = path.join(root, 'service.conf');
  await fs.writeFile(configFile, iniText(sections));
  await fs.writeFile(path.join(root, 'backend.conf'), iniText({ backend_db: backend }));
  await fs.writeFile(path.join(root, 'frontend.conf'), iniText({ frontend_db: frontend }));
  for (const dir of ['incoming', 'running', 'completed', 'failed']) await fs.mkdir(path.join(root, dir));
  const config = loadServiceConfig(configFile, {});
  const pool = (user: { user: string; passwd: string }) =>
    mysql.createPool({
      host: admin.host,
      port: admin.port,
      user: user.user,
      password: user.passwd,
      database: db,
      timezone: 'Z',
    });
  const backendPool = pool(backend);
  const frontendPool = pool(frontend);
  return {
    config,
    root,
    configFile,
    taskQueue,
    admin,
    db: backendPool,
    frontendDb: frontendPool,
    smtp,
    async cleanup() {
      await smtp.close();
      await backendPool.end();
      await frontendPool.end();
      await dropServiceDatabase(admin, db);
      const connection = await mysql.createConnection(admin);
      for (const user of [backend.user, frontend.user])
        for (const host of DEFAULT_ACCOUNT_HOSTS) await connection.query('DROP USER IF EXISTS ?@?', [user, host]);
      await connection.end();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
