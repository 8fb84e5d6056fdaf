/**
 * A worker frozen (SIGSTOP) while it holds the admission lease, between the
 * reads of its round and its UPDATE: another worker admits once the lease's
 * bound has passed, and when the frozen one wakes (SIGCONT) its stale
 * UPDATE is refused, so nothing is admitted twice and the running limit
 * holds. The stale round picked two jobs for a limit of 2; the limit in
 * force by then is 1 (the second worker published it at its start), so an
 * unfenced UPDATE would put two jobs in flight.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { submitJob, type SubmittedJob } from '../../client/submit.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';
import { spawnWorkerProcess, WORKER_READY } from '../support/processes.js';
import { assertEachStateOnce, installStateAudit, readStateAudit } from '../support/state-audit.js';

// Longer than the 10 s a frozen worker's workflow tasks take to time out, so the other worker asks while it holds.
const LEASE_SECONDS = 15;
const IN_FLIGHT = new Set(['PREPROCESSING', 'RUNNING', 'POSTPROCESSING', 'FINALIZING']);

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture({
    sections: { limits: { running: '2' }, worker: { lease_seconds: String(LEASE_SECONDS) } },
  });
  await installStateAudit(fixture.admin, fixture.config.database.db);
});
after(async () => {
  await fixture.cleanup();
});

function startWorker(configFile: string, env: Record<string, string>) {
  const child = spawnWorkerProcess(configFile, 'go-file-job', env, { asSaliflowWorker: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** The process state letter from /proc (T: stopped). */
async function processState(pid: number): Promise<string> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

interface LeaseRow {
  holder: string | null;
  token: number;
  acquiredAt: Date;
  expiresAt: Date | null;
}

async function leaseRow(db: Pick<mysql.Pool, 'query'>): Promise<LeaseRow> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    "SELECT holder, token, acquired_at, expires_at FROM saliflow_lease WHERE name = 'admission'",
  );
  const row = rows[0]!;
  return {
    holder: row.holder as string | null,
    token: Number(row.token),
    acquiredAt: row.acquired_at as Date,
    expiresAt: row.expires_at as Date | null,
  };
}

async function states(): Promise<Map<string, string>> {
  const [rows] = await fixture.db.query<mysql.RowDataPacket[]>('SELECT name, state FROM jobs');
  return new Map(rows.map((row) => [String(row.name), String(row.state)]));
}

test(
  'a worker frozen holding the admission lease: another admits after the bound, the stale UPDATE changes nothing',
  { timeout: 240_000 },
  async () => {
    const { client, close } = await temporalClient();
    // The second worker's config: its own socket and state file, and a running limit of 1 that it publishes at start.
    const original = await fs.readFile(fixture.configFile, 'utf8');
    const secondConfig = path.join(fixture.root, 'second.conf');
    await fs.writeFile(
      secondConfig,
      original
        .replace(/^socket: .*backend\.socket$/m, `socket: ${path.join(fixture.root, 'second.socket')}`)
        .replace(/^state_file: .*$/m, 'state_file: second.state')
        .replace(/^running: .*$/m, 'running: 1'),
    );
    assert.match(await fs.readFile(secondConfig, 'utf8'), /second\.socket[\s\S]*running: 1/);

    // Both jobs are in line before any worker polls, so the first round picks both.
    const jobs: SubmittedJob[] = [];
    for (const name of ['first', 'second']) {
      jobs.push(await submitJob({ config: fixture.config, db: fixture.frontendDb, client, name, files: {} }));
    }
    const frozen = startWorker(fixture.configFile, {
      SALIFLOW_HOST_ID: 'host-a',
      SALIFLOW_STOPPOINT: 'admission-lease-held',
    });
    let other: ReturnType<typeof startWorker> | undefined;
    try {
      await until(
        'the first worker to stop while holding the lease',
        async () => {
          if (frozen.child.exitCode !== null) throw new Error(`the worker exited: ${frozen.output().slice(-2000)}`);
          return (await processState(frozen.child.pid!)) === 'T' ? true : undefined;
        },
        90_000,
      );
      const held = await leaseRow(fixture.db);
      assert.match(held.holder ?? '', new RegExp(`:${frozen.child.pid}:`));
      assert.deepEqual([...(await states()).values()], ['INCOMING', 'INCOMING']);

      other = startWorker(secondConfig, { SALIFLOW_HOST_ID: 'host-b' });
      const second = other;
      await until('the second worker to poll', async () => {
        if (second.child.exitCode !== null) throw new Error(`the worker exited: ${second.output().slice(-2000)}`);
        return WORKER_READY.test(second.output()) ? true : undefined;
      });
      const [[{ readyAt }]] = (await fixture.db.query('SELECT UNIX_TIMESTAMP(NOW(6)) AS readyAt')) as unknown as [
        [{ readyAt: string }],
      ];
      await until(
        'the second worker to admit a job',
        async () => ([...(await states()).values()].some((state) => IN_FLIGHT.has(state)) ? true : undefined),
        90_000,
      );
      const taken = await leaseRow(fixture.db);
      assert.ok(taken.token > held.token, 'the lease was taken over with a higher token');
      const admittedAt = (await readStateAudit(fixture.db)).find((change) => change.to === 'PREPROCESSING')!.atMs;
      // The lease's bound, by the database's clock: nobody admitted before the frozen holder's lease expired.
      assert.ok(admittedAt >= held.expiresAt!.getTime() - 1, 'admitted only after the frozen lease expired');
      const seconds = (from: number) => ((admittedAt - from) / 1000).toFixed(2);
      console.log(
        `# lease ${LEASE_SECONDS} s: admitted ${seconds(held.acquiredAt.getTime())} s after the frozen worker took it, ` +
          `${seconds(held.expiresAt!.getTime())} s after it expired, ` +
          `${seconds(Number(readyAt) * 1000)} s after the other worker was ready`,
      );
      assert.equal((await processState(frozen.child.pid!)) === 'T', true, 'still frozen while the other admitted');
      const tookOver = new RegExp(`took over the admission lease from [^ ]*:${frozen.child.pid}:`);
      await until("the other worker to say whose lease it took over (the frozen worker's)", async () =>
        tookOver.test(second.output()) ? true : undefined,
      );

      // Woken: its round goes on from its stale reads (two free slots) and must change nothing.
      frozen.child.kill('SIGCONT');
      await until('the woken worker to report its lease lost', async () =>
        /was taken over by another process while this one was stalled/.test(frozen.output()) ? true : undefined,
      );
      const now = await states();
      assert.equal(
        [...now.values()].filter((state) => IN_FLIGHT.has(state)).length,
        1,
        `one job in flight: ${JSON.stringify([...now])}`,
      );
      assert.equal(now.get('second'), 'INCOMING');

      // Let the runs finish: both complete, one at a time, each admitted once.
      const done = Promise.all(jobs.map((job) => workflowOutcome(client, job.workflowId)));
      let finished = false;
      void done.finally(() => (finished = true));
      await until(
        'both jobs to complete',
        async () => {
          const [rows] = await fixture.db.query<mysql.RowDataPacket[]>(
            "SELECT directory FROM jobs WHERE state = 'RUNNING'",
          );
          for (const row of rows) await fs.writeFile(path.join(String(row.directory), 'go'), '').catch(() => undefined);
          return finished ? true : undefined;
        },
        120_000,
      );
      for (const outcome of await done) assert.equal(outcome.failure, undefined);
      assert.deepEqual([...(await states()).values()], ['COMPLETED', 'COMPLETED']);
      const audit = await readStateAudit(fixture.db);
      let count = 0;
      let peak = 0;
      for (const change of audit) {
        count += Number(IN_FLIGHT.has(change.to ?? '')) - Number(IN_FLIGHT.has(change.from ?? ''));
        peak = Math.max(peak, count);
      }
      assert.equal(peak, 1, 'never more jobs in flight than the limit of 1');
      assertEachStateOnce(audit);
    } finally {
      frozen.child.kill('SIGCONT');
      frozen.child.kill('SIGKILL');
      other?.child.kill('SIGKILL');
      await close();
    }
  },
);
