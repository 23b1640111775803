/**
 * Pipelined CALLs, seen from the charger: one rule whatever the action and however the gateway answers it.
 * Up to the bound every CALL is answered with a schema-valid CALLRESULT, in the order sent; beyond it (in CALLs
 * or in bytes) each further CALL gets a GenericError, counted. Answers are checked with a validator built here
 * from the ocpp-rpc schema files, not with the gateway's own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OCPP_VERSIONS, type OcppVersion } from '../src/ocpp/versions.js';
import { type GatewayHarness, metricValue, startGateway } from './helpers/gateway-harness.js';
import { dataTransferFrameOfSize, expectCallError, expectResult } from './helpers/ocpp-assert.js';
import { type Frame, nextId, OcppClient } from './helpers/ocpp-client.js';
import { assertValidConf } from './helpers/ocpp-schema.js';

const T = () => new Date().toISOString();
const START = (meterStart: number) => ({ connectorId: 1, idTag: 'TAG-1', meterStart, timestamp: T() });

async function collect(client: OcppClient, count: number, timeoutMs = 10_000): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.nextFrame(timeoutMs));
  return frames;
}

/** Sends `count` CALLs of `action` in one write; returns their ids in the order sent. */
function burst(client: OcppClient, count: number, action: string, payload: (i: number) => unknown): string[] {
  const ids = Array.from({ length: count }, () => nextId());
  client.writeFramesAtOnce(ids.map((id, i) => JSON.stringify([2, id, action, payload(i)])));
  return ids;
}

/** Every frame is the CALLRESULT of the CALL sent in the same position, valid against the action's schema. */
function assertAllAnsweredInOrder(version: OcppVersion, action: string, ids: string[], frames: Frame[]): Record<string, any>[] {
  assert.deepEqual(
    frames.map((f) => `${String(f[0])} ${String(f[1])}`),
    ids.map((id) => `3 ${id}`),
    'one CALLRESULT per CALL, in the order the CALLs were sent',
  );
  return frames.map((f) => {
    const payload = expectResult(f);
    assertValidConf(version, action, payload);
    return payload;
  });
}

function assertIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `transactionIds increase: ${values.slice(0, i + 1).join(', ')}`);
}

async function withGateway(overrides: Record<string, unknown>, run: (h: GatewayHarness) => Promise<void>): Promise<void> {
  const h = await startGateway({ overrides });
  try {
    await run(h);
  } finally {
    await h.stop();
  }
}

describe('pipelined CALLs within the bound are all answered, in order', () => {
  it('1.6: 200 StartTransactions sent at once get 200 CALLRESULTs in order, each with a new transactionId', async () => {
    await withGateway({}, async (h) => {
      const client = await OcppClient.connect(h.url, 'PIPE-START', ['ocpp1.6']);
      try {
        const ids = burst(client, 200, 'StartTransaction', START);
        const answers = assertAllAnsweredInOrder('ocpp1.6', 'StartTransaction', ids, await collect(client, 200));
        assert.ok(await client.quietFor(200), 'exactly one answer per CALL');
        assertIncreasing(answers.map((a) => a.transactionId as number));
        assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 0);
      } finally {
        await client.close();
      }
    });
  });

  for (const version of OCPP_VERSIONS) {
    it(`${version}: 200 Heartbeats sent at once get 200 CALLRESULTs in order`, async () => {
      await withGateway({}, async (h) => {
        const client = await OcppClient.connect(h.url, 'PIPE-HB', [version]);
        try {
          const ids = burst(client, 200, 'Heartbeat', () => ({}));
          assertAllAnsweredInOrder(version, 'Heartbeat', ids, await collect(client, 200));
          assert.ok(await client.quietFor(200), 'exactly one answer per CALL');
          assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 0);
        } finally {
          await client.close();
        }
      });
    });
  }

  it('1.6: with a transactionId block of 2, 30 StartTransactions at once still get 30 CALLRESULTs in order across the block boundaries', async () => {
    // No backend is attached, so StartTransaction's backend policy falls back to the local answer at once.
    await withGateway({ localAnswers: { transactionIdBlockSize: 2 } }, async (h) => {
      const client = await OcppClient.connect(h.url, 'PIPE-BLOCKS', ['ocpp1.6']);
      try {
        const ids = burst(client, 30, 'StartTransaction', START);
        const answers = assertAllAnsweredInOrder('ocpp1.6', 'StartTransaction', ids, await collect(client, 30));
        assertIncreasing(answers.map((a) => a.transactionId as number));
        assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 0);
      } finally {
        await client.close();
      }
    });
  });
});

describe('pipelined CALLs beyond the bound get GenericError, whatever the action', () => {
  const cases: Array<{ version: OcppVersion; action: string; payload: (i: number) => unknown }> = [
    { version: 'ocpp1.6', action: 'StartTransaction', payload: START },
    { version: 'ocpp1.6', action: 'Heartbeat', payload: () => ({}) },
    { version: 'ocpp2.0.1', action: 'Heartbeat', payload: () => ({}) },
  ];
  for (const { version, action, payload } of cases) {
    it(`${version} ${action}, maxQueuedInboundCalls 20: of 40 sent at once, the first 21 are answered in order and the last 19 refused`, async () => {
      await withGateway({ ocpp: { maxQueuedInboundCalls: 20 } }, async (h) => {
        const client = await OcppClient.connect(h.url, 'PIPE-OVER', [version]);
        try {
          const ids = burst(client, 40, action, payload);
          const frames = await collect(client, 40);
          assert.ok(await client.quietFor(200), 'exactly one answer per CALL');
          const byId = new Map(frames.map((f) => [String(f[1]), f]));
          assert.equal(byId.size, 40, 'every CALL got its own answer');
          const results = frames.filter((f) => f[0] === 3);
          assertAllAnsweredInOrder(version, action, ids.slice(0, 21), results);
          for (const id of ids.slice(21)) {
            const { description } = expectCallError(byId.get(id)!, id, 'GenericError');
            assert.match(description, /at most 20 .*may wait/);
          }
          assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 19);
          // The charger that waits for its answers again is served normally.
          expectResult(await client.call('Heartbeat', {}));
        } finally {
          await client.close();
        }
      });
    });
  }

  for (const version of OCPP_VERSIONS) {
    it(`${version}, maxQueuedInboundBytes 4096: of 10 DataTransfers of 1000 bytes sent at once, 5 are answered and 5 refused`, async () => {
      await withGateway({ ocpp: { maxQueuedInboundBytes: 4096 } }, async (h) => {
        const client = await OcppClient.connect(h.url, 'PIPE-BYTES', [version]);
        try {
          const ids = Array.from({ length: 10 }, () => nextId());
          client.writeFramesAtOnce(ids.map((id) => dataTransferFrameOfSize(id, 1000)));
          const frames = await collect(client, 10);
          const byId = new Map(frames.map((f) => [String(f[1]), f]));
          // One is answered at once; four (4000 bytes) fit behind it; a fifth would make 5000 > 4096.
          assertAllAnsweredInOrder(
            version,
            'DataTransfer',
            ids.slice(0, 5),
            frames.filter((f) => f[0] === 3),
          );
          for (const id of ids.slice(5)) expectCallError(byId.get(id)!, id, 'GenericError');
          assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rejected_total'), 5);
        } finally {
          await client.close();
        }
      });
    });
  }
});
