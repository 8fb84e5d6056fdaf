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
  ];
  for (const [file, source, refused] of cases) {
    assert.equal(await restricted(file, source), refused, `${file}: ${source.split('\n')[0]}`);
  }
});
