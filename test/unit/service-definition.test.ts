/**
 * `defineService({...})` refuses what tsx does not type-check: an unknown key (with its nearest
 * spelling), a step that is not a function, a missing `run` (naming the keys it found); the
 * worker's loader says the same naming the module's file, also for a default export not made
 * with defineService.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  defineService,
  doNothing,
  ServiceDefinitionError,
  ServiceModuleError,
  type Service,
} from '../../core/index.js';
import { serviceDefinitionProblems } from '../../core/service.js';
import { loadService } from '../../worker/load-service.js';

const CORE = path.resolve(import.meta.dirname, '../../core/index.js');

test('defineService refuses an unknown key with the nearest spelling', () => {
  assert.throws(
    () => defineService({ run: () => doNothing(), postproces: () => undefined } as unknown as Service),
    (error: Error) =>
      error instanceof ServiceDefinitionError &&
      error.message === 'unknown key postproces in defineService({...}); did you mean postprocess?',
  );
  assert.throws(
    () => defineService({ run: () => doNothing(), colour: 'red' } as unknown as Service),
    /unknown key colour in defineService\(\{\.\.\.\}\); the keys are columns, configSections, .*run/,
  );
});

test('defineService refuses a misspelt or missing run, saying which keys it found', () => {
  assert.throws(
    () => defineService({ rnu: () => doNothing(), preprocess: () => undefined } as unknown as Service),
    (error: Error) =>
      /unknown key rnu in defineService\(\{\.\.\.\}\); did you mean run\?/.test(error.message) &&
      /defineService\(\{\.\.\.\}\) has no run step, which every service needs .*; found the keys rnu, preprocess/.test(
        error.message,
      ),
  );
  assert.throws(() => defineService({} as unknown as Service), /has no run step.*; found no keys/);
  assert.throws(
    () => defineService({ run: 'sum.sh' } as unknown as Service),
    /run in defineService\(\{\.\.\.\}\) must be a function \(a step\); found the string "sum\.sh"/,
  );
});

test('every key of a sound service is accepted', () => {
  const service = defineService({
    columns: [],
    configSections: {},
    interruptedSteps: 'retry',
    adoptedTransientSteps: 'fail',
    stepTimeouts: { default: 1000 },
    retryOn: {},
    maxRetries: 1,
    preprocess: () => undefined,
    run: () => doNothing(),
    rerun: () => doNothing(),
    postprocess: () => undefined,
    finalize: () => undefined,
    complete: () => undefined,
    archive: () => undefined,
    expire: () => undefined,
    sendJobCompletedEmail: () => undefined,
  });
  assert.deepEqual(serviceDefinitionProblems(service), []);
});

async function moduleFile(name: string, text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'service-definition-'));
  const file = path.join(dir, name);
  await fs.writeFile(file, text);
  return file;
}

test('the worker names the module file for a misspelt step, from defineService or a plain object', async () => {
  const viaDefine = await moduleFile(
    'service.ts',
    `import { defineService, doNothing } from ${JSON.stringify(CORE)};\n` +
      `export default defineService({ run: () => doNothing(), postproces: () => undefined } as never);\n`,
  );
  await assert.rejects(
    loadService(viaDefine),
    (error: Error) =>
      error instanceof ServiceModuleError &&
      error.message === `unknown key postproces in defineService({...}) of ${viaDefine}; did you mean postprocess?`,
  );
  const plain = await moduleFile('plain.mjs', 'export default { runn() {}, columns: [] };\n');
  await assert.rejects(
    loadService(plain),
    (error: Error) =>
      error.message.includes(`unknown key runn in defineService({...}) of ${plain}; did you mean run?`) &&
      error.message.includes(`defineService({...}) of ${plain} has no run step`) &&
      error.message.includes('found the keys runn, columns'),
  );
  const none = await moduleFile('none.mjs', 'export const service = {};\n');
  await assert.rejects(loadService(none), /must have a default export made with defineService.*only service/);
});
