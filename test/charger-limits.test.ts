/**
 * Bounds, seen from the charger: CALLs sent without waiting, frames at and over the size limit, and a charger
 * that stops reading. Each case asserts both what the misbehaving charger gets and that others are still served.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OCPP_VERSIONS } from '../src/ocpp/versions.js';
import { type FuzzedGateway, gatewayRss, scrapeMetrics, startFuzzedGateway } from './fuzz/gateway-process.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil, within } from './helpers/gateway-harness.js';
import { assertAnswersValid, dataTransferFrameOfSize, expectCallError, expectResult } from './helpers/ocpp-assert.js';
import { type Frame, nextId, OcppClient } from './helpers/ocpp-client.js';

// Each start distinct (meterStart): identical ones are one start retried, and get one transactionId.
let meterReading = 0;
const START = () => ({ connectorId: 1, idTag: 'TAG-1', meterStart: meterReading++, timestamp: new Date().toISOString() });

async function collect(client: OcppClient, count: number, timeoutMs = 5000): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.nextFrame(timeoutMs));
  return frames;
}

describe('one CALL in flight: CALLs sent without waiting', () => {
  for (const maxQueued of [4, 0]) {
    it(`1.6, maxQueuedInboundCalls ${maxQueued}: 50 StartTransactions at once → ${1 + maxQueued} answered in order, the rest GenericError`, async () => {
      const h = await startGateway({ overrides: { ocpp: { maxQueuedInboundCalls: maxQueued } } });
      const client = await OcppClient.connect(h.url, 'BURST-16', ['ocpp1.6']);
      try {
        const ids = Array.from({ length: 50 }, () => nextId());
        // One write, so the gateway holds all 50 before it answers the first.
        client.writeFramesAtOnce(ids.map((id) => JSON.stringify([2, id, 'StartTransaction', START()])));
        const frames = await collect(client, 50);
        assert.ok(await client.quietFor(200), 'exactly one answer per CALL');

        const answered = frames.filter((f) => f[0] === 3).map((f) => f[1]);
        assert.deepEqual(answered, ids.slice(0, 1 + maxQueued), 'the first CALL and the queued ones are answered, in order');
        const refused = frames.filter((f) => f[0] === 4);
        assert.equal(refused.length, 50 - 1 - maxQueued);
        for (const f of refused) expectCallError(f, String(f[1]), 'GenericError');
        assert.deepEqual(refused.map((f) => f[1]).sort(), ids.slice(1 + maxQueued).sort());
        assert.equal(new Set(frames.map((f) => f[1])).size, 50, 'every CALL got its own answer');
        assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 50 - 1 - maxQueued);

        const txIds = frames.filter((f) => f[0] === 3).map((f) => (f[2] as { transactionId: number }).transactionId);
        assert.equal(new Set(txIds).size, txIds.length, 'distinct transactionIds');
        assertAnswersValid('ocpp1.6', client);
        // The charger that behaves again is served normally.
        expectResult(await client.call('Heartbeat', {}));
      } finally {
        await client.close();
        await h.stop();
      }
    });
  }

  it('1.6: a queued CALL that breaks its schema still gets its own CALLERROR, in turn', async () => {
    const h = await startGateway();
    const client = await OcppClient.connect(h.url, 'BURST-MIX', ['ocpp1.6']);
    try {
      const ids = [nextId(), nextId(), nextId()];
      client.writeFramesAtOnce([
        JSON.stringify([2, ids[0], 'StartTransaction', START()]),
        JSON.stringify([2, ids[1], 'StatusNotification', { connectorId: '1', errorCode: 'NoError', status: 'Available' }]),
        JSON.stringify([2, ids[2], 'Heartbeat', {}]),
      ]);
      const frames = await collect(client, 3);
      expectResult(frames[0], ids[0]);
      expectCallError(frames[1], ids[1], 'TypeConstraintViolation');
      expectResult(frames[2], ids[2]);
      assertAnswersValid('ocpp1.6', client);
    } finally {
      await client.close();
      await h.stop();
    }
  });

  for (const version of OCPP_VERSIONS) {
    it(`${version}: 50 Heartbeats at once get exactly one answer each, in order`, async () => {
      const h = await startGateway();
      const client = await OcppClient.connect(h.url, 'BURST-HB', [version]);
      try {
        const ids = Array.from({ length: 50 }, () => nextId());
        client.writeFramesAtOnce(ids.map((id) => JSON.stringify([2, id, 'Heartbeat', {}])));
        const frames = await collect(client, 50);
        assert.ok(await client.quietFor(200), 'no extra answers');
        // Within the default bound (500 may wait), as for any other action: every one a CALLRESULT, in order.
        assert.deepEqual(
          frames.map((f) => `${String(f[0])} ${String(f[1])}`),
          ids.map((id) => `3 ${id}`),
        );
        assertAnswersValid(version, client);
      } finally {
        await client.close();
        await h.stop();
      }
    });
  }
});

describe('frame size: 1 MiB and beyond', () => {
  let h: GatewayHarness;
  const MAX = 1024 * 1024;
  before(async () => {
    h = await startGateway();
    assert.equal(h.gateway.config.server.maxFrameBytes, MAX, 'the default limit is 1 MiB');
  });
  after(async () => {
    await h.stop();
  });

  for (const version of OCPP_VERSIONS) {
    it(`${version}: a 1 MB DataTransfer, one just under 1 MiB and one of exactly 1 MiB are answered; the connection stays usable`, async () => {
      const client = await OcppClient.connect(h.url, `BIG-${version}`, [version]);
      try {
        for (const size of [1_000_000, MAX - 64, MAX]) {
          const id = nextId();
          client.sendRaw(dataTransferFrameOfSize(id, size));
          assert.equal(expectResult(await client.nextFrame(10_000), id).status, 'UnknownVendorId', `frame of ${size} bytes`);
        }
        expectResult(await client.call('Heartbeat', {}));
        assertAnswersValid(version, client);
      } finally {
        await client.close();
      }
    });

    it(`${version}: a frame of 1 MiB + 1 closes that connection with 1009; another charger keeps being answered`, async () => {
      const other = await OcppClient.connect(h.url, `BYSTANDER-${version}`, ['ocpp2.0.1']);
      const client = await OcppClient.connect(h.url, `HUGE-${version}`, [version]);
      try {
        client.sendRaw(dataTransferFrameOfSize(nextId(), MAX + 1));
        const closed = await client.closed;
        assert.equal(closed.code, 1009);
        assert.equal(client.received.length, 0, 'the oversize frame got no answer');
        await waitUntil(() => h.gateway.sessions.get(`HUGE-${version}`) === undefined, 3000, 'the session to end');
        expectResult(await other.call('Heartbeat', {}));
        assert.equal(h.gateway.sessions.get(`BYSTANDER-${version}`)?.state, 'open');
      } finally {
        await other.close();
      }
    });
  }
});

describe('a charger that stops reading', () => {
  // The real process, so memory is the gateway's own (its /metrics), not this test process's.
  let g: FuzzedGateway;
  let configDir: string;
  before(async () => {
    configDir = await mkdtemp(join(tmpdir(), 'gw-limits-config-'));
    await writeFile(join(configDir, 'application.yaml'), 'outbox:\n  highWaterBytes: 16384\n  maxQueuedFrames: 64\n');
    g = await startFuzzedGateway({ CONFIG_DIR: configDir });
  });
  after(async () => {
    await g.stop();
    await rm(configDir, { recursive: true, force: true });
  });

  it('is closed with 1008 and a reason once its outbox is full, the gateway keeps its memory bounded, and others keep being served', async () => {
    const url = `ws://127.0.0.1:${g.port}/ocpp`;
    const metric = async (name: string) => (await scrapeMetrics(g.adminPort)).get(name) ?? 0;
    const bystander = await OcppClient.connect(url, 'READER', ['ocpp1.6']);
    const slow = await OcppClient.connect(url, 'NON-READER', ['ocpp1.6']);
    try {
      expectResult(await slow.call('Heartbeat', {}));
      slow.socket.pause();
      const rssBefore = await gatewayRss(g.adminPort);
      // A DataTransfer with a long unknown property: each answer is a CALLERROR of a few KB, so buffers fill quickly.
      const payload = { vendorId: 'com.example', ['p'.repeat(4000)]: 1 };
      let sent = 0;
      const deadline = Date.now() + 30_000;
      while ((await metric('ocpp_backpressure_closes_total')) === 0) {
        assert.ok(Date.now() < deadline, `the gateway did not close the non-reading charger after ${sent} CALLs`);
        for (let i = 0; i < 200; i++) slow.sendCall('DataTransfer', payload);
        sent += 200;
        // Served while the other one floods.
        expectResult(await bystander.call('Heartbeat', {}));
      }
      // The outbox holds at most 64 frames (some 260 KB here) beyond 16 KB in the socket; 64 MiB is the
      // collector's slack on top, far below what a gateway keeping every unread answer would hold.
      const rssGrowth = (await gatewayRss(g.adminPort)) - rssBefore;
      assert.ok(rssGrowth < 64 * 1024 * 1024, `the gateway's RSS grew by ${Math.round(rssGrowth / 1048576)} MiB`);
      assert.equal(await metric('ocpp_backpressure_closes_total'), 1);

      // The charger reads again before the gateway gives up on the closing handshake (2 s): behind the answers
      // already in its socket it finds the close frame, 1008 with the reason.
      slow.socket.resume();
      const closed = await within(slow.closed, 10_000, 'the client seeing its close');
      assert.equal(closed.code, 1008);
      assert.match(closed.reason, /not reading/);

      await waitUntil(async () => (await metric('ocpp_disconnects_total{cause="outbox_full"}')) === 1, 10_000, 'the non-reading session to end');
      assert.equal(await metric('ocpp_outbox_queued_frames'), 0, 'nothing left queued for the closed charger');
      assert.equal(await metric('ocpp_connections'), 1, 'only the reader is still connected');

      // And after: the other charger is still served.
      expectResult(await bystander.call('Heartbeat', {}));
    } finally {
      slow.terminate();
      await bystander.close();
    }
  });
});
