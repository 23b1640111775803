/**
 * The simulator over TLS with Basic auth against a real gateway process (the benchmark's `tls` target: plain port
 * off, every charger in the credential store pinned to profile 2, certificates made for the run): a CA file is
 * trusted and checked, and --drop-after-boot cuts the fleet once it is all up and reports the storm's handshakes
 * apart. Only outcomes and counts are asserted, never timings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpText, startTarget, type Target } from '../bench/targets.js';
import { runSimulation } from '../src/sim/index.js';
import { resolveOptions } from '../src/sim/options.js';

const CHARGERS = 40;

describe('simulator over TLS + Basic auth against the gateway (profile 2)', () => {
  let target: Target;
  before(async () => {
    target = await startTarget('tls', { tlsFleet: Array.from({ length: CHARGERS }, (_, i) => `SIM${i + 1}`) });
  });
  after(async () => {
    await target?.stop(5000);
  });

  it('trusts the CA file, drops the whole fleet once it booted, and counts the storm handshakes apart', async () => {
    assert.ok(target.url.startsWith('wss://'), target.url);
    assert.ok(target.chargerAuth);
    const report = await runSimulation({
      url: target.url,
      chargers: CHARGERS,
      protocol: 'mix',
      durationSec: 60,
      drainSec: 5,
      workers: 2,
      password: target.chargerAuth.password,
      caFile: target.chargerAuth.caFile,
      dropAfterAllBootedSec: 1,
      reconnectBaseSec: 0.5,
      reconnectMaxSec: 5,
      endAfterStormSec: 1,
      serverPid: target.pid,
    });
    assert.deepEqual(report.failures, []);
    const c = report.connections;
    assert.equal(c.droppedOnPurpose, CHARGERS);
    assert.equal(c.unexpectedCloses, 0);
    assert.equal(c.opened, 2 * CHARGERS);
    assert.equal(c.connectLatency.count, 2 * CHARGERS);
    // Every charger reconnected exactly once after the drop: those handshakes, and only those, are the storm's.
    assert.equal(c.stormConnectLatency?.count, CHARGERS);
    const storm = report.reconnectStorm;
    assert.ok(storm);
    assert.equal(typeof storm.atSec, 'number');
    assert.equal(storm.dropped, CHARGERS);
    assert.equal(storm.rebooted, CHARGERS);
    assert.equal(typeof storm.allRebootedAfterSec, 'number');
    // The server's clocks, read from when every charger had booted (this drop has no time of its own), enclose the storm.
    const stormSec = storm.allRebootedAfterSec ?? Number.NaN;
    assert.ok(storm.server, 'the server figures of the storm');
    assert.ok(storm.server.windowSec >= stormSec && storm.server.windowSec <= stormSec + 1, `window ${storm.server.windowSec} s for a storm of ${stormSec} s`);
    assert.ok(storm.server.mainThreadRanSec !== null && storm.server.mainThreadRanSec > 0);
    // The report never carries the password.
    assert.equal(report.options.password, '***');
    // The gateway saw every connection prove profile 2.
    const metrics = (await httpText(target.adminPort, '/metrics')) ?? '';
    assert.match(metrics, new RegExp(`^ocpp_security_profile_connections_total\\{profile="2"\\} ${2 * CHARGERS}$`, 'm'));
    assert.doesNotMatch(metrics, /^ocpp_security_profile_connections_total\{profile="[013]"\} [1-9]/m);
  });

  it('fails every handshake against a certificate it has no CA for, and then never drops', async () => {
    assert.ok(target.chargerAuth);
    const report = await runSimulation({
      url: target.url,
      chargers: 3,
      durationSec: 3,
      drainSec: 1,
      workers: 0,
      password: target.chargerAuth.password,
      dropAfterAllBootedSec: 1,
    });
    assert.equal(report.connections.everConnected, 0);
    assert.ok(report.connections.failed > 0);
    assert.equal(report.reconnectStorm?.atSec, null);
    assert.equal(report.reconnectStorm?.dropped, 0);
    assert.ok(report.failures.includes('not every charger booted, so the drop never happened'), report.failures.join('; '));
  });
});

describe('options of the TLS storm', () => {
  const base = { url: 'wss://127.0.0.1:9000/ocpp', chargers: 10, durationSec: 60 };

  it('resolves --drop-after-boot and --ca-file', () => {
    const o = resolveOptions({ ...base, dropAfterAllBootedSec: 10, endAfterStormSec: 5, caFile: 'ca.pem' });
    assert.equal(o.dropAfterAllBootedMs, 10_000);
    assert.equal(o.dropAllAtMs, null);
    assert.equal(o.endAfterStormMs, 5000);
    assert.equal(o.caFile, 'ca.pem');
    assert.equal(resolveOptions(base).dropAfterAllBootedMs, null);
  });

  it('refuses a second way to drop, a drop without reconnecting, and a CA file for ws://', () => {
    assert.throws(() => resolveOptions({ ...base, dropAfterAllBootedSec: 10, dropAllAtSec: 20 }), RangeError);
    assert.throws(() => resolveOptions({ ...base, dropAfterAllBootedSec: 10, reconnect: false }), RangeError);
    assert.throws(() => resolveOptions({ ...base, dropAfterAllBootedSec: -1 }), RangeError);
    assert.throws(() => resolveOptions({ ...base, url: 'ws://127.0.0.1:9000/ocpp', caFile: 'ca.pem' }), RangeError);
  });
});
