/**
 * Whole charging sessions as a charger runs them, 1.6 and 2.0.1, against the gateway's embedded answers; the
 * old gateway's own cases; transaction ids (unique, 32-bit, never reused after a restart); Authorize policy.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OCPP_VERSIONS, type OcppVersion } from '../src/ocpp/versions.js';
import { type GatewayHarness, startGateway } from './helpers/gateway-harness.js';
import { assertAnswersValid, bootPayload, bootWithoutModel, dataTransferFrameOfSize, expectCallError, expectResult, statusPayload } from './helpers/ocpp-assert.js';
import { nextId, OcppClient } from './helpers/ocpp-client.js';

const MAX_INT32 = 2_147_483_647;
const now = () => new Date().toISOString();

function assertRecentTime(value: unknown): void {
  assert.equal(typeof value, 'string');
  const t = Date.parse(value as string);
  assert.ok(Number.isFinite(t), `currentTime ${String(value)} is a date`);
  assert.ok(Math.abs(t - Date.now()) < 60_000, `currentTime ${String(value)} is now`);
}

function assertTransactionId(value: unknown): number {
  assert.equal(typeof value, 'number');
  assert.ok(Number.isInteger(value), `transactionId ${String(value)} is an integer`);
  assert.ok((value as number) > 0 && (value as number) <= MAX_INT32, `transactionId ${String(value)} is a positive 32-bit integer`);
  return value as number;
}

/** A full 1.6 session; resolves with the transactionId it was given. */
async function session16(client: OcppClient, idTag = 'TAG-0001'): Promise<number> {
  const boot = expectResult(await client.call('BootNotification', bootPayload('ocpp1.6')));
  assert.equal(boot.status, 'Accepted');
  assert.ok(Number.isInteger(boot.interval) && boot.interval > 0, `interval ${boot.interval}`);
  assertRecentTime(boot.currentTime);

  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp1.6', 'Available', 0))), {});
  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp1.6', 'Available'))), {});
  assert.equal(expectResult(await client.call('Authorize', { idTag })).idTagInfo.status, 'Accepted');

  const start = expectResult(await client.call('StartTransaction', { connectorId: 1, idTag, meterStart: 1000, timestamp: now() }));
  const transactionId = assertTransactionId(start.transactionId);
  assert.equal(start.idTagInfo.status, 'Accepted');

  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp1.6', 'Charging'))), {});
  for (let i = 1; i <= 3; i++) {
    const meterValues = {
      connectorId: 1,
      transactionId,
      meterValue: [
        {
          timestamp: now(),
          sampledValue: [
            { value: String(1000 + i * 500), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
            { value: '7200.5', measurand: 'Power.Active.Import', unit: 'W' },
          ],
        },
      ],
    };
    assert.deepEqual(expectResult(await client.call('MeterValues', meterValues)), {});
  }
  const stop = expectResult(
    await client.call('StopTransaction', {
      transactionId,
      idTag,
      meterStop: 2500,
      timestamp: now(),
      reason: 'Local',
      transactionData: [{ timestamp: now(), sampledValue: [{ value: '2500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
    }),
  );
  assert.equal(stop.idTagInfo?.status, 'Accepted');
  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp1.6', 'Finishing'))), {});
  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp1.6', 'Available'))), {});
  expectResult(await client.call('Heartbeat', {}));
  return transactionId;
}

/** The 2.0.1 equivalent, with TransactionEvent Started / Updated ×3 / Ended. */
async function session201(client: OcppClient, idToken = 'TAG-0001'): Promise<void> {
  const boot = expectResult(await client.call('BootNotification', bootPayload('ocpp2.0.1')));
  assert.equal(boot.status, 'Accepted');
  assert.ok(Number.isInteger(boot.interval) && boot.interval > 0);
  assertRecentTime(boot.currentTime);

  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp2.0.1', 'Available'))), {});
  const token = { idToken, type: 'ISO14443' };
  assert.equal(expectResult(await client.call('Authorize', { idToken: token })).idTokenInfo.status, 'Accepted');

  const transactionId = `tx-${nextId()}`;
  let seqNo = 0;
  const event = (eventType: string, triggerReason: string, extra: Record<string, unknown> = {}) => ({
    eventType,
    timestamp: now(),
    triggerReason,
    seqNo: seqNo++,
    transactionInfo: { transactionId, ...(eventType === 'Ended' ? { stoppedReason: 'Local' } : { chargingState: 'Charging' }) },
    ...extra,
  });
  const started = expectResult(
    await client.call('TransactionEvent', event('Started', 'Authorized', { idToken: token, evse: { id: 1, connectorId: 1 }, meterValue: [meter(0)] })),
  );
  assert.equal(started.idTokenInfo?.status, 'Accepted');
  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp2.0.1', 'Occupied'))), {});
  for (let i = 1; i <= 3; i++) {
    assert.deepEqual(expectResult(await client.call('TransactionEvent', event('Updated', 'MeterValuePeriodic', { meterValue: [meter(i * 500)] }))), {});
  }
  const ended = expectResult(await client.call('TransactionEvent', event('Ended', 'StopAuthorized', { idToken: token, meterValue: [meter(1600)] })));
  assert.equal(ended.idTokenInfo?.status, 'Accepted');
  assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload('ocpp2.0.1', 'Available'))), {});
  expectResult(await client.call('Heartbeat', {}));
}

function meter(wh: number) {
  return { timestamp: now(), sampledValue: [{ value: wh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] };
}

describe('charging sessions', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  it('1.6: Boot, Available, Authorize, StartTransaction, Charging, MeterValues ×3, StopTransaction, Available: all answered and schema-valid', async () => {
    const client = await OcppClient.connect(h.url, 'SESSION-16', ['ocpp1.6']);
    try {
      await session16(client);
      assert.equal(assertAnswersValid('ocpp1.6', client), 13);
      assert.equal(client.received.length, client.sentCalls.size, 'one answer per CALL');
    } finally {
      await client.close();
    }
  });

  it('2.0.1: Boot, Available, Authorize, TransactionEvent Started / Updated ×3 / Ended, Available: all answered and schema-valid', async () => {
    const client = await OcppClient.connect(h.url, 'SESSION-201', ['ocpp2.0.1']);
    try {
      await session201(client);
      assert.equal(assertAnswersValid('ocpp2.0.1', client), 11);
      assert.equal(client.received.length, client.sentCalls.size, 'one answer per CALL');
    } finally {
      await client.close();
    }
  });

  it('1.6: twenty chargers running sessions side by side get distinct positive 32-bit transactionIds', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => OcppClient.connect(h.url, `PARALLEL-${i}`, ['ocpp1.6'])));
    try {
      const ids = await Promise.all(clients.map((c) => session16(c)));
      assert.equal(new Set(ids).size, ids.length, `distinct: ${ids.join(', ')}`);
      for (const c of clients) assertAnswersValid('ocpp1.6', c);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('the BootNotification interval is the configured one', async () => {
    const g = await startGateway({ overrides: { localAnswers: { bootIntervalSeconds: 42 } } });
    try {
      for (const version of OCPP_VERSIONS) {
        const client = await OcppClient.connect(g.url, `INTERVAL-${version}`, [version]);
        try {
          assert.equal(expectResult(await client.call('BootNotification', bootPayload(version))).interval, 42);
        } finally {
          await client.close();
        }
      }
    } finally {
      await g.stop();
    }
  });
});

describe('transactionIds across a restart', () => {
  it('are not reused after the gateway restarts on the same state folder', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'gw-restart-'));
    try {
      const run = async (): Promise<number[]> => {
        const g = await startGateway({ stateDir });
        const client = await OcppClient.connect(g.url, 'RESTART', ['ocpp1.6']);
        try {
          const ids: number[] = [];
          for (let i = 0; i < 3; i++) {
            // Distinct meter readings: identical StartTransactions would be one start retried, answered with one id.
            const start = expectResult(await client.call('StartTransaction', { connectorId: 1, idTag: 'TAG', meterStart: i, timestamp: now() }));
            ids.push(assertTransactionId(start.transactionId));
          }
          assertAnswersValid('ocpp1.6', client);
          return ids;
        } finally {
          await client.close();
          await g.stop();
        }
      };
      const first = await run();
      const second = await run();
      const third = await run();
      const all = [...first, ...second, ...third];
      assert.equal(new Set(all).size, all.length, `no id handed out twice: ${all.join(', ')}`);
      assert.ok(Math.min(...second) > Math.max(...first), 'the restarted gateway continues above the ids it gave before');
      assert.ok(Math.min(...third) > Math.max(...second));
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('Authorize in allow-list mode', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { localAnswers: { authorize: { mode: 'allowList', allowList: ['TAG-OK'] } } } });
  });
  after(async () => {
    await h.stop();
  });

  it('1.6: an unknown idTag is Invalid, a listed one Accepted, also in StartTransaction', async () => {
    const client = await OcppClient.connect(h.url, 'ALLOW-16', ['ocpp1.6']);
    try {
      assert.equal(expectResult(await client.call('Authorize', { idTag: 'TAG-UNKNOWN' })).idTagInfo.status, 'Invalid');
      assert.equal(expectResult(await client.call('Authorize', { idTag: 'TAG-OK' })).idTagInfo.status, 'Accepted');
      const start = expectResult(await client.call('StartTransaction', { connectorId: 1, idTag: 'TAG-UNKNOWN', meterStart: 0, timestamp: now() }));
      assert.equal(start.idTagInfo.status, 'Invalid');
      assertTransactionId(start.transactionId);
      assertAnswersValid('ocpp1.6', client);
    } finally {
      await client.close();
    }
  });

  it('2.0.1: an unknown idToken is Invalid, a listed one Accepted, also in TransactionEvent', async () => {
    const client = await OcppClient.connect(h.url, 'ALLOW-201', ['ocpp2.0.1']);
    try {
      assert.equal(expectResult(await client.call('Authorize', { idToken: { idToken: 'TAG-UNKNOWN', type: 'ISO14443' } })).idTokenInfo.status, 'Invalid');
      assert.equal(expectResult(await client.call('Authorize', { idToken: { idToken: 'TAG-OK', type: 'ISO14443' } })).idTokenInfo.status, 'Accepted');
      const event = expectResult(
        await client.call('TransactionEvent', {
          eventType: 'Started',
          timestamp: now(),
          triggerReason: 'Authorized',
          seqNo: 0,
          transactionInfo: { transactionId: 'tx-allow' },
          idToken: { idToken: 'TAG-UNKNOWN', type: 'ISO14443' },
        }),
      );
      assert.equal(event.idTokenInfo.status, 'Invalid');
      assertAnswersValid('ocpp2.0.1', client);
    } finally {
      await client.close();
    }
  });
});

describe("the old gateway's own cases", () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  const other = (v: OcppVersion): OcppVersion => (v === 'ocpp1.6' ? 'ocpp2.0.1' : 'ocpp1.6');

  for (const version of OCPP_VERSIONS) {
    describe(version, () => {
      let client: OcppClient;
      before(async () => {
        client = await OcppClient.connect(h.url, `OLD-${version}`, [version]);
      });
      after(async () => {
        await client.close();
      });

      it('BootNotification: Accepted, interval > 0, currentTime present', async () => {
        const boot = expectResult(await client.call('BootNotification', bootPayload(version)));
        assert.equal(boot.status, 'Accepted');
        assert.ok(boot.interval > 0);
        assertRecentTime(boot.currentTime);
      });

      it('BootNotification without the model: CALLERROR OccurenceConstraintViolation', async () => {
        const id = nextId();
        const { description } = expectCallError(await client.call('BootNotification', bootWithoutModel(version), { messageId: id }), id, 'OccurenceConstraintViolation');
        assert.match(description, /model/i);
      });

      it('StatusNotification and MeterValues are answered with an empty object', async () => {
        assert.deepEqual(expectResult(await client.call('StatusNotification', statusPayload(version, 'Available'))), {});
        const meterValues =
          version === 'ocpp1.6' ? { connectorId: 1, meterValue: [{ timestamp: now(), sampledValue: [{ value: '1234' }] }] } : { evseId: 1, meterValue: [meter(1234)] };
        assert.deepEqual(expectResult(await client.call('MeterValues', meterValues)), {});
      });

      it('malformed input (broken JSON, [2,"id"], message type 5, a 1 MB payload) leaves the connection usable', async () => {
        client.sendRaw('[2,"broken",');
        if (version === 'ocpp2.0.1') expectCallError(await client.nextFrame(), '-1', 'RpcFrameworkError');
        const short = nextId();
        client.sendRaw(JSON.stringify([2, short]));
        expectCallError(await client.nextFrame(), short, version === 'ocpp1.6' ? 'ProtocolError' : 'RpcFrameworkError');
        const five = nextId();
        client.sendRaw(JSON.stringify([5, five, 'Heartbeat', {}]));
        expectCallError(await client.nextFrame(), five, version === 'ocpp1.6' ? 'ProtocolError' : 'MessageTypeNotSupported');
        const big = nextId();
        client.sendRaw(dataTransferFrameOfSize(big, 1_000_000));
        expectResult(await client.nextFrame(10_000), big);
        expectResult(await client.call('Heartbeat', {}));
        assert.ok(client.isOpen);
      });

      it(`unsupported actions: FakeAction, an action of ${other(version)} only, an empty action → NotImplemented`, async () => {
        const otherOnly = version === 'ocpp1.6' ? 'TransactionEvent' : 'StartTransaction';
        for (const action of ['FakeAction', otherOnly, '']) {
          const id = nextId();
          expectCallError(await client.call(action, {}, { messageId: id }), id, 'NotImplemented');
        }
        expectResult(await client.call('Heartbeat', {}));
      });

      it('every answer on this connection was schema-valid', () => {
        // BootNotification, StatusNotification, MeterValues, the 1 MB DataTransfer and two Heartbeats.
        assert.equal(assertAnswersValid(version, client), 6);
      });
    });
  }
});
