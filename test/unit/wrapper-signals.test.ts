/**
 * A signal counts once however it reached the worker (worker/wrapper-signals.ts): directly (the
 * terminal's process group, systemd's control group), as a count from bin/saliflow.js, or both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PASSED_ON, WRAPPER_SIGNAL } from '../../worker/wrapper-signals.js';
import { until } from '../support/until.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

test('bin/saliflow.js passes on the signals the worker counts, under the same message name', async () => {
  const bin = await fs.readFile(path.join(ROOT, 'bin/saliflow.js'), 'utf8');
  assert.ok(bin.includes(`const WRAPPER_SIGNAL = '${WRAPPER_SIGNAL}'`));
  assert.ok(
    bin.includes(`for (const signal of ${JSON.stringify(PASSED_ON).replaceAll('"', "'").replaceAll(',', ', ')})`),
  );
});

test('a signal that comes both directly and as the wrapper count is handled once; the next one again', async () => {
  const child = fork(path.join(ROOT, 'test/support/wrapper-signals-child.ts'), [], { execArgv: ['--import', 'tsx'] });
  const messages: Record<string, unknown>[] = [];
  child.on('message', (message: Record<string, unknown>) => messages.push(message));
  try {
    await until('the child to listen', async () =>
      messages.some((m) => m[WRAPPER_SIGNAL] === 'listening') ? true : undefined,
    );
    const heard = () => messages.filter((m) => 'heard' in m).length;
    // Ctrl-C's way: the signal itself and the wrapper's count of 1.
    child.kill('SIGTERM');
    child.send({ [WRAPPER_SIGNAL]: 'SIGTERM', count: 1 });
    await until('the first SIGTERM handled', async () => (heard() >= 1 ? true : undefined));
    // The wrapper's count alone (`kill WRAPPER`): the second.
    child.send({ [WRAPPER_SIGNAL]: 'SIGTERM', count: 2 });
    await until('the second SIGTERM handled', async () => (heard() >= 2 ? true : undefined));
    // Ctrl-C again, the count first this time: the third. Counted twice, the first would have made this the fourth.
    child.send({ [WRAPPER_SIGNAL]: 'SIGTERM', count: 3 });
    child.kill('SIGTERM');
    await until('the third SIGTERM handled', async () => (heard() >= 3 ? true : undefined));
    child.send({ exit: true });
    await once(child, 'exit');
    assert.equal(heard(), 3, JSON.stringify(messages));
  } finally {
    child.kill('SIGKILL');
  }
});
