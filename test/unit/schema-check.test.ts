/** The jobs table judged against saliweb's columns and a service's declarations (store/schema-check.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_COLUMNS } from '../../core/schema.js';
import { jobsTableProblems } from '../../store/schema-check.js';

const SALIWEB = BUILTIN_COLUMNS.filter((name) => name !== 'hostname').map((name) => ({ name, dataType: 'varchar' }));

test("a table with saliweb's columns and the declared ones, of compatible types and indexed, is fine", () => {
  assert.deepEqual(
    jobsTableProblems({
      table: [...SALIWEB, { name: 'num_pdbs', dataType: 'int' }, { name: 'title', dataType: 'text' }],
      indexed: new Set(['num_pdbs']),
      columns: [
        { name: 'num_pdbs', type: 'BIGINT UNSIGNED', index: true },
        { name: 'title', type: 'VARCHAR(100)' },
      ],
      trackHostname: false,
    }),
    [],
  );
});

test('a missing or mistyped column, a missing index and a missing saliweb column are each named with the fix', () => {
  const problems = jobsTableProblems({
    table: [
      ...SALIWEB.filter(({ name }) => name !== 'runner_id'),
      { name: 'score', dataType: 'varchar' },
      { name: 'n', dataType: 'int' },
    ],
    indexed: new Set(),
    columns: [
      { name: 'score', type: 'DOUBLE' },
      { name: 'n', type: 'INTEGER', index: true },
      { name: 'added', type: 'DATETIME' },
    ],
    trackHostname: true,
  });
  assert.deepEqual(problems, [
    "the jobs table has no column runner_id, which saliweb's jobs table has; is this the service's database? (`saliflow db create-tables` makes the tables in an empty one)",
    "the jobs table has no column hostname, which saliweb's jobs table has with [general] track_hostname; is this the service's database? (`saliflow db create-tables` makes the tables in an empty one)",
    "the jobs table's column score is VARCHAR, but the service declares DOUBLE: ALTER TABLE jobs MODIFY `score` DOUBLE, or change the declaration",
    'the jobs table has no index on n, which the service declares with index: true: ALTER TABLE jobs ADD INDEX (`n`)',
    'the jobs table has no column added, which the service declares (DATETIME): ALTER TABLE jobs ADD COLUMN `added` DATETIME',
  ]);
});
