import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaError } from '../../core/schema.js';
import { createLeaseTableSql, createTablesSql, dropTablesSql } from '../../store/tables.js';
import { assertTransition, isValidTransition, JOB_STATES, type JobState } from '../../core/states.js';

test('the jobs table is saliweb’s, with the ENUM in its fixed order', () => {
  const [jobs, dependencies] = createTablesSql();
  assert.match(
    jobs!,
    /state ENUM\('INCOMING','PREPROCESSING','RUNNING','POSTPROCESSING','COMPLETED','FAILED','EXPIRED','ARCHIVED','FINALIZING'\) NOT NULL DEFAULT 'INCOMING'/,
  );
  for (const column of [
    'name VARCHAR(40) PRIMARY KEY',
    'passwd CHAR(10)',
    'url TEXT NOT NULL',
    'submit_time DATETIME NOT NULL',
    'runner_id VARCHAR(200)',
    'failure TEXT',
    'INDEX (state)',
  ]) {
    assert.ok(jobs!.includes(column), column);
  }
  assert.ok(!jobs!.includes('hostname'));
  assert.match(createTablesSql({ trackHostname: true })[0]!, /hostname VARCHAR\(400\)/);
  assert.equal(
    dependencies,
    // saliweb's schema (issue 29): NOT NULL DEFAULT '' on both columns.
    "CREATE TABLE dependencies (child VARCHAR(40) NOT NULL DEFAULT '', parent VARCHAR(40) NOT NULL DEFAULT '', INDEX (child), INDEX (parent))",
  );
});

test('service columns: type, null, default and index', () => {
  const [jobs] = createTablesSql({
    columns: [
      { name: 'num_pdbs', type: 'integer', nullable: false, default: 0, index: true },
      { name: 'note', type: 'VARCHAR(100)', default: "it's" },
    ],
  });
  assert.match(jobs!, /`num_pdbs` INTEGER NOT NULL DEFAULT 0/);
  assert.match(jobs!, /`note` VARCHAR\(100\) DEFAULT 'it''s'/);
  assert.match(jobs!, /INDEX \(`num_pdbs`\)/);
});

test('bad service columns are refused with the column named', () => {
  const bad: [Parameters<typeof createTablesSql>[0], RegExp][] = [
    [{ columns: [{ name: 'state', type: 'TEXT' }] }, /service column "state": clashes with saliweb's built-in column/],
    [
      { columns: [{ name: 'x; DROP TABLE jobs', type: 'TEXT' }] },
      /service column "x; DROP TABLE jobs": a column name must be/,
    ],
    [
      { columns: [{ name: 'x', type: 'TEXT); DROP TABLE jobs; --' }] },
      /service column "x": type .* is not a plain SQL type/,
    ],
    [
      {
        columns: [
          { name: 'x', type: 'TEXT' },
          { name: 'X', type: 'TEXT' },
        ],
      },
      /service column "X": declared twice/,
    ],
  ];
  for (const [options, message] of bad)
    assert.throws(
      () => createTablesSql(options),
      (error: Error) => error instanceof SchemaError && message.test(error.message),
    );
});

test('transitions: exactly SALIWEB.md’s, any state → FAILED included', () => {
  const allowed = new Set([
    'INCOMING>PREPROCESSING',
    'PREPROCESSING>RUNNING',
    'PREPROCESSING>COMPLETED',
    'RUNNING>POSTPROCESSING',
    'POSTPROCESSING>FINALIZING',
    'POSTPROCESSING>RUNNING',
    'FINALIZING>COMPLETED',
    'COMPLETED>ARCHIVED',
    'ARCHIVED>EXPIRED',
    'FAILED>INCOMING',
  ]);
  for (const from of JOB_STATES) {
    for (const to of JOB_STATES) {
      // saliweb: any state → FAILED, a finished one too (failjob of a job that COMPLETED by mistake).
      const expected = to === 'FAILED' || allowed.has(`${from}>${to}`);
      assert.equal(isValidTransition(from, to), expected, `${from} → ${to}`);
    }
  }
  assertTransition('j2', 'EXPIRED', 'FAILED');
  assert.throws(() => assertTransition('j2', 'EXPIRED', 'ARCHIVED'), /job j2: cannot move from EXPIRED to ARCHIVED/);
  assert.throws(
    () => assertTransition('j1', 'COMPLETED' as JobState, 'RUNNING'),
    /job j1: cannot move from COMPLETED to RUNNING/,
  );
});

test("saliflow's tables (control, lease, outages): the lease table created idempotently, all dropped with the job tables", () => {
  assert.match(createLeaseTableSql(), /^CREATE TABLE IF NOT EXISTS saliflow_lease \(/);
  assert.match(createLeaseTableSql(), /token BIGINT UNSIGNED NOT NULL DEFAULT 0/);
  assert.deepEqual(dropTablesSql(), [
    'DROP TABLE IF EXISTS jobs',
    'DROP TABLE IF EXISTS dependencies',
    'DROP TABLE IF EXISTS saliflow_control',
    'DROP TABLE IF EXISTS saliflow_lease',
    'DROP TABLE IF EXISTS saliflow_status_outages',
    'DROP TABLE IF EXISTS saliflow_job_hosts',
    'DROP TABLE IF EXISTS saliflow_migrations',
  ]);
});
