/**
 * `saliflow db check` names the privileges a MySQL user lacks, with the GRANT. And saliflow's own tables change by numbered migrations (store/migrations.ts): `db provision` and
 * `db create-tables` apply them, `db check` says which a database lacks, `db migrate` applies
 * those (once: a second run applies nothing), and so does a worker at start.
 */
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import assert from 'node:assert/strict';
import { MIGRATIONS, pendingMigrations } from '../../store/migrations.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { saliflowFor } from '../support/processes.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

const saliflow = saliflowFor(() => fixture.configFile);

test('the migrations are numbered 1, 2, 3, … and the released ones keep their place', () => {
  assert.deepEqual(
    MIGRATIONS.map(({ version }) => version),
    MIGRATIONS.map((_, index) => index + 1),
  );
  // Append-only: a released migration is never edited, moved or removed (add new ones at the end).
  const released = ['create saliflow_control', 'create saliflow_lease', 'create saliflow_status_outages'];
  released.forEach((start, index) => assert.ok(MIGRATIONS[index]!.name.startsWith(start), MIGRATIONS[index]!.name));
});

test('a provisioned database has every migration; db check names a missing one and db migrate applies it once', async () => {
  assert.deepEqual(await pendingMigrations(fixture.db), []);
  assert.equal((await saliflow('db', 'check')).exitCode, 0);

  // A database from before migration 3 (or one that lost its table).
  await fixture.db.query('DROP TABLE IF EXISTS saliflow_status_outages');
  await fixture.db.query('DELETE FROM saliflow_migrations WHERE version = 3');
  const checked = await saliflow('db', 'check');
  assert.equal(checked.exitCode, 3, checked.stderr);
  assert.match(
    checked.stderr,
    /saliflow's tables lack migration\(s\) 3 \(create saliflow_status_outages \(scheduler status outages\)\): run `saliflow db migrate`/,
  );

  const migrated = await saliflow('db', 'migrate');
  assert.equal(migrated.exitCode, 0, migrated.stderr);
  assert.match(migrated.stdout, /^applied migration 3: create saliflow_status_outages/m);
  await fixture.db.query('SELECT 1 FROM saliflow_status_outages LIMIT 0');
  const again = await saliflow('db', 'migrate');
  assert.doesNotMatch(again.stdout, /applied migration/);
  assert.equal((await saliflow('db', 'check')).exitCode, 0);
});

test('db check names a privilege the backend or frontend user lacks, with the GRANT that gives it', async () => {
  const { db, backend, frontend } = fixture.config.database;
  const admin = await mysql.createConnection(fixture.admin);
  // Every account of each user (`db provision` makes saliweb's @'localhost' and @'127.0.0.1', where TCP lands).
  const hostsOf = async (user: string) =>
    (await admin.query<mysql.RowDataPacket[]>('SELECT Host AS host FROM mysql.user WHERE User = ?', [user]))[0].map(
      (row) => String(row.host),
    );
  const backendHosts = await hostsOf(backend.user);
  const frontendHosts = await hostsOf(frontend.user);
  try {
    for (const host of backendHosts) await admin.query(`REVOKE UPDATE ON \`${db}\`.* FROM ?@?`, [backend.user, host]);
    for (const host of frontendHosts) {
      await admin.query(`REVOKE INSERT ON \`${db}\`.dependencies FROM ?@?`, [frontend.user, host]);
    }
    const checked = await saliflow('db', 'check');
    assert.equal(checked.exitCode, 3, checked.stderr);
    // The GRANT names the account the user connects as (here over TCP: 127.0.0.1).
    assert.ok(
      checked.stderr.includes(
        `the backend user ${backend.user} lacks UPDATE on \`${db}\`.jobs: GRANT UPDATE ON \`${db}\`.jobs TO '${backend.user}'@'127.0.0.1'`,
      ),
      checked.stderr,
    );
    assert.ok(
      checked.stderr.includes(
        `the frontend user ${frontend.user} lacks INSERT on \`${db}\`.dependencies: GRANT INSERT ON \`${db}\`.dependencies TO '${frontend.user}'@'127.0.0.1'`,
      ),
      checked.stderr,
    );
  } finally {
    for (const host of backendHosts) await admin.query(`GRANT UPDATE ON \`${db}\`.* TO ?@?`, [backend.user, host]);
    for (const host of frontendHosts) {
      await admin.query(`GRANT INSERT ON \`${db}\`.dependencies TO ?@?`, [frontend.user, host]);
    }
    await admin.end();
  }
  assert.equal((await saliflow('db', 'check')).exitCode, 0);
});
