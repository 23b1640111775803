/**
 * The ownership lease's lapse as an event: it must reach its listeners when the lease runs out even if nobody asks
 * `valid()` and its timer fires before the lease's clock says the time is up (Node's timers fire up to about 2 ms
 * early against `performance.now()`). The lease's clock here is the test's own, so "early" is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OwnershipLease } from '../../src/registry/ownership-lease.js';

describe('ownership lease', () => {
  it('tells its listeners of the lapse even when its timer fires before the lease clock reaches the end', async () => {
    let clock = 0;
    const lease = new OwnershipLease(20, () => clock);
    let lapses = 0;
    lease.onLost(() => lapses++);
    lease.register(0);
    try {
      // The timer (21 ms) fires while the lease's clock still stands at 0: as an early timer sees it, the lease is valid.
      await sleep(60);
      assert.equal(lapses, 0, 'no lapse before the lease clock reaches the end');
      clock = 25;
      // Nobody calls valid(): only the lease's own timer can tell of the lapse now.
      await sleep(60);
      assert.equal(lapses, 1, 'the lapse was told once the lease clock passed the end');
      assert.equal(lease.valid(), false);
    } finally {
      lease.stop();
    }
  });

  it('tells of a lapse once, at the end of the last confirmed write', async () => {
    let clock = 0;
    const lease = new OwnershipLease(20, () => clock);
    let lapses = 0;
    lease.onLost(() => lapses++);
    lease.register(0);
    try {
      clock = 15;
      lease.confirm(15);
      clock = 25;
      await sleep(60);
      assert.equal(lapses, 0, 'the confirmed write holds the lease until 35');
      clock = 40;
      await sleep(60);
      assert.equal(lapses, 1);
      await sleep(40);
      assert.equal(lapses, 1, 'a lapse is told once');
    } finally {
      lease.stop();
    }
  });
});
