/**
 * What the waiting line costs MySQL as it grows: the admission query with
 * and without per-user shares, and the reasons of the first 10 in line,
 * for N INCOMING rows of 50 users (plus anonymous ones), 10 rows in flight.
 *   SALIFLOW_STATE_DIR=… npx tsx bench/waiting-line-cost.ts [N…]
 */
import { performance } from 'node:perf_hooks';
import { admissibleJobs, waitingReasons } from '../store/waiting-line.js';
import { createServiceFixture } from '../test/support/service-fixture.js';

const sizes = process.argv.slice(2).map(Number);
const fixture = await createServiceFixture();
try {
  let inserted = 0;
  for (const n of sizes.length > 0 ? sizes : [100, 1000, 10000]) {
    const rows: unknown[][] = [];
    for (; inserted < n; inserted++) {
      const user = inserted % 7 === 0 ? null : `user${inserted % 50}`;
      const state = inserted < 10 ? 'RUNNING' : 'INCOMING';
      rows.push([
        `job${inserted}`,
        user,
        'x',
        `/nowhere/${inserted}`,
        'http://x',
        state,
        new Date(Date.UTC(2026, 0, 1) + inserted * 1000),
      ]);
    }
    if (rows.length > 0)
      await fixture.db.query('INSERT INTO jobs (name, user, passwd, directory, url, state, submit_time) VALUES ?', [
        rows,
      ]);
    const time = async (what: () => Promise<unknown>) => {
      await what();
      const runs = 20;
      const start = performance.now();
      for (let i = 0; i < runs; i++) await what();
      return ((performance.now() - start) / runs).toFixed(2);
    };
    const plain = await time(() => admissibleJobs(fixture.db, { running: 20 }, 10));
    const shares = await time(() =>
      admissibleJobs(fixture.db, { running: 20, runningPerUser: 2, runningPerAnonymous: 1 }, 10),
    );
    const reasons = await time(() =>
      waitingReasons(fixture.db, { running: 20, runningPerUser: 2, runningPerAnonymous: 1 }, { first: 10 }),
    );
    console.log(
      `${n} rows: admission plain ${plain} ms, with shares ${shares} ms; reasons of the first 10 ${reasons} ms`,
    );
  }
} finally {
  await fixture.cleanup();
}
