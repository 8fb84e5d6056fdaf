/**
 * What one status poll costs the scheduler with 10 and 1,000 waiting runs,
 * on the fake scheduler: SGE asks one `qstat` of saliflow's account whatever
 * the count; SLURM one `squeue -j` per 200 runs. The time of each poll is
 * reported (test diagnostics), not asserted: it depends on the machine.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSgeRunner } from '../../engine/runners/sge.js';
import { createSlurmRunner } from '../../engine/runners/slurm.js';
import type { RunHandle, RunnerBackend } from '../../engine/runners/runner.js';
import { createFakeScheduler, type FakeScheduler } from '../support/fake-scheduler.js';

const fakes: FakeScheduler[] = [];
after(async () => {
  for (const fake of fakes) await fake.cleanup();
});

for (const kind of ['sge', 'slurm'] as const) {
  for (const count of [10, 1000]) {
    test(`${kind.toUpperCase()}: a poll of ${count} waiting runs`, async (t) => {
      const fake = await createFakeScheduler();
      fakes.push(fake);
      const runner: RunnerBackend =
        kind === 'sge'
          ? (createSgeRunner({ ...fake.sgeSection, pollSeconds: 1, unknownGraceSeconds: 600 }) as RunnerBackend)
          : (createSlurmRunner({ ...fake.slurmSection, pollSeconds: 1, unknownGraceSeconds: 600 }) as RunnerBackend);
      const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-poll-cost-'));
      const ids = await fake.addHeldJobs(kind, count);
      const handles: RunHandle[] = ids.map((id) => ({ id, name: `job-${id}`, directory, cycle: 1 }));
      const before = await fake.calls();
      const started = performance.now();
      const statuses = await runner.status(handles);
      const ms = performance.now() - started;
      const commands = (await fake.calls()) - before;
      assert.equal(statuses.size, count);
      assert.ok([...statuses.values()].every((status) => status.state === 'running'));
      assert.equal(commands, kind === 'sge' ? 1 : Math.ceil(count / 200), 'scheduler commands per poll');
      t.diagnostic(
        `${kind} ${count} runs: ${commands} command(s), ${ms.toFixed(0)} ms, load ${os.loadavg()[0]!.toFixed(1)}`,
      );
      await fs.rm(directory, { recursive: true, force: true });
    });
  }
}
