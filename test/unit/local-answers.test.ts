import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LocalAnswerConfig, LocalAnswers } from '../../src/gateway/local-answers.js';
import { TransactionIdAllocator } from '../../src/gateway/transaction-ids.js';
import { actionsOf } from '../../src/ocpp/catalogue.js';
import { OCPP_VERSIONS, type OcppVersion } from '../../src/ocpp/versions.js';
import { schemaOracle } from '../helpers/schema-oracle.js';

const T = '2024-05-01T12:00:00Z';

/** A minimal valid CALL payload for every charger→central action. */
const SAMPLE_REQUESTS: Record<OcppVersion, Record<string, Record<string, unknown>>> = {
  'ocpp1.6': {
    Authorize: { idTag: 'TAG-0001' },
    BootNotification: { chargePointVendor: 'Acme', chargePointModel: 'X1' },
    DataTransfer: { vendorId: 'com.acme', messageId: 'Ping', data: 'x' },
    DiagnosticsStatusNotification: { status: 'Uploaded' },
    FirmwareStatusNotification: { status: 'Installed' },
    Heartbeat: {},
    MeterValues: { connectorId: 1, transactionId: 1, meterValue: [{ timestamp: T, sampledValue: [{ value: '1234' }] }] },
    StartTransaction: { connectorId: 1, idTag: 'TAG-0001', meterStart: 0, timestamp: T },
    StatusNotification: { connectorId: 1, errorCode: 'NoError', status: 'Available' },
    StopTransaction: { transactionId: 1, timestamp: T, meterStop: 1234 },
    LogStatusNotification: { status: 'Uploaded', requestId: 1 },
    SecurityEventNotification: { type: 'StartupOfTheDevice', timestamp: T },
    SignCertificate: { csr: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----' },
    SignedFirmwareStatusNotification: { status: 'Installed', requestId: 1 },
  },
  'ocpp2.0.1': {
    Authorize: { idToken: { idToken: 'TAG-0001', type: 'ISO14443' } },
    BootNotification: { reason: 'PowerUp', chargingStation: { model: 'X1', vendorName: 'Acme' } },
    ClearedChargingLimit: { chargingLimitSource: 'EMS' },
    DataTransfer: { vendorId: 'com.acme' },
    FirmwareStatusNotification: { status: 'Installed' },
    Get15118EVCertificate: { iso15118SchemaVersion: 'urn:iso:15118:2:2013:MsgDef', action: 'Install', exiRequest: 'AAAA' },
    GetCertificateStatus: {
      ocspRequestData: {
        hashAlgorithm: 'SHA256',
        issuerNameHash: 'ab12',
        issuerKeyHash: 'cd34',
        serialNumber: '01',
        responderURL: 'http://ocsp.example.com',
      },
    },
    Heartbeat: {},
    LogStatusNotification: { status: 'Uploaded' },
    MeterValues: { evseId: 1, meterValue: [{ timestamp: T, sampledValue: [{ value: 1234 }] }] },
    NotifyChargingLimit: { chargingLimit: { chargingLimitSource: 'SO' } },
    NotifyCustomerInformation: { data: 'none', seqNo: 0, generatedAt: T, requestId: 1 },
    NotifyDisplayMessages: { requestId: 1 },
    NotifyEVChargingNeeds: { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'DC' } },
    NotifyEVChargingSchedule: {
      timeBase: T,
      evseId: 1,
      chargingSchedule: { id: 1, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] },
    },
    NotifyEvent: {
      generatedAt: T,
      seqNo: 0,
      eventData: [
        {
          eventId: 1,
          timestamp: T,
          trigger: 'Alerting',
          actualValue: 'true',
          eventNotificationType: 'HardWiredNotification',
          component: { name: 'EVSE' },
          variable: { name: 'Problem' },
        },
      ],
    },
    NotifyMonitoringReport: { requestId: 1, seqNo: 0, generatedAt: T },
    NotifyReport: { requestId: 1, generatedAt: T, seqNo: 0 },
    PublishFirmwareStatusNotification: { status: 'Published' },
    ReportChargingProfiles: {
      requestId: 1,
      chargingLimitSource: 'CSO',
      evseId: 1,
      chargingProfile: [
        {
          id: 1,
          stackLevel: 0,
          chargingProfilePurpose: 'TxDefaultProfile',
          chargingProfileKind: 'Absolute',
          chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] }],
        },
      ],
    },
    ReservationStatusUpdate: { reservationId: 1, reservationUpdateStatus: 'Expired' },
    SecurityEventNotification: { type: 'StartupOfTheDevice', timestamp: T },
    SignCertificate: { csr: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----' },
    StatusNotification: { timestamp: T, connectorStatus: 'Available', evseId: 1, connectorId: 1 },
    TransactionEvent: {
      eventType: 'Started',
      timestamp: T,
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
      transactionInfo: { transactionId: 'tx-1' },
    },
  },
};

const ACCEPT_ALL: LocalAnswerConfig = { bootIntervalSeconds: 300, authorize: { mode: 'acceptAll', allowList: [] } };
const ALLOW_LIST: LocalAnswerConfig = {
  bootIntervalSeconds: 120,
  authorize: { mode: 'allowList', allowList: ['TAG-0001', 'abc123'] },
};

let stateDir: string;
let transactionIds: TransactionIdAllocator;

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'local-answers-'));
  transactionIds = await TransactionIdAllocator.open(stateDir, 50);
});

after(async () => {
  await transactionIds.close();
  await rm(stateDir, { recursive: true, force: true });
});

function assertValidResponse(version: OcppVersion, action: string, response: unknown): void {
  // The tests' own reading of the schema files: the gateway's validators are code under test too.
  const verdict = schemaOracle(version).response(action, response);
  assert.ok(verdict.valid, `${version} ${action} answer ${JSON.stringify(response)}: ${JSON.stringify(verdict.firstError)}`);
}

describe('local answers', () => {
  for (const version of OCPP_VERSIONS) {
    it(`${version}: the sample requests are themselves valid`, () => {
      for (const [action, request] of Object.entries(SAMPLE_REQUESTS[version])) {
        const verdict = schemaOracle(version).request(action, request);
        assert.ok(verdict.valid, `${action}: ${JSON.stringify(verdict.firstError)}`);
      }
    });

    for (const [name, config] of [
      ['acceptAll', ACCEPT_ALL],
      ['allowList', ALLOW_LIST],
    ] as const) {
      it(`${version} (${name}): answers every charger→central action with a schema-valid payload`, async () => {
        const answers = new LocalAnswers(config, transactionIds);
        const actions = actionsOf(version, 'chargerToCentral');
        assert.ok(actions.length > 10);
        for (const action of actions) {
          assert.ok(answers.has(version, action), `no answer for ${version} ${action}`);
          const request = SAMPLE_REQUESTS[version][action];
          assert.ok(request, `no sample request for ${version} ${action}`);
          assertValidResponse(version, action, await answers.answer(version, action, request));
        }
      });
    }

    it(`${version}: has no answer for central→charger actions or unknown ones`, () => {
      const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
      assert.ok(!answers.has(version, 'Reset'));
      assert.ok(!answers.has(version, 'NoSuchAction'));
      assert.throws(() => answers.answer(version, 'Reset', {}), /no local answer/);
    });
  }

  it('1.6 BootNotification and Heartbeat carry the current time and the configured interval', async () => {
    const answers = new LocalAnswers(ALLOW_LIST, transactionIds);
    const before = Date.now();
    const boot = (await answers.answer('ocpp1.6', 'BootNotification', SAMPLE_REQUESTS['ocpp1.6'].BootNotification)) as Record<string, any>;
    assert.equal(boot.status, 'Accepted');
    assert.equal(boot.interval, 120);
    assert.ok(Math.abs(Date.parse(boot.currentTime) - before) < 60_000);
    const beat = (await answers.answer('ocpp2.0.1', 'Heartbeat', {})) as Record<string, any>;
    assert.ok(Math.abs(Date.parse(beat.currentTime) - before) < 60_000);
  });

  it('answers every Heartbeat of one millisecond with the same frozen answer, and a later one with a later time', async () => {
    const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
    // Asked until two answers fall in one millisecond and a third in a later one, whatever the machine's speed.
    let same: [Record<string, unknown>, Record<string, unknown>] | undefined;
    for (let tries = 0; same === undefined && tries < 1000; tries++) {
      const first = (await answers.answer('ocpp1.6', 'Heartbeat', {})) as Record<string, unknown>;
      const second = (await answers.answer('ocpp2.0.1', 'Heartbeat', {})) as Record<string, unknown>;
      if (first.currentTime === second.currentTime) same = [first, second];
    }
    assert.ok(same, 'two Heartbeats answered within one millisecond');
    assert.equal(same[0], same[1]);
    assert.ok(Object.isFrozen(same[0]));
    const startedAt = Date.now();
    while (Date.now() === startedAt) {
      // wait for the clock to move on
    }
    const later = (await answers.answer('ocpp1.6', 'Heartbeat', {})) as Record<string, unknown>;
    assert.notEqual(later, same[0]);
    assert.ok(Date.parse(later.currentTime as string) > Date.parse(same[0].currentTime as string));
    assert.deepEqual(Object.keys(later), ['currentTime']);
  });

  it('uses heartbeatIntervalSeconds for the interval when it is set', async () => {
    const answers = new LocalAnswers({ ...ACCEPT_ALL, heartbeatIntervalSeconds: 45 }, transactionIds);
    const boot = (await answers.answer('ocpp2.0.1', 'BootNotification', SAMPLE_REQUESTS['ocpp2.0.1'].BootNotification)) as Record<string, any>;
    assert.equal(boot.interval, 45);
    assert.throws(() => new LocalAnswers({ ...ACCEPT_ALL, bootIntervalSeconds: -1 }, transactionIds), RangeError);
  });

  it('1.6 StartTransaction gets a fresh transactionId every time', async () => {
    const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
    const request = SAMPLE_REQUESTS['ocpp1.6'].StartTransaction;
    const ids = new Set<number>();
    for (let i = 0; i < 120; i++) {
      const response = (await answers.answer('ocpp1.6', 'StartTransaction', request)) as Record<string, any>;
      assert.equal(response.idTagInfo.status, 'Accepted');
      ids.add(response.transactionId);
    }
    assert.equal(ids.size, 120);
  });

  it('1.6 StartTransaction is answered in the same tick while an id is at hand, across a block boundary; only then does it wait', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-answers-blocks-'));
    const allocator = await TransactionIdAllocator.open(dir, 3);
    try {
      const answers = new LocalAnswers(ACCEPT_ALL, allocator);
      const request = SAMPLE_REQUESTS['ocpp1.6'].StartTransaction;
      // Two blocks of 3 are reserved at open: ids 1..6, the boundary between 3 and 4 included, need no await.
      for (let id = 1; id <= 6; id++) {
        const response = answers.answer('ocpp1.6', 'StartTransaction', request);
        assert.ok(!(response instanceof Promise), `StartTransaction ${id} is answered without a promise`);
        assert.equal((response as Record<string, any>).transactionId, id);
        assertValidResponse('ocpp1.6', 'StartTransaction', response);
      }
      const waiting = answers.answer('ocpp1.6', 'StartTransaction', request);
      assert.ok(waiting instanceof Promise, 'the seventh, in the same tick, has no reserved id left and waits');
      const response = (await waiting) as Record<string, any>;
      assert.equal(response.transactionId, 7);
      assertValidResponse('ocpp1.6', 'StartTransaction', response);
    } finally {
      await allocator.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('1.6 StopTransaction answers idTagInfo only when an idTag was given', async () => {
    const answers = new LocalAnswers(ALLOW_LIST, transactionIds);
    const base = SAMPLE_REQUESTS['ocpp1.6'].StopTransaction;
    assert.deepEqual(await answers.answer('ocpp1.6', 'StopTransaction', base), {});
    const withTag = { ...base, idTag: 'tag-0001' };
    assert.ok(schemaOracle('ocpp1.6').request('StopTransaction', withTag).valid);
    const response = await answers.answer('ocpp1.6', 'StopTransaction', withTag);
    assert.deepEqual(response, { idTagInfo: { status: 'Accepted' } });
    assertValidResponse('ocpp1.6', 'StopTransaction', response);
    assert.deepEqual(await answers.answer('ocpp1.6', 'StopTransaction', { ...base, idTag: 'stranger' }), {
      idTagInfo: { status: 'Invalid' },
    });
  });

  it('1.6 DataTransfer answers UnknownVendorId', async () => {
    const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
    assert.deepEqual(await answers.answer('ocpp1.6', 'DataTransfer', SAMPLE_REQUESTS['ocpp1.6'].DataTransfer), {
      status: 'UnknownVendorId',
    });
  });

  describe('authorisation policy', () => {
    it('acceptAll accepts any idTag / idToken', async () => {
      const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
      assert.deepEqual(await answers.answer('ocpp1.6', 'Authorize', { idTag: 'whoever' }), { idTagInfo: { status: 'Accepted' } });
      assert.deepEqual(await answers.answer('ocpp2.0.1', 'Authorize', { idToken: { idToken: 'whoever', type: 'Local' } }), {
        idTokenInfo: { status: 'Accepted' },
      });
    });

    it('allowList accepts listed tags case-insensitively and rejects others as Invalid', async () => {
      const answers = new LocalAnswers(ALLOW_LIST, transactionIds);
      const v16 = async (idTag: string) => ((await answers.answer('ocpp1.6', 'Authorize', { idTag })) as Record<string, any>).idTagInfo.status;
      const v201 = async (idToken: string) =>
        ((await answers.answer('ocpp2.0.1', 'Authorize', { idToken: { idToken, type: 'ISO14443' } })) as Record<string, any>).idTokenInfo.status;
      assert.equal(await v16('TAG-0001'), 'Accepted');
      assert.equal(await v16('tag-0001'), 'Accepted');
      assert.equal(await v16('ABC123'), 'Accepted');
      assert.equal(await v16('TAG-0002'), 'Invalid');
      assert.equal(await v16(''), 'Invalid');
      assert.equal(await v201('Tag-0001'), 'Accepted');
      assert.equal(await v201('nobody'), 'Invalid');
    });

    it('applies the policy to 1.6 StartTransaction, which still gets an id', async () => {
      const answers = new LocalAnswers(ALLOW_LIST, transactionIds);
      const response = (await answers.answer('ocpp1.6', 'StartTransaction', {
        ...SAMPLE_REQUESTS['ocpp1.6'].StartTransaction,
        idTag: 'stranger',
      })) as Record<string, any>;
      assert.equal(response.idTagInfo.status, 'Invalid');
      assert.ok(Number.isInteger(response.transactionId) && response.transactionId > 0);
      assertValidResponse('ocpp1.6', 'StartTransaction', response);
    });

    it('2.0.1 TransactionEvent answers idTokenInfo only when the request carries an idToken', async () => {
      const answers = new LocalAnswers(ALLOW_LIST, transactionIds);
      const base = SAMPLE_REQUESTS['ocpp2.0.1'].TransactionEvent;
      assert.deepEqual(await answers.answer('ocpp2.0.1', 'TransactionEvent', base), {});
      for (const [idToken, status] of [
        ['abc123', 'Accepted'],
        ['stranger', 'Invalid'],
      ]) {
        const request = { ...base, idToken: { idToken, type: 'ISO14443' } };
        assert.ok(schemaOracle('ocpp2.0.1').request('TransactionEvent', request).valid);
        const response = await answers.answer('ocpp2.0.1', 'TransactionEvent', request);
        assert.deepEqual(response, { idTokenInfo: { status } });
        assertValidResponse('ocpp2.0.1', 'TransactionEvent', response);
      }
    });
  });

  it('shares fixed answers between calls but does not let callers change them', async () => {
    const answers = new LocalAnswers(ACCEPT_ALL, transactionIds);
    const first = await answers.answer('ocpp1.6', 'StatusNotification', SAMPLE_REQUESTS['ocpp1.6'].StatusNotification);
    assert.ok(Object.isFrozen(first));
    assert.throws(() => {
      (first as Record<string, unknown>).extra = 1;
    }, TypeError);
  });
});
