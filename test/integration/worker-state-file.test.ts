/**
 * saliweb's `[backend] state_file`, as its tools read it: while a worker
 * runs, the file holds the worker's PID under an exclusive `lockf` (a
 * `lockf` as saliweb's daemon and tools take it is refused); after the
 * worker stops it is free. A second worker of the service on the host runs
 * beside the first without the lock and takes it over when the first stops;
 * a third on the first's socket is refused, naming the worker that holds it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { deleteSchedules } from '../../activities/schedules.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { untilOutputShows } from '../support/processes.js';
import { temporalClient } from '../support/temporal.js';
import { until } from '../support/until.js';

const BIN = path.join(REPO_ROOT, 'bin/saliflow.js');
const SERVICE = path.join(REPO_ROOT, 'test/support/services/nothing-job.ts');

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({ sections: { worker: { shutdown_seconds: '2' } } });
});
after(async () => {
  const { client, close } = await temporalClient();
  await deleteSchedules(client, fixture.config).catch(() => undefined);
  await close();
  await fixture.cleanup();
});

function startWorker(env: Record<string, string> = {}): { worker: ResultPromise; output: () => string } {
  const worker = execa('node', [BIN, 'worker', '--config', fixture.configFile, '--service', SERVICE], {
    reject: false,
    all: true,
    env,
  });
  let output = '';
  worker.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { worker, output: () => output };
}

/** What saliweb's daemon and tools do: an exclusive lockf without waiting; exit 0 if it got the lock. */
function lockfAsSaliweb(file: string) {
  return execa(
    'python3',
    ['-c', 'import fcntl, sys\nf = open(sys.argv[1], "a")\nfcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)', file],
    { reject: false },
  );
}

/** The worker's own process: bin/saliflow.js runs it as its child (for malloc tuning). */
async function workerPid(bin: ResultPromise): Promise<number> {
  return until('the worker process under bin/saliflow.js', async () => {
    const children = await fs.readFile(`/proc/${bin.pid}/task/${bin.pid}/children`, 'utf8').catch(() => '');
    const pid = Number(children.trim().split(/\s+/)[0]);
    return pid > 0 ? pid : undefined;
  });
}

const READY = 'saliflow worker for ';

test(
  "the state file holds the running worker's PID under lockf, a second worker takes it over, and it is free after",
  { timeout: 240_000 },
  async () => {
    const stateFile = fixture.config.backend.stateFile;
    const first = startWorker();
    try {
      await untilOutputShows(first.worker, first.output, READY);
      const firstPid = await workerPid(first.worker);
      assert.equal((await fs.readFile(stateFile, 'utf8')).trim(), String(firstPid));
      const refused = await lockfAsSaliweb(stateFile);
      assert.notEqual(refused.exitCode, 0, 'a lockf on the state file succeeded while a worker runs');
      assert.match(refused.stderr, /BlockingIOError|Resource temporarily unavailable|Permission denied/);

      // A third worker on the same socket: refused, naming the worker that holds it.
      const third = await execa('node', [BIN, 'worker', '--config', fixture.configFile, '--service', SERVICE], {
        reject: false,
        timeout: 120_000,
      });
      assert.equal(third.exitCode, 1, third.stderr);
      assert.match(
        third.stderr,
        new RegExp(
          `^saliflow worker: cannot work: the frontend socket ${fixture.config.general.socket} \\(\\[general\\] socket in \\S+\\) ` +
            `is held by another saliflow worker \\(pid ${firstPid}: `,
          'm',
        ),
      );
      assert.equal((await fs.readFile(stateFile, 'utf8')).trim(), String(firstPid), 'the refused worker left it');

      // A second worker with a socket of its own runs beside the first, without the lock.
      const second = startWorker({ SALIFLOW_SOCKET: path.join(fixture.root, 'second.socket') });
      try {
        await untilOutputShows(second.worker, second.output, READY);
        assert.match(
          second.output(),
          new RegExp(`is held by another saliflow worker on this host \\(pid ${firstPid}\\)`),
        );
        const secondPid = await workerPid(second.worker);
        first.worker.kill('SIGTERM');
        await first.worker;
        // It takes the file over: its PID, under its lock.
        await until('the second worker to take the state file over', async () =>
          (await fs.readFile(stateFile, 'utf8').catch(() => '')).trim() === String(secondPid) ? true : undefined,
        );
        assert.notEqual((await lockfAsSaliweb(stateFile)).exitCode, 0);
      } finally {
        second.worker.kill('SIGTERM');
        await second.worker;
      }
      // Stopped: free, and gone as saliweb's daemon leaves it after a clean stop.
      await assert.rejects(fs.access(stateFile), /ENOENT/);
      const free = await lockfAsSaliweb(stateFile);
      assert.equal(free.exitCode, 0, free.stderr);
    } finally {
      first.worker.kill('SIGKILL');
      await first.worker;
      await fs.rm(stateFile, { force: true });
    }
  },
);

test('a worker SIGKILLed leaves the state file free (the lock dies with it)', { timeout: 120_000 }, async () => {
  const stateFile = fixture.config.backend.stateFile;
  const worker = startWorker();
  try {
    await untilOutputShows(worker.worker, worker.output, READY);
    const pid = await workerPid(worker.worker);
    assert.notEqual((await lockfAsSaliweb(stateFile)).exitCode, 0);
    process.kill(pid, 'SIGKILL');
    await until('the lock to go with the killed worker', async () =>
      (await lockfAsSaliweb(stateFile)).exitCode === 0 ? true : undefined,
    );
    // As after a saliweb daemon's crash: the PID of a process that is gone, which saliweb's tools take for stopped.
    assert.equal((await fs.readFile(stateFile, 'utf8')).trim(), String(pid));
  } finally {
    worker.worker.kill('SIGKILL');
    await worker.worker;
    await fs.rm(stateFile, { force: true });
  }
});
