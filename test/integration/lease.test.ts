/**
 * The lease on the real MariaDB (store/lease.ts): taken with a growing
 * token, taken over only once expired, and a write fenced by a lost lease
 * (here the pause's) changes nothing and says why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseLease, takeLease, withLease } from '../../store/lease.js';
import { readServiceControl, recordPause } from '../../store/service-control.js';
import { ADMISSION_LEASE } from '../../engine/admission.js';
import { LeaseBusyError, LeaseLostError } from '../../core/errors.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

test('a lease: tokens grow, a held one is not taken, an expired one is taken over and fences its old holder', async () => {
  const { db } = fixture;
  // The table does not exist yet: the first take creates it.
  const first = await takeLease(db, ADMISSION_LEASE, { seconds: 60 });
  assert.equal(first.tookOverFrom, undefined);
  await releaseLease(db, first);
  const second = await takeLease(db, ADMISSION_LEASE, { seconds: 60 });
  assert.equal(second.token, first.token + 1);
  await assert.rejects(takeLease(db, ADMISSION_LEASE, { seconds: 60, waitSeconds: 0.2 }), LeaseBusyError);
  await releaseLease(db, second);

  // A holder that stalls past its (short) lease: the next take waits for the expiry, then takes it over.
  const stalled = await takeLease(db, ADMISSION_LEASE, { seconds: 0.5 });
  const next = await takeLease(db, ADMISSION_LEASE, { seconds: 60, waitSeconds: 10 });
  assert.equal(next.token, stalled.token + 1);
  assert.equal(next.tookOverFrom?.holder, stalled.holder);

  // The stalled holder's fenced write is refused; the new holder's goes through.
  await assert.rejects(recordPause(db, stalled, 'stalled@test', 'late'), LeaseLostError);
  assert.equal((await readServiceControl(db, fixture.config)).pause, undefined);
  await recordPause(db, next, 'current@test', 'maintenance');
  assert.equal((await readServiceControl(db, fixture.config)).pause?.reason, 'maintenance');
  // Releasing a lost lease does not release the new holder's.
  await releaseLease(db, stalled);
  await assert.rejects(takeLease(db, ADMISSION_LEASE, { seconds: 60, waitSeconds: 0.2 }), LeaseBusyError);
  await releaseLease(db, next);

  // withLease releases whatever the work does.
  await assert.rejects(
    withLease(db, ADMISSION_LEASE, { seconds: 60 }, () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  const after = await takeLease(db, ADMISSION_LEASE, { seconds: 60, waitSeconds: 0.2 });
  assert.equal(after.tookOverFrom, undefined);
  await releaseLease(db, after);
});
