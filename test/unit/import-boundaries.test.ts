/** The layers' import rules (eslint.config.js) refuse a wrong-way import, so `npm run lint` fails on one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function restricted(file: string, source: string): Promise<boolean> {
  const [result] = await eslint.lintText(source, { filePath: path.join(REPO_ROOT, file) });
  return (result?.messages ?? []).some((message) => message.ruleId === 'no-restricted-imports');
}

test('wrong-way imports are lint errors, right-way ones are not', async () => {
  const cases: [file: string, source: string, refused: boolean][] = [
    ['core/example.ts', "import { createPool } from '../activities/database.js';\nvoid createPool;\n", true],
    ['core/config/example.ts', "import { runWorker } from '../../worker/main.js';\nvoid runWorker;\n", true],
    ['activities/example.ts', "import { submitJob } from '../client/submit.js';\nvoid submitJob;\n", true],
    ['worker/example.ts', "import { submitJob } from '../client/submit.js';\nvoid submitJob;\n", true],
    ['workflows/example.ts', "import { createPool } from '../activities/database.js';\nvoid createPool;\n", true],
    ['workflows/example.ts', "import type { Pool } from '../activities/database.js';\nexport type P = Pool;\n", false],
    ['examples/x/service.ts', "import { loadService } from '../../worker/load-service.js';\nvoid loadService;\n", true],
    ['examples/x/service.ts', "import { schemaProblems } from '../../core/schema.js';\nvoid schemaProblems;\n", true],
    ['examples/x/service.ts', "import { defineService } from '../../core/index.js';\nvoid defineService;\n", false],
    ['client/example.ts', "import { createPool } from '../activities/database.js';\nvoid createPool;\n", false],
    ['core/example.ts', "import { createPool } from '../store/pool.js';\nvoid createPool;\n", true],
    [
      'store/example.ts',
      "import { runAdmissionRound } from '../engine/admission.js';\nvoid runAdmissionRound;\n",
      true,
    ],
    ['store/example.ts', "import { Context } from '@temporalio/activity';\nvoid Context;\n", true],
    ['engine/example.ts', "import { createPool } from '../store/pool.js';\nvoid createPool;\n", false],
    [
      'engine/example.ts',
      "import { whileHeartbeating } from '../activities/heartbeat.js';\nvoid whileHeartbeating;\n",
      true,
    ],
    ['engine/example.ts', "import { Context } from '@temporalio/activity';\nvoid Context;\n", true],
    ['engine/example.ts', "import type { Logger } from '@temporalio/common';\nexport type L = Logger;\n", false],
    [
      'activities/example.ts',
      "import { runAdmissionRound } from '../engine/admission.js';\nvoid runAdmissionRound;\n",
      false,
    ],
    ['workflows/example.ts', "import { readJob } from '../store/job-row.js';\nvoid readJob;\n", true],
    [
      'workflows/example.ts',
      "import { runAdmissionRound } from '../engine/admission.js';\nvoid runAdmissionRound;\n",
      true,
    ],
    [
      'client/submit.ts',
      "import { runAdmissionRound } from '../engine/admission.js';\nvoid runAdmissionRound;\n",
      true,
    ],
    ['client/submit.ts', "import { startJob } from '../activities/job-start.js';\nvoid startJob;\n", false],
    ['client/testing.ts', "import { createPool } from '../store/pool.js';\nvoid createPool;\n", true],
    ['client/testing.ts', "import { createJobLogger } from '../engine/job-logger.js';\nvoid createJobLogger;\n", false],
    [
      'client/show-job.ts',
      "import { runAdmissionRound } from '../engine/admission.js';\nvoid runAdmissionRound;\n",
      false,
    ],
  ];
  for (const [file, source, refused] of cases) {
    assert.equal(await restricted(file, source), refused, `${file}: ${source.split('\n')[0]}`);
  }
});

test('SQL outside store/ is a lint error', async () => {
  const sqlIn = async (file: string, source: string) => {
    const [result] = await eslint.lintText(source, { filePath: path.join(REPO_ROOT, file) });
    return (result?.messages ?? []).some((message) => message.ruleId === 'no-restricted-syntax');
  };
  const query = 'export const q = `\n  UPDATE jobs SET state = ? WHERE name = ?`;\n';
  assert.equal(await sqlIn('engine/example.ts', query), true, 'a template literal in engine/');
  assert.equal(
    await sqlIn('client/example.ts', "export const q = 'SELECT name FROM jobs';\n"),
    true,
    'a string in client/',
  );
  assert.equal(await sqlIn('cli/example.ts', "export const q = 'DELETE FROM jobs';\n"), true, 'a string in cli/');
  assert.equal(await sqlIn('store/example.ts', query), false, 'the store is where SQL lives');
  assert.equal(await sqlIn('engine/example.ts', "export const m = 'SELECTED jobs wait';\n"), false, 'prose is not SQL');
});
