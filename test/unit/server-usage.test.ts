/**
 * The server's use over a storm's window, from readings of its clocks: the pair of readings that encloses the window
 * is the one subtracted, and a window the readings do not reach has no figure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ServerClockReading, serverUsageBetween, waitedPercent } from '../../src/sim/proc-stats.js';

/** A reading every 100 ms from t = 1000: the CPU grows 50 ms, the main thread runs 40 and waits 30 per reading. */
function readings(count: number, withMainThread = true): ServerClockReading[] {
  return Array.from({ length: count }, (_, i) => ({
    atEpochMs: 1000 + i * 100,
    cpuMs: i * 50,
    mainRanMs: withMainThread ? i * 40 : null,
    mainWaitedMs: withMainThread ? i * 30 : null,
  }));
}

describe('server usage over a window', () => {
  it('subtracts the last reading at or before the start from the first at or after the end', () => {
    // Window 1150..1420: readings 1100 (index 1) and 1500 (index 5) enclose it.
    assert.deepEqual(serverUsageBetween(readings(10), 1150, 1420), { windowSec: 0.4, cpuSec: 0.2, mainThreadRanSec: 0.16, mainThreadWaitedSec: 0.12 });
  });

  it('takes readings that fall on the window ends as they are', () => {
    assert.deepEqual(serverUsageBetween(readings(10), 1200, 1400), { windowSec: 0.2, cpuSec: 0.1, mainThreadRanSec: 0.08, mainThreadWaitedSec: 0.06 });
  });

  it('has no figure for a window the readings do not enclose', () => {
    assert.equal(serverUsageBetween(readings(10), 900, 1400), null);
    assert.equal(serverUsageBetween(readings(10), 1200, 2000), null);
    assert.equal(serverUsageBetween([], 1200, 1400), null);
  });

  it('reports the CPU alone where the kernel keeps no per-thread times', () => {
    assert.deepEqual(serverUsageBetween(readings(10, false), 1200, 1400), { windowSec: 0.2, cpuSec: 0.1, mainThreadRanSec: null, mainThreadWaitedSec: null });
  });

  it('gives the share of the time the main thread wanted a core that it waited, in whole percent', () => {
    const usage = { windowSec: 10, cpuSec: 5 };
    assert.equal(waitedPercent({ ...usage, mainThreadRanSec: 3, mainThreadWaitedSec: 1 }), 25);
    assert.equal(waitedPercent({ ...usage, mainThreadRanSec: 2, mainThreadWaitedSec: 1 }), 33);
    assert.equal(waitedPercent({ ...usage, mainThreadRanSec: 0, mainThreadWaitedSec: 0 }), null);
    assert.equal(waitedPercent({ ...usage, mainThreadRanSec: null, mainThreadWaitedSec: null }), null);
  });
});
