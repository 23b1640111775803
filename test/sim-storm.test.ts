/**
 * The simulator's reconnect storm (--drop-all-at) and idle chargers (--calls-per-minute 0), through
 * real sockets against the baseline responder (a real child process). Only outcomes are asserted,
 * never timings.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
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
    const pid = responder.child.pid;
    assert.ok(pid !== undefined);
    const atStart = clocksOf(pid);
    const report = await runSimulation({
      url,
      serverPid: pid,
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
    // Nothing failed on the way back, and the last charger back is the one that ended the storm.
    const tail = storm.tail;
    assert.ok(tail);
    assert.equal(tail.backAfterFailure, 0);
    assert.deepEqual(tail.backAfterFailureByReason, {});
    assert.equal(tail.slowest.length, 20);
    assert.equal(tail.slowest.at(-1)?.afterSec, storm.allRebootedAfterSec);
    for (let i = 1; i < tail.slowest.length; i++) assert.ok(tail.slowest[i - 1].afterSec <= tail.slowest[i].afterSec, 'the last ones back, in order');
    for (const back of tail.slowest) {
      assert.equal(back.attempts, 1);
      assert.deepEqual(back.failures, {});
      assert.ok(back.connectSec >= 0 && back.connectSec <= back.afterSec, `handshake ${back.connectSec} s, back after ${back.afterSec} s`);
      assert.ok(back.tcpConnectSec >= 0 && back.tcpConnectSec <= back.connectSec, `TCP connect ${back.tcpConnectSec} s of a handshake of ${back.connectSec} s`);
    }
    assert.ok(tail.backAfterSec.p50 <= tail.backAfterSec.p90 && tail.backAfterSec.p90 <= tail.backAfterSec.p99);
    assert.ok(tail.backAfterSec.p99 <= storm.allRebootedAfterSec!);
    // What the server got meanwhile: read from two readings that enclose the storm, within what the test itself
    // reads of the whole run from /proc, and no more time than the window holds.
    const atEnd = clocksOf(pid);
    const server = storm.server;
    assert.ok(server, 'the server figures of the storm');
    const stormSec = storm.allRebootedAfterSec ?? Number.NaN;
    // Readings are 100 ms apart; a second of slack covers a late timer on a busy machine, not a wrong pair of readings.
    assert.ok(server.windowSec >= stormSec && server.windowSec <= stormSec + 1, `window ${server.windowSec} s for a storm of ${stormSec} s`);
    assert.ok(server.cpuSec >= 0 && server.cpuSec <= atEnd.cpuSec - atStart.cpuSec, `CPU ${server.cpuSec} s of ${atEnd.cpuSec - atStart.cpuSec} s`);
    assert.ok(server.mainThreadRanSec !== null && server.mainThreadWaitedSec !== null);
    assert.ok(server.mainThreadRanSec > 0 && server.mainThreadRanSec <= atEnd.ranSec - atStart.ranSec, `ran ${server.mainThreadRanSec} s`);
    assert.ok(server.mainThreadWaitedSec >= 0 && server.mainThreadWaitedSec <= atEnd.waitedSec - atStart.waitedSec, `waited ${server.mainThreadWaitedSec} s`);
    assert.ok(server.mainThreadRanSec + server.mainThreadWaitedSec <= server.windowSec + 0.001, 'one thread cannot run and wait longer than the window');
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

describe('the storm tail names what each charger met on its way back', () => {
  /**
   * A server of the test's own that answers every CALL, but refuses with 503 each charger's first connection after
   * its first one: the first attempt after the drop. So every dropped charger is known to come back on its second
   * attempt, after exactly one refusal.
   */
  it('counts a refusal after the drop against every charger that met one', async () => {
    const seen = new Set<string>();
    const refused = new Set<string>();
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('ocpp1.6') ? 'ocpp1.6' : false) });
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const [type, id, action] = JSON.parse(String(data)) as [number, string, string];
        if (type !== 2) return;
        const payload = action === 'BootNotification' ? { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 } : {};
        ws.send(JSON.stringify([3, id, payload]));
      });
    });
    const http = createServer();
    http.on('upgrade', (req, socket, head) => {
      const identity = (req.url ?? '').split('/').pop() ?? '';
      if (seen.has(identity) && !refused.has(identity)) {
        refused.add(identity);
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      seen.add(identity);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    try {
      const report = await runSimulation({
        url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ocpp`,
        chargers: 30,
        protocol: '1.6',
        durationSec: 60,
        drainSec: 2,
        callsPerMinute: 0,
        workers: 0,
        dropAllAtSec: 2,
        reconnectBaseSec: 0.2,
        reconnectMaxSec: 0.5,
        endAfterStormSec: 1,
      });
      const storm = report.reconnectStorm;
      assert.ok(storm?.tail);
      assert.equal(storm.dropped, 30);
      assert.equal(storm.rebooted, 30);
      assert.equal(refused.size, 30);
      assert.equal(storm.tail.backAfterFailure, 30);
      assert.deepEqual({ ...storm.tail.backAfterFailureByReason }, { 'http-503': 30 });
      assert.equal(storm.tail.slowest.length, 20);
      for (const back of storm.tail.slowest) {
        assert.equal(back.attempts, 2);
        assert.deepEqual({ ...back.failures }, { 'http-503': 1 });
      }
      assert.deepEqual(report.connections.failedByReason, { 'http-503': 30 });
    } finally {
      for (const client of wss.clients) client.terminate();
      http.close();
    }
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

/** The server's CPU (every thread) and its main thread's time on a core and waiting for one, from /proc, in seconds. */
function clocksOf(pid: number): { cpuSec: number; ranSec: number; waitedSec: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
  return { cpuSec: (Number(fields[11]) + Number(fields[12])) / 100, ranSec: ran / 1e9, waitedSec: waited / 1e9 };
}
