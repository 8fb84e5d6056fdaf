/**
 * One stop is one graceful stop, whatever started the worker and however the signal came
 * (bin/saliflow.js runs the worker as its child, worker/wrapper-signals.ts): Ctrl-C typed on a
 * real terminal (the whole foreground process group gets SIGINT), SIGTERM to the wrapper alone
 * (`kill PID`), and SIGTERM to the whole process group (`timeout`, systemd's control-group kill,
 * `kill -- -PGID`). Each time the worker says it stops, exits 0, and never "again: exiting now".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { untilOutputShows } from '../support/processes.js';
import { temporalClient } from '../support/temporal.js';
import { deleteSchedules } from '../../activities/schedules.js';

const BIN = path.join(REPO_ROOT, 'bin/saliflow.js');
const SERVICE = path.join(REPO_ROOT, 'test/support/services/nothing-job.ts');
const PTY = path.join(REPO_ROOT, 'test/support/pty-run.py');

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { worker: { shutdown_seconds: '5' } } });
});
after(async () => {
  const { client, close } = await temporalClient();
  await deleteSchedules(client, fixture.config).catch(() => undefined);
  await close();
  await fixture.cleanup();
});

function watch(worker: ResultPromise): () => string {
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return () => output;
}

async function stoppedGracefully(worker: ResultPromise, output: () => string, signal: string): Promise<void> {
  const ended = await worker;
  assert.doesNotMatch(output(), /again: exiting now/);
  assert.match(output(), new RegExp(`${signal}: stopping; steps in flight have 5 s to finish`));
  assert.equal(ended.exitCode, 0, output());
}

test('one Ctrl-C on a real terminal is one graceful stop', { timeout: 120_000 }, async () => {
  const worker = execa('python3', [PTY, 'node', BIN, 'worker', '--config', fixture.configFile, '--service', SERVICE], {
    reject: false,
    all: true,
    stdin: 'pipe',
  });
  const output = watch(worker);
  await untilOutputShows(worker, output, 'saliflow worker for');
  worker.stdin!.write('ctrl-c\n');
  await stoppedGracefully(worker, output, 'SIGINT');
});

test('SIGTERM to the wrapper alone is one graceful stop', { timeout: 120_000 }, async () => {
  const worker = execa('node', [BIN, 'worker', '--config', fixture.configFile, '--service', SERVICE], {
    reject: false,
    all: true,
  });
  const output = watch(worker);
  await untilOutputShows(worker, output, 'saliflow worker for');
  process.kill(worker.pid!, 'SIGTERM');
  await stoppedGracefully(worker, output, 'SIGTERM');
});

test('SIGTERM to the whole process group (timeout, systemd) is one graceful stop', { timeout: 120_000 }, async () => {
  // A process group of its own, led by the wrapper: as `timeout` or a systemd unit's control group holds it.
  const worker = execa('node', [BIN, 'worker', '--config', fixture.configFile, '--service', SERVICE], {
    reject: false,
    all: true,
    detached: true,
  });
  const output = watch(worker);
  await untilOutputShows(worker, output, 'saliflow worker for');
  process.kill(-worker.pid!, 'SIGTERM');
  await stoppedGracefully(worker, output, 'SIGTERM');
});

test('the example systemd units stop every process of the unit, which the last test counts as one stop', async () => {
  for (const unit of ['saliflow-modfoo.service', 'saliflow-services.service']) {
    const text = await fs.readFile(path.join(REPO_ROOT, 'examples/systemd', unit), 'utf8');
    assert.match(text, /^KillMode=control-group$/m, unit);
    assert.match(text, /^KillSignal=SIGTERM$/m, unit);
  }
});
