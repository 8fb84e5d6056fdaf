/**
 * saliweb's `dependencies` schema and the frontend's grants, as `saliflow db
 * provision` makes them (saliweb's `scons` checks both), on the real MariaDB.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { adminConnection, createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ trackHostname: true });
});
after(async () => {
  await fixture.cleanup();
});

test("dependencies: child and parent VARCHAR(40) NOT NULL DEFAULT '', both indexed", async () => {
  const [columns] = await fixture.db.query<mysql.RowDataPacket[]>(
    'SELECT column_name AS name, column_type AS type, is_nullable AS nullable, column_default AS dflt ' +
      "FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'dependencies' ORDER BY ordinal_position",
  );
  assert.deepEqual(
    columns.map((column) => ({ ...column })),
    ['child', 'parent'].map((name) => ({ name, type: 'varchar(40)', nullable: 'NO', dflt: "''" })),
  );
  const [indexes] = await fixture.db.query<mysql.RowDataPacket[]>('SHOW INDEX FROM dependencies');
  assert.deepEqual([...new Set(indexes.map((index) => String(index.Column_name)))].sort(), ['child', 'parent']);
});

test("the frontend may SELECT jobs, INSERT only a submission's columns, and SELECT/INSERT/UPDATE/DELETE dependencies, @'localhost' as saliweb", async () => {
  const user = fixture.config.database.frontend.user;
  const admin = await mysql.createConnection(adminConnection());
  try {
    for (const host of ['localhost', '127.0.0.1']) {
      const [grants] = await admin.query<mysql.RowDataPacket[]>('SHOW GRANTS FOR ?@?', [user, host]);
      const lines = grants.map((grant) => String(Object.values(grant)[0]));
      const db = fixture.config.database.db;
      assert.ok(
        lines.some(
          (line) =>
            /^GRANT SELECT, INSERT \(/.test(line) &&
            line.includes(`.\`jobs\` TO \`${user}\`@\`${host}\``) &&
            ['name', 'user', 'passwd', 'directory', 'contact_email', 'url', 'submit_time', 'hostname'].every((column) =>
              line.includes(`\`${column}\``),
            ) &&
            !line.includes('`state`'),
        ),
        `column-limited INSERT on jobs for ${user}@${host}:\n${lines.join('\n')}`,
      );
      assert.ok(
        lines.includes(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${db}\`.\`dependencies\` TO \`${user}\`@\`${host}\``),
        lines.join('\n'),
      );
    }
  } finally {
    await admin.end();
  }
  const { frontendDb } = fixture;
  await frontendDb.query(
    "INSERT INTO jobs (name, user, passwd, directory, contact_email, url, submit_time, hostname) VALUES ('g1', NULL, 'p', '/x', NULL, 'u', UTC_TIMESTAMP(), '10.0.0.1')",
  );
  await assert.rejects(
    frontendDb.query(
      "INSERT INTO jobs (name, url, submit_time, state) VALUES ('g2', 'u', UTC_TIMESTAMP(), 'COMPLETED')",
    ),
    /command denied|INSERT command denied/i,
  );
  await assert.rejects(frontendDb.query("UPDATE jobs SET state = 'FAILED' WHERE name = 'g1'"), /denied/i);
  await frontendDb.query("INSERT INTO dependencies (child, parent) VALUES ('g1', 'p1')");
  await frontendDb.query("UPDATE dependencies SET parent = 'p2' WHERE child = 'g1'");
  const [rows] = await frontendDb.query<mysql.RowDataPacket[]>('SELECT parent FROM dependencies');
  assert.deepEqual(
    rows.map((row) => row.parent),
    ['p2'],
  );
  await frontendDb.query("DELETE FROM dependencies WHERE child = 'g1'");
  await fixture.db.query("DELETE FROM jobs WHERE name = 'g1'");
});
