/**
 * The ownership lease's lapse as an event: it must reach its listeners when the lease runs out even if nobody asks
 * `valid()` and its timer fires before the lease's clock says the time is up (a Node.js timer can fire early against
 * `performance.now()`). The lease's clock here is the test's own, so "early" is exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OwnershipLease } from '../../src/registry/ownership-lease.js';

interface LeaseOnTestClock {
  clock: number;
  lapses: number;
  readonly lease: OwnershipLease;
}

/** A lease of 20 ms registered at 0 on a clock the test moves, with its lapses counted. */
function leaseOnTestClock(): LeaseOnTestClock {
  const t: LeaseOnTestClock = { clock: 0, lapses: 0, lease: new OwnershipLease(20, () => t.clock) };
  t.lease.onLost(() => t.lapses++);
  t.lease.register(0);
  return t;
}

describe('ownership lease', () => {
  it('tells its listeners of the lapse even when its timer fires before the lease clock reaches the end', async () => {
    const t = leaseOnTestClock();
    const { lease } = t;
    try {
      // The timer (21 ms) fires while the lease's clock still stands at 0: as an early timer sees it, the lease is valid.
      await sleep(60);
      assert.equal(t.lapses, 0, 'no lapse before the lease clock reaches the end');
      t.clock = 25;
      // Nobody calls valid(): only the lease's own timer can tell of the lapse now.
      await sleep(60);
      assert.equal(t.lapses, 1, 'the lapse was told once the lease clock passed the end');
      assert.equal(lease.valid(), false);
    } finally {
      lease.stop();
    }
  });

  it('tells of a lapse once, at the end of the last confirmed write', async () => {
    const t = leaseOnTestClock();
    const { lease } = t;
    try {
      t.clock = 15;
      lease.confirm(15);
      t.clock = 25;
      await sleep(60);
      assert.equal(t.lapses, 0, 'the confirmed write holds the lease until 35');
      t.clock = 40;
      await sleep(60);
      assert.equal(t.lapses, 1);
      await sleep(40);
      assert.equal(t.lapses, 1, 'a lapse is told once');
    } finally {
      lease.stop();
    }
  });
});
