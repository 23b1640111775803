/**
 * The simulator's reconnect storm (--drop-all-at) and idle chargers (--calls-per-minute 0), through
 * real sockets against the baseline responder (a real child process). Only outcomes are asserted,
 * never timings.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { runSimulation } from '../src/sim/index.js';
import { resolveOptions } from '../src/sim/options.js';
import { startResponder, stopChild } from './helpers/responder.js';

describe('reconnect storm and idle chargers against the baseline responder', () => {
  let responder: { child: ChildProcess; port: number };
  let url: string;
  before(async () => {
    responder = await startResponder();
    url = `ws://127.0.0.1:${responder.port}/ocpp`;
  });
  after(async () => {
    if (responder) await stopChild(responder.child);
  });

  it('drops every charger at once and counts them back, apart from unexpected closes', async () => {
    const report = await runSimulation({
      url,
      chargers: 100,
      protocol: 'mix',
      durationSec: 60,
      drainSec: 5,
      callsPerMinute: 60,
      workers: 2,
      dropAllAtSec: 3,
      reconnectBaseSec: 0.5,
      reconnectMaxSec: 5,
      endAfterStormSec: 2,
    });
    // The run ended once the storm was over, well before --duration.
    assert.ok(report.loadSec < 60, `ran ${report.loadSec} s`);
    assert.deepEqual(report.failures, []);
    assert.equal(report.passed, true);
    const c = report.connections;
    assert.equal(c.droppedOnPurpose, 100);
    assert.equal(c.unexpectedCloses, 0);
    assert.equal(c.failed, 0);
    assert.equal(c.everConnected, 100);
    assert.equal(c.openAtEnd, 100);
    assert.equal(c.opened, 200); // every charger twice: before and after the drop
    assert.ok(c.reconnects >= 100, `only ${c.reconnects} reconnects`);
    const storm = report.reconnectStorm;
    assert.ok(storm);
    assert.equal(storm.atSec, 3);
    assert.equal(storm.dropped, 100);
    assert.equal(storm.rebooted, 100);
    assert.equal(typeof storm.allRebootedAfterSec, 'number');
    assert.ok(storm.allRebootedAfterSec! > 0);
    assert.equal(storm.rampPerSec, null); // no admission limit after the drop
    // Every BootNotification twice, each answered; calls cut by the drop are accounted apart.
    const k = report.calls;
    assert.equal(k.byAction.BootNotification, 200);
    assert.equal(k.callErrors + k.timedOut + k.abortedByClose + k.unansweredAtEnd, 0);
    assert.equal(k.answered + k.cutByDrop, k.sent);
  });

  it('reports no storm when nothing is dropped', async () => {
    const report = await runSimulation({ url, chargers: 10, durationSec: 2, drainSec: 2, workers: 0 });
    assert.equal(report.reconnectStorm, null);
    assert.equal(report.connections.droppedOnPurpose, 0);
    assert.equal(report.calls.cutByDrop, 0);
  });

  it('keeps chargers idle after their boot sequence with 0 calls per minute', async () => {
    const report = await runSimulation({
      url,
      chargers: 40,
      protocol: 'mix',
      durationSec: 4,
      drainSec: 2,
      callsPerMinute: 0,
      connectors: 2,
      workers: 0,
    });
    assert.deepEqual(report.failures, []);
    const k = report.calls;
    // Boot, then a StatusNotification per connector: 1.6 includes connector 0, 2.0.1 does not.
    assert.equal(k.byAction.BootNotification, 40);
    assert.equal(k.byAction.StatusNotification, 20 * 3 + 20 * 2);
    assert.equal(k.sent, 40 + 100);
    assert.equal(k.answered, k.sent);
  });
});

describe('storm options', () => {
  const base = { url: 'ws://127.0.0.1:9000/ocpp', chargers: 10, durationSec: 60 };

  it('resolves the drop moment and the ramp after it', () => {
    const o = resolveOptions({ ...base, dropAllAtSec: 20, dropRampPerSec: 5000 });
    assert.equal(o.dropAllAtMs, 20_000);
    assert.equal(o.dropRampPerSec, 5000);
    const none = resolveOptions(base);
    assert.equal(none.dropAllAtMs, null);
    assert.equal(none.dropRampPerSec, 0);
  });

  it('refuses a drop outside the run or without reconnecting', () => {
    assert.throws(() => resolveOptions({ ...base, endAfterStormSec: 5 }), RangeError); // no drop to end after
    assert.equal(resolveOptions({ ...base, dropAllAtSec: 10, endAfterStormSec: 5 }).endAfterStormMs, 5000);
    assert.throws(() => resolveOptions({ ...base, dropAllAtSec: 60 }), RangeError);
    assert.throws(() => resolveOptions({ ...base, dropAllAtSec: 0 }), RangeError);
    assert.throws(() => resolveOptions({ ...base, dropAllAtSec: 10, reconnect: false }), RangeError);
    assert.throws(() => resolveOptions({ ...base, dropRampPerSec: -1 }), RangeError);
  });

  it('accepts 0 calls per minute (idle) but no negative rate', () => {
    assert.equal(resolveOptions({ ...base, callsPerMinute: 0 }).callsPerMinute, 0);
    assert.throws(() => resolveOptions({ ...base, callsPerMinute: -1 }), RangeError);
  });
});
