/**
 * saliweb's MySQL default: with no host (nor port, nor socket) in
 * `[database]`, connect through the local server's Unix socket,
 * /var/lib/mysql/mysql.sock. A `socket` in the file is used as given.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_MYSQL_SOCKET, loadServiceConfig } from '../../core/config/index.js';
import { checkDatabase } from '../../store/pool.js';
import mysql from 'mysql2/promise';
import { stackSettings } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

/** The fixture's config with its [database] host and port lines replaced by `lines`. */
async function withDatabaseLines(name: string, lines: string[]): Promise<string> {
  const text = await fs.readFile(fixture.configFile, 'utf8');
  const edited = text.replace(/^host: .*\n^port: .*\n/m, lines.map((line) => `${line}\n`).join(''));
  assert.notEqual(edited, text, 'the fixture names its MySQL host and port');
  const file = path.join(fixture.root, `${name}.conf`);
  await fs.writeFile(file, edited);
  return file;
}

test('[database] socket: the backend connects through the dev MariaDB’s Unix socket', async () => {
  // Where the server the fixture uses listens (the dev stack may have been started from another checkout).
  const admin = await mysql.createConnection(fixture.admin);
  const [[row]] = await admin.query<mysql.RowDataPacket[]>('SELECT @@socket AS socket').finally(() => admin.end());
  const socket = String(row?.socket ?? stackSettings().mysql.socket);
  assert.ok(existsSync(socket), `the dev stack's MariaDB socket ${socket}`);
  const config = loadServiceConfig(await withDatabaseLines('by-socket', [`socket: ${socket}`]), {});
  assert.equal(config.database.socket, socket);
  await checkDatabase(config);
});

test(
  "no host, port or socket: saliweb's /var/lib/mysql/mysql.sock, named when it is not there",
  { skip: existsSync(DEFAULT_MYSQL_SOCKET) && `${DEFAULT_MYSQL_SOCKET} exists on this host` },
  async () => {
    const config = loadServiceConfig(await withDatabaseLines('by-default', []), {});
    assert.equal(config.database.socket, '/var/lib/mysql/mysql.sock');
    await assert.rejects(
      checkDatabase(config),
      /cannot reach MySQL at socket \/var\/lib\/mysql\/mysql\.sock \(saliweb's default with no \[database\] host or socket; give host and port for TCP\) \(ENOENT\)/,
    );
  },
);
