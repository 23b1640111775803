import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  ConnectorMemory,
  commandResponseEvent,
  connectedEvent,
  disconnectedEvent,
  type EventContext,
  EventType,
  eventsForCall,
  type GatewayEvent,
  ocppActionEventType,
  V16_EVENT_TYPES,
  V201_EVENT_TYPES,
} from '../../src/events/index.js';
import type { OcppVersion } from '../../src/ocpp/versions.js';

const NOW = new Date('2024-05-01T10:00:00.000Z');

function context(protocol: OcppVersion, memory = new ConnectorMemory()): EventContext {
  return { chargePointId: 'CP-1', gatewayId: 'gw-a', protocol, memory, now: NOW };
}

/** Feeds CALLs through one charger's context, collecting its events in order. */
function session(protocol: OcppVersion) {
  const ctx = context(protocol);
  const events: GatewayEvent[] = [];
  return {
    ctx,
    events,
    call(action: string, request: Record<string, any>, response: Record<string, any> = {}): GatewayEvent[] {
      const out = eventsForCall(ctx, action, request, response);
      events.push(...out);
      return out;
    },
  };
}

const p = (e: GatewayEvent): Record<string, any> => e.payload as Record<string, any>;
const sortedKeys = (o: object): string[] => Object.keys(o).sort();

function sampled16(n: number) {
  return [
    { value: String(1000 + n * 500), context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
    { value: '16.1', measurand: 'Current.Import', phase: 'L1', location: 'Outlet', unit: 'A' },
    { value: '16.3', measurand: 'Current.Import', phase: 'L2', location: 'Outlet', unit: 'A' },
    { value: '230.4', measurand: 'Voltage', phase: 'L1-N', location: 'Inlet', unit: 'V' },
    { value: '11.04', measurand: 'Power.Active.Import', unit: 'kW', format: 'Raw' },
    { value: String(40 + n), measurand: 'SoC', location: 'EV', unit: 'Percent' },
  ];
}

function sampled201(n: number) {
  return [
    { value: 1000 + n * 500, context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register' },
    { value: 16.1, measurand: 'Current.Import', phase: 'L1', location: 'Outlet', unitOfMeasure: { unit: 'A' } },
    { value: 16.3, measurand: 'Current.Import', phase: 'L2', location: 'Outlet', unitOfMeasure: { unit: 'A' } },
    { value: 230.4, measurand: 'Voltage', phase: 'L1-N', location: 'Inlet', unitOfMeasure: { unit: 'V' } },
    { value: 11.04, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'kW' } },
    { value: 40 + n, measurand: 'SoC', location: 'EV', unitOfMeasure: { unit: 'Percent' } },
  ];
}

function run16() {
  const s = session('ocpp1.6');
  s.call(
    'BootNotification',
    {
      chargePointVendor: 'Acme',
      chargePointModel: 'Wallbox-22',
      chargePointSerialNumber: 'SN-1',
      chargeBoxSerialNumber: 'CB-1',
      firmwareVersion: '1.2.3',
      iccid: 'ICCID',
      imsi: 'IMSI',
      meterType: 'MT',
      meterSerialNumber: 'MSN',
    },
    { status: 'Accepted', currentTime: NOW.toISOString(), interval: 300 },
  );
  s.call('StatusNotification', { connectorId: 1, status: 'Available', errorCode: 'NoError', timestamp: '2024-05-01T09:59:00Z' });
  s.call('Authorize', { idTag: 'TAG-1' }, { idTagInfo: { status: 'Accepted' } });
  s.call(
    'StartTransaction',
    { connectorId: 1, idTag: 'TAG-1', meterStart: 1000, timestamp: '2024-05-01T10:00:01Z', reservationId: 7 },
    { transactionId: 42, idTagInfo: { status: 'Accepted', expiryDate: '2024-06-01T00:00:00Z' } },
  );
  s.call('StatusNotification', { connectorId: 1, status: 'Charging', errorCode: 'NoError', info: 'ok', vendorId: 'Acme', vendorErrorCode: '0' });
  for (let n = 1; n <= 3; n++) {
    s.call('MeterValues', {
      connectorId: 1,
      transactionId: 42,
      meterValue: [{ timestamp: `2024-05-01T10:0${n}:00Z`, sampledValue: sampled16(n) }],
    });
  }
  s.call(
    'StopTransaction',
    {
      transactionId: 42,
      idTag: 'TAG-1',
      meterStop: 5000,
      timestamp: '2024-05-01T10:30:00Z',
      reason: 'EVDisconnected',
      transactionData: [
        {
          timestamp: '2024-05-01T10:30:00Z',
          sampledValue: [{ value: '5000', context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
        },
      ],
    },
    { idTagInfo: { status: 'Accepted' } },
  );
  s.call('StatusNotification', { connectorId: 1, status: 'Available', errorCode: 'NoError' });
  return s;
}

function run201() {
  const s = session('ocpp2.0.1');
  s.call(
    'BootNotification',
    {
      reason: 'PowerUp',
      chargingStation: {
        vendorName: 'Acme',
        model: 'Wallbox-22',
        serialNumber: 'SN-1',
        firmwareVersion: '1.2.3',
        modem: { iccid: 'ICCID', imsi: 'IMSI' },
      },
    },
    { status: 'Accepted', currentTime: NOW.toISOString(), interval: 300 },
  );
  s.call('StatusNotification', { evseId: 1, connectorId: 1, connectorStatus: 'Available', timestamp: '2024-05-01T09:59:00Z' });
  s.call('Authorize', { idToken: { idToken: 'TAG-1', type: 'ISO14443' } }, { idTokenInfo: { status: 'Accepted' } });
  s.call(
    'TransactionEvent',
    {
      eventType: 'Started',
      timestamp: '2024-05-01T10:00:01Z',
      triggerReason: 'Authorized',
      seqNo: 0,
      reservationId: 7,
      transactionInfo: { transactionId: 'tx-abc', chargingState: 'EVConnected', remoteStartId: 9 },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'TAG-1', type: 'ISO14443' },
      meterValue: [
        {
          timestamp: '2024-05-01T10:00:01Z',
          sampledValue: [{ value: 1, context: 'Transaction.Begin', unitOfMeasure: { unit: 'kWh' } }],
        },
      ],
    },
    { idTokenInfo: { status: 'Accepted' } },
  );
  s.call('StatusNotification', { evseId: 1, connectorId: 1, connectorStatus: 'Occupied', timestamp: '2024-05-01T10:00:02Z' });
  for (let n = 1; n <= 3; n++) {
    s.call('TransactionEvent', {
      eventType: 'Updated',
      timestamp: `2024-05-01T10:0${n}:00Z`,
      triggerReason: 'MeterValuePeriodic',
      seqNo: n,
      transactionInfo: { transactionId: 'tx-abc', chargingState: 'Charging' },
      meterValue: [{ timestamp: `2024-05-01T10:0${n}:00Z`, sampledValue: sampled201(n) }],
    });
  }
  s.call('TransactionEvent', {
    eventType: 'Ended',
    timestamp: '2024-05-01T10:30:00Z',
    triggerReason: 'EVDeparted',
    seqNo: 4,
    transactionInfo: { transactionId: 'tx-abc', chargingState: 'Idle', stoppedReason: 'EVDisconnected' },
    meterValue: [
      {
        timestamp: '2024-05-01T10:30:00Z',
        sampledValue: [{ value: 5000, context: 'Transaction.End', measurand: 'Energy.Active.Import.Register' }],
      },
    ],
  });
  s.call('StatusNotification', { evseId: 1, connectorId: 1, connectorStatus: 'Available', timestamp: '2024-05-01T10:31:00Z' });
  return s;
}

const first = (events: GatewayEvent[], type: string): GatewayEvent => {
  const e = events.find((x) => x.eventType === type);
  assert.ok(e, `no ${type}`);
  return e;
};

describe('envelope', () => {
  it('carries source, time and a unique id', () => {
    const [a] = eventsForCall(context('ocpp1.6'), 'Heartbeat', {}, { currentTime: 'x' });
    const [b] = eventsForCall(context('ocpp1.6'), 'Heartbeat', {}, { currentTime: 'x' });
    assert.deepEqual(Object.keys(a), ['eventId', 'eventType', 'chargePointId', 'gatewayId', 'timestamp', 'protocol', 'payload']);
    assert.match(a.eventId, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.eventId, b.eventId);
    assert.equal(a.eventType, 'charge_point.heartbeat');
    assert.equal(a.chargePointId, 'CP-1');
    assert.equal(a.gatewayId, 'gw-a');
    assert.equal(a.timestamp, NOW.toISOString());
    assert.equal(a.protocol, 'ocpp1.6');
    assert.equal(p(a).currentTime, 'x');
  });

  it('names other actions ocpp.<snake_case>', () => {
    assert.equal(ocppActionEventType('NotifyReport'), 'ocpp.notify_report');
    assert.equal(ocppActionEventType('NotifyEVChargingNeeds'), 'ocpp.notify_ev_charging_needs');
    assert.equal(ocppActionEventType('Get15118EVCertificate'), 'ocpp.get_15118_ev_certificate');
    assert.equal(ocppActionEventType('SignCertificate'), 'ocpp.sign_certificate');
    assert.equal(ocppActionEventType('Foo.Bar>*'), 'ocpp.foo_bar');
    assert.equal(ocppActionEventType(''), 'ocpp.unknown');
  });
});

describe('OCPP 1.6 session', () => {
  it('yields the expected sequence of event types', () => {
    const { events } = run16();
    assert.deepEqual(
      events.map((e) => e.eventType),
      [
        'charge_point.booted',
        'connector.status_changed',
        'authorization.requested',
        'transaction.started',
        'connector.status_changed',
        'transaction.meter_values',
        'transaction.meter_values',
        'transaction.meter_values',
        'transaction.meter_values',
        'transaction.stopped',
        'connector.status_changed',
      ],
    );
    for (const e of events) {
      assert.equal(e.protocol, 'ocpp1.6');
      assert.ok(p(e).ocpp.request, 'raw request kept');
    }
  });

  it('reports boot details and the answer given', () => {
    const booted = p(first(run16().events, EventType.ChargePointBooted));
    assert.equal(booted.vendor, 'Acme');
    assert.equal(booted.model, 'Wallbox-22');
    assert.equal(booted.serialNumber, 'SN-1');
    assert.equal(booted.chargeBoxSerialNumber, 'CB-1');
    assert.equal(booted.firmwareVersion, '1.2.3');
    assert.equal(booted.iccid, 'ICCID');
    assert.equal(booted.imsi, 'IMSI');
    assert.equal(booted.meterType, 'MT');
    assert.equal(booted.meterSerialNumber, 'MSN');
    assert.equal(booted.reason, null);
    assert.equal(booted.status, 'Accepted');
    assert.equal(booted.interval, 300);
    assert.equal(booted.ocpp.action, 'BootNotification');
  });

  it('gives each status change its previous status', () => {
    const statuses = run16()
      .events.filter((e) => e.eventType === EventType.ConnectorStatusChanged)
      .map(p);
    assert.deepEqual(
      statuses.map((s) => [s.status, s.previousStatus]),
      [
        ['Available', null],
        ['Charging', 'Available'],
        ['Available', 'Charging'],
      ],
    );
    assert.equal(statuses[1].connectorId, 1);
    assert.equal(statuses[1].evseId, null);
    assert.equal(statuses[1].errorCode, 'NoError');
    assert.equal(statuses[1].info, 'ok');
    assert.equal(statuses[1].vendorId, 'Acme');
    assert.equal(statuses[1].vendorErrorCode, '0');
    assert.equal(statuses[0].timestamp, '2024-05-01T09:59:00Z');
    assert.equal(statuses[1].timestamp, null);
  });

  it('maps the idTag to an idToken of type idTag with the answer', () => {
    const auth = p(first(run16().events, EventType.AuthorizationRequested));
    assert.deepEqual(auth.idToken, { idToken: 'TAG-1', type: 'idTag' });
    assert.equal(auth.status, 'Accepted');
    assert.deepEqual(auth.idTokenInfo, { status: 'Accepted' });
  });

  it('takes the transaction id from the answer', () => {
    const started = p(first(run16().events, EventType.TransactionStarted));
    assert.equal(started.transactionId, '42');
    assert.equal(started.ocppTransactionId, 42);
    assert.equal(started.connectorId, 1);
    assert.equal(started.evseId, null);
    assert.deepEqual(started.idToken, { idToken: 'TAG-1', type: 'idTag' });
    assert.equal(started.meterStart, 1000);
    assert.equal(started.timestamp, '2024-05-01T10:00:01Z');
    assert.equal(started.reservationId, 7);
    assert.equal(started.authorizationStatus, 'Accepted');
    assert.deepEqual(started.idTokenInfo, { status: 'Accepted', expiryDate: '2024-06-01T00:00:00Z' });
  });

  it('keeps every sampled value with all its fields', () => {
    const mv = run16()
      .events.filter((e) => e.eventType === EventType.TransactionMeterValues)
      .map(p);
    assert.equal(mv[0].transactionId, '42');
    assert.equal(mv[0].connectorId, 1);
    assert.equal(mv[0].meterValues.length, 1);
    assert.equal(mv[0].meterValues[0].timestamp, '2024-05-01T10:01:00Z');
    const values = mv[0].meterValues[0].sampledValues;
    assert.equal(values.length, 6);
    assert.deepEqual(values[0], {
      value: 1500,
      rawValue: '1500',
      context: 'Sample.Periodic',
      format: 'Raw',
      measurand: 'Energy.Active.Import.Register',
      phase: null,
      location: 'Outlet',
      unit: 'Wh',
      multiplier: 0,
      signedMeterValue: null,
    });
    assert.deepEqual(values[3], {
      value: 230.4,
      rawValue: '230.4',
      context: 'Sample.Periodic',
      format: 'Raw',
      measurand: 'Voltage',
      phase: 'L1-N',
      location: 'Inlet',
      unit: 'V',
      multiplier: 0,
      signedMeterValue: null,
    });
    assert.equal(values[1].phase, 'L1');
    assert.equal(values[2].phase, 'L2');
    assert.equal(values[4].unit, 'kW');
    assert.equal(values[5].location, 'EV');
    assert.equal(values[5].unit, 'Percent');
  });

  it('ends the transaction with its data, connector and reason', () => {
    const { events, ctx } = run16();
    const i = events.findIndex((e) => e.eventType === EventType.TransactionStopped);
    const data = p(events[i - 1]);
    assert.equal(events[i - 1].eventType, EventType.TransactionMeterValues);
    assert.equal(data.transactionId, '42');
    assert.equal(data.meterValues[0].sampledValues[0].context, 'Transaction.End');
    const stopped = p(events[i]);
    assert.equal(stopped.transactionId, '42');
    assert.equal(stopped.connectorId, 1, 'connector remembered from the start');
    assert.deepEqual(stopped.idToken, { idToken: 'TAG-1', type: 'idTag' });
    assert.equal(stopped.meterStop, 5000);
    assert.equal(stopped.timestamp, '2024-05-01T10:30:00Z');
    assert.equal(stopped.reason, 'EVDisconnected');
    assert.deepEqual(ctx.memory.openTransactions(), []);
  });

  it('marks a stop of an already stopped transaction as repeat, but never a stop of transactionId -1', () => {
    const s = session('ocpp1.6');
    s.call('StartTransaction', { connectorId: 2, idTag: 'T', meterStart: 0, timestamp: 't0' }, { transactionId: 5, idTagInfo: { status: 'Accepted' } });
    for (const transactionId of [5, 5, -1, -1]) s.call('StopTransaction', { transactionId, meterStop: 1, timestamp: 't1' });
    assert.deepEqual(
      s.events.filter((e) => e.eventType === 'transaction.stopped').map((e) => [p(e).transactionId, p(e).connectorId, p(e).repeat]),
      [
        ['5', 2, false],
        ['5', 2, true],
        ['-1', null, false],
        ['-1', null, false],
      ],
    );
  });

  it('fills in the defaults the specification defines', () => {
    const [e] = eventsForCall(
      context('ocpp1.6'),
      'MeterValues',
      {
        connectorId: 0,
        meterValue: [{ timestamp: 't', sampledValue: [{ value: '12.5' }, { value: 'A1B2', format: 'SignedData' }, { value: '3', measurand: 'Voltage' }] }],
      },
      {},
    );
    const values = p(e).meterValues[0].sampledValues;
    assert.equal(p(e).transactionId, null);
    assert.equal(values[0].value, 12.5);
    assert.equal(values[0].context, 'Sample.Periodic');
    assert.equal(values[0].format, 'Raw');
    assert.equal(values[0].measurand, 'Energy.Active.Import.Register');
    assert.equal(values[0].location, 'Outlet');
    assert.equal(values[0].unit, 'Wh');
    assert.equal(values[1].value, null, 'signed data is no reading');
    assert.equal(values[1].rawValue, 'A1B2');
    assert.equal(values[2].unit, null, 'Wh is the default only for energy');
    const [stop] = eventsForCall(context('ocpp1.6'), 'StopTransaction', { transactionId: 1, meterStop: 1, timestamp: 't' }, {});
    assert.equal(p(stop).reason, 'Local');
  });
});

describe('OCPP 2.0.1 session', () => {
  it('yields the same event types, with updates', () => {
    const { events } = run201();
    assert.deepEqual(
      events.map((e) => e.eventType),
      [
        'charge_point.booted',
        'connector.status_changed',
        'authorization.requested',
        'transaction.started',
        'transaction.meter_values',
        'connector.status_changed',
        'transaction.updated',
        'transaction.meter_values',
        'transaction.updated',
        'transaction.meter_values',
        'transaction.updated',
        'transaction.meter_values',
        'transaction.meter_values',
        'transaction.stopped',
        'connector.status_changed',
      ],
    );
  });

  it('reports boot details and the answer given', () => {
    const booted = p(first(run201().events, EventType.ChargePointBooted));
    assert.equal(booted.vendor, 'Acme');
    assert.equal(booted.model, 'Wallbox-22');
    assert.equal(booted.serialNumber, 'SN-1');
    assert.equal(booted.firmwareVersion, '1.2.3');
    assert.equal(booted.iccid, 'ICCID');
    assert.equal(booted.imsi, 'IMSI');
    assert.equal(booted.reason, 'PowerUp');
    assert.equal(booted.status, 'Accepted');
  });

  it('gives each status change its previous status per EVSE and connector', () => {
    const statuses = run201()
      .events.filter((e) => e.eventType === EventType.ConnectorStatusChanged)
      .map(p);
    assert.deepEqual(
      statuses.map((s) => [s.evseId, s.connectorId, s.status, s.previousStatus]),
      [
        [1, 1, 'Available', null],
        [1, 1, 'Occupied', 'Available'],
        [1, 1, 'Available', 'Occupied'],
      ],
    );
  });

  it('maps the transaction with the same fields as 1.6', () => {
    const { events } = run201();
    const started = p(first(events, EventType.TransactionStarted));
    assert.equal(started.transactionId, 'tx-abc');
    assert.equal(started.evseId, 1);
    assert.equal(started.connectorId, 1);
    assert.deepEqual(started.idToken, { idToken: 'TAG-1', type: 'ISO14443' });
    assert.equal(started.meterStart, 1000, '1 kWh in Wh');
    assert.equal(started.timestamp, '2024-05-01T10:00:01Z');
    assert.equal(started.reservationId, 7);
    assert.equal(started.remoteStartId, 9);
    assert.equal(started.triggerReason, 'Authorized');
    assert.equal(started.authorizationStatus, 'Accepted');

    const updated = events.filter((e) => e.eventType === EventType.TransactionUpdated).map(p);
    assert.equal(updated.length, 3);
    assert.equal(updated[0].evseId, 1, 'EVSE remembered from the start');
    assert.equal(updated[0].connectorId, 1);
    assert.equal(updated[2].seqNo, 3);
    assert.equal(updated[2].chargingState, 'Charging');

    const mv = events.filter((e) => e.eventType === EventType.TransactionMeterValues).map(p);
    assert.equal(mv.length, 5);
    assert.equal(mv[1].transactionId, 'tx-abc');
    assert.equal(mv[1].evseId, 1);
    const values = mv[1].meterValues[0].sampledValues;
    assert.equal(values.length, 6);
    assert.deepEqual(values[3], {
      value: 230.4,
      rawValue: 230.4,
      context: 'Sample.Periodic',
      format: 'Raw',
      measurand: 'Voltage',
      phase: 'L1-N',
      location: 'Inlet',
      unit: 'V',
      multiplier: 0,
      signedMeterValue: null,
    });
    assert.equal(values[0].unit, 'Wh');

    const stopped = p(first(events, EventType.TransactionStopped));
    assert.equal(stopped.transactionId, 'tx-abc');
    assert.equal(stopped.evseId, 1);
    assert.equal(stopped.meterStop, 5000);
    assert.equal(stopped.reason, 'EVDisconnected');
  });

  it('shares one payload shape per event type with 1.6', () => {
    const a = run16().events;
    const b = run201().events;
    for (const type of [
      EventType.ChargePointBooted,
      EventType.ConnectorStatusChanged,
      EventType.AuthorizationRequested,
      EventType.TransactionStarted,
      EventType.TransactionMeterValues,
      EventType.TransactionStopped,
    ]) {
      assert.deepEqual(sortedKeys(p(first(a, type))), sortedKeys(p(first(b, type))), type);
    }
    assert.deepEqual(
      sortedKeys(p(first(a, EventType.TransactionMeterValues)).meterValues[0].sampledValues[0]),
      sortedKeys(p(first(b, EventType.TransactionMeterValues)).meterValues[0].sampledValues[0]),
    );
    const updated = sortedKeys(p(first(b, EventType.TransactionUpdated)));
    for (const key of updated) assert.ok(key in p(first(a, EventType.TransactionStarted)), key);
  });

  it('tracks open transactions as last reported', () => {
    const s = session('ocpp2.0.1');
    s.call('TransactionEvent', {
      eventType: 'Started',
      timestamp: 't0',
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
      transactionInfo: { transactionId: 'A' },
      evse: { id: 2, connectorId: 1 },
    });
    // Heard of only after a reconnect: still open as far as the charger says.
    s.call('TransactionEvent', {
      eventType: 'Updated',
      timestamp: 't1',
      triggerReason: 'Authorized',
      seqNo: 5,
      transactionInfo: { transactionId: 'B' },
      evse: { id: 1 },
      idToken: { idToken: 'X', type: 'Central' },
    });
    s.call('TransactionEvent', {
      eventType: 'Updated',
      timestamp: 't2',
      triggerReason: 'Authorized',
      seqNo: 1,
      transactionInfo: { transactionId: 'A' },
      idToken: { idToken: 'Y', type: 'ISO14443' },
    });
    const open = s.ctx.memory.openTransactions();
    assert.deepEqual(
      open.map((t) => [t.transactionId, t.evseId, t.connectorId, t.idToken?.idToken, t.updatedAt]),
      [
        ['A', 2, 1, 'Y', 't2'],
        ['B', 1, null, 'X', 't1'],
      ],
    );
    // A new transaction on EVSE 2 means the charger no longer runs A there.
    s.call('TransactionEvent', {
      eventType: 'Started',
      timestamp: 't3',
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
      transactionInfo: { transactionId: 'C' },
      evse: { id: 2, connectorId: 1 },
    });
    assert.deepEqual(
      s.ctx.memory.openTransactions().map((t) => t.transactionId),
      ['B', 'C'],
    );
    s.call('TransactionEvent', {
      eventType: 'Ended',
      timestamp: 't4',
      triggerReason: 'EVDeparted',
      seqNo: 1,
      transactionInfo: { transactionId: 'B' },
    });
    assert.deepEqual(
      s.ctx.memory.openTransactions().map((t) => t.transactionId),
      ['C'],
    );
    const stopped = p(s.events[s.events.length - 1]);
    assert.equal(stopped.evseId, 1);
    assert.equal(stopped.reason, 'Local');
    assert.equal(stopped.meterStop, null);
  });

  it('marks a Started sent again as retry and an Ended sent again as repeat, keeping the EVSE', () => {
    const s = session('ocpp2.0.1');
    const started = {
      eventType: 'Started',
      timestamp: 't0',
      triggerReason: 'CablePluggedIn',
      seqNo: 0,
      transactionInfo: { transactionId: 'R' },
      evse: { id: 3, connectorId: 1 },
    };
    const ended = { eventType: 'Ended', timestamp: 't1', triggerReason: 'EVDeparted', seqNo: 1, transactionInfo: { transactionId: 'R' } };
    s.call('TransactionEvent', started);
    s.call('TransactionEvent', started);
    s.call('TransactionEvent', ended);
    s.call('TransactionEvent', ended);
    assert.deepEqual(
      s.events.map((e) => [e.eventType, p(e).evseId, p(e).retry ?? p(e).repeat]),
      [
        ['transaction.started', 3, false],
        ['transaction.started', 3, true],
        ['transaction.stopped', 3, false],
        ['transaction.stopped', 3, true],
      ],
    );
    assert.deepEqual(s.ctx.memory.openTransactions(), []);
  });

  it('gives every other 2.0.1 action its own event type carrying the request', () => {
    const request = { requestId: 1, seqNo: 0, generatedAt: 't', reportData: [{ vendorThing: true }] };
    const [e] = eventsForCall(context('ocpp2.0.1'), 'NotifyReport', request, {});
    assert.equal(e.eventType, 'ocpp.notify_report');
    assert.equal(p(e).ocpp.request, request);
    assert.equal(p(e).ocpp.action, 'NotifyReport');

    const schemas = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('ocpp-rpc/lib/schemas/ocpp2_0_1.json'), 'utf8')) as Array<{ $id: string }>;
    const known = new Set(schemas.map((s) => s.$id));
    const types = new Set<string>();
    for (const [action, list] of Object.entries(V201_EVENT_TYPES)) {
      assert.ok(known.has(`urn:${action}.req`), action);
      for (const t of list) types.add(t);
    }
    assert.equal(Object.keys(V201_EVENT_TYPES).length, 25);
    assert.ok(types.has('ocpp.notify_ev_charging_needs'));
    assert.ok(types.has('ocpp.get_15118_ev_certificate'));
    assert.deepEqual(V16_EVENT_TYPES.SignCertificate, ['ocpp.sign_certificate']);
    const [sign] = eventsForCall(context('ocpp1.6'), 'SignCertificate', { csr: 'x' }, { status: 'Accepted' });
    assert.equal(sign.eventType, 'ocpp.sign_certificate');
  });
});

describe('other named events', () => {
  it('maps notifications of both versions', () => {
    const cases: Array<[OcppVersion, string, Record<string, any>, Record<string, any>, string, Record<string, unknown>]> = [
      [
        'ocpp1.6',
        'DataTransfer',
        { vendorId: 'V', messageId: 'M', data: 'd' },
        { status: 'Accepted', data: 'r' },
        EventType.DataTransferReceived,
        { vendorId: 'V', messageId: 'M', data: 'd', status: 'Accepted', responseData: 'r' },
      ],
      [
        'ocpp2.0.1',
        'DataTransfer',
        { vendorId: 'V', data: { a: 1 } },
        { status: 'Rejected' },
        EventType.DataTransferReceived,
        { vendorId: 'V', messageId: null, status: 'Rejected', responseData: null },
      ],
      ['ocpp1.6', 'FirmwareStatusNotification', { status: 'Installed' }, {}, EventType.FirmwareStatusChanged, { status: 'Installed', requestId: null }],
      ['ocpp1.6', 'SignedFirmwareStatusNotification', { status: 'Installed', requestId: 3 }, {}, EventType.FirmwareStatusChanged, { status: 'Installed', requestId: 3 }],
      ['ocpp2.0.1', 'FirmwareStatusNotification', { status: 'Downloading', requestId: 4 }, {}, EventType.FirmwareStatusChanged, { status: 'Downloading', requestId: 4 }],
      ['ocpp1.6', 'DiagnosticsStatusNotification', { status: 'Uploaded' }, {}, EventType.DiagnosticsStatusChanged, { status: 'Uploaded' }],
      ['ocpp1.6', 'LogStatusNotification', { status: 'Uploading', requestId: 5 }, {}, EventType.LogStatusChanged, { status: 'Uploading', requestId: 5 }],
      ['ocpp2.0.1', 'LogStatusNotification', { status: 'Uploaded', requestId: 6 }, {}, EventType.LogStatusChanged, { status: 'Uploaded', requestId: 6 }],
      [
        'ocpp1.6',
        'SecurityEventNotification',
        { type: 'TamperDetectionActivated', timestamp: 't' },
        {},
        EventType.SecurityEvent,
        { type: 'TamperDetectionActivated', timestamp: 't', techInfo: null },
      ],
      [
        'ocpp2.0.1',
        'SecurityEventNotification',
        { type: 'FirmwareUpdated', timestamp: 't', techInfo: 'i' },
        {},
        EventType.SecurityEvent,
        { type: 'FirmwareUpdated', timestamp: 't', techInfo: 'i' },
      ],
      [
        'ocpp2.0.1',
        'MeterValues',
        { evseId: 0, meterValue: [{ timestamp: 't', sampledValue: [{ value: 7 }] }] },
        {},
        EventType.TransactionMeterValues,
        { transactionId: null, evseId: 0, connectorId: null },
      ],
    ];
    for (const [protocol, action, request, response, type, expected] of cases) {
      const events = eventsForCall(context(protocol), action, request, response);
      assert.equal(events.length, 1, action);
      assert.equal(events[0].eventType, type, action);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(p(events[0])[k], v, `${protocol} ${action} ${k}`);
      assert.equal(p(events[0]).ocpp.request, request);
      assert.equal(p(events[0]).ocpp.response, response);
    }
  });

  it('makes lifecycle and command events', () => {
    const src = { chargePointId: 'CP-1', gatewayId: 'gw-a', protocol: 'ocpp2.0.1' as const, now: NOW };
    const c = connectedEvent(src, { remoteAddress: '10.0.0.1', securityProfile: 2 });
    assert.equal(c.eventType, 'charge_point.connected');
    assert.deepEqual(c.payload, { remoteAddress: '10.0.0.1', identity: 'CP-1', securityProfile: 2, epoch: null });
    const d = disconnectedEvent(src, { code: 1006, reason: 'abnormal' });
    assert.equal(d.eventType, 'charge_point.disconnected');
    assert.deepEqual(d.payload, { code: 1006, reason: 'abnormal', initiator: null, epoch: null });
    const d2 = disconnectedEvent(src, { code: 4000, reason: 'replaced', initiator: 'replaced', epoch: 17 });
    assert.deepEqual(d2.payload, { code: 4000, reason: 'replaced', initiator: 'replaced', epoch: 17 });
    const r = commandResponseEvent(src, {
      commandId: 'c1',
      action: 'Reset',
      status: 'rejected',
      request: { type: 'Immediate' },
      error: { code: 'TIMEOUT', message: 'no answer in 30000 ms' },
      durationMs: 30000,
    });
    assert.equal(r.eventType, 'command.response');
    assert.equal(r.timestamp, NOW.toISOString());
    assert.deepEqual(r.payload, {
      commandId: 'c1',
      action: 'Reset',
      status: 'rejected',
      request: { type: 'Immediate' },
      response: null,
      error: { code: 'TIMEOUT', message: 'no answer in 30000 ms' },
      durationMs: 30000,
      traceId: null,
    });
  });
});

describe('robustness', () => {
  it('keeps unknown vendor fields in ocpp.request, by reference', () => {
    const request = {
      connectorId: 1,
      status: 'Faulted',
      errorCode: 'OtherError',
      acmeTemperature: 81,
      acmeDetail: { fan: 'stuck' },
    };
    const [e] = eventsForCall(context('ocpp1.6'), 'StatusNotification', request, {});
    assert.equal(p(e).ocpp.request, request);
    assert.equal(p(e).ocpp.request.acmeTemperature, 81);
    assert.deepEqual(p(e).ocpp.request.acmeDetail, { fan: 'stuck' });

    const boot = {
      reason: 'PowerUp',
      chargingStation: { vendorName: 'A', model: 'M', acmeBoard: 'rev7' },
      customData: { vendorId: 'acme', x: 1 },
    };
    const [b] = eventsForCall(context('ocpp2.0.1'), 'BootNotification', boot, { status: 'Accepted' });
    assert.equal(p(b).ocpp.request.chargingStation.acmeBoard, 'rev7');
    assert.deepEqual(p(b).ocpp.request.customData, { vendorId: 'acme', x: 1 });
  });

  it('does not throw on malformed requests', () => {
    const ctx16 = context('ocpp1.6');
    const ctx201 = context('ocpp2.0.1');
    assert.equal(eventsForCall(ctx16, 'MeterValues', { meterValue: 'nope' }, {})[0].eventType, EventType.TransactionMeterValues);
    assert.equal(eventsForCall(ctx16, 'StopTransaction', { transactionData: [null, { sampledValue: [null, 5] }] }, {}).length, 2);
    assert.equal(eventsForCall(ctx16, 'StartTransaction', {}, {}).length, 1);
    assert.equal(eventsForCall(ctx201, 'TransactionEvent', { eventType: 'Weird' }, {})[0].eventType, 'ocpp.transaction_event');
    assert.equal(eventsForCall(ctx201, 'TransactionEvent', { eventType: 'Ended' }, {}).length, 1);
    assert.equal(eventsForCall(ctx201, 'BootNotification', null as any, null as any)[0].eventType, EventType.ChargePointBooted);
  });

  it('keeps the connector memory bounded', () => {
    const memory = new ConnectorMemory();
    const ctx = context('ocpp1.6', memory);
    for (let i = 0; i < 1000; i++) {
      eventsForCall(ctx, 'StatusNotification', { connectorId: i, status: 'Available', errorCode: 'NoError' }, {});
      eventsForCall(ctx, 'StartTransaction', { connectorId: i, idTag: 'T', meterStart: 0, timestamp: 't' }, { transactionId: i });
    }
    assert.equal(memory.statuses().length, 64);
    assert.equal(memory.openTransactions().length, 64);
    assert.equal(memory.evicted, 2 * (1000 - 64));
    // The most recent reports are the ones kept.
    assert.equal(memory.status('999')?.status, 'Available');
    assert.equal(memory.status('0'), undefined);
    assert.equal(memory.transaction('999')?.connectorId, 999);
  });

  it('starts empty and keeps least recently reported first', () => {
    const memory = new ConnectorMemory(2);
    assert.deepEqual(memory.statuses(), []);
    assert.deepEqual(memory.openTransactions(), []);
    const ctx = context('ocpp2.0.1', memory);
    const status = (evseId: number, connectorStatus: string) =>
      p(eventsForCall(ctx, 'StatusNotification', { evseId, connectorId: 1, connectorStatus, timestamp: 't' }, {})[0]);
    status(1, 'Available');
    status(2, 'Available');
    status(1, 'Occupied'); // 1/1 is now the most recent
    assert.equal(status(3, 'Available').previousStatus, null); // pushes out 2/1
    assert.deepEqual(
      memory.statuses().map((s) => [s.key, s.status]),
      [
        ['1/1', 'Occupied'],
        ['3/1', 'Available'],
      ],
    );
    assert.equal(status(2, 'Faulted').previousStatus, null);
  });

  it('updates a re-reported connector in place, keeps the order of reports through a snapshot, and hands out copies', () => {
    const memory = new ConnectorMemory(3);
    const report = (connectorId: number, status: string) =>
      memory.recordStatus({ key: String(connectorId), evseId: null, connectorId, status, errorCode: 'NoError', timestamp: `t${connectorId}` });
    report(1, 'Available');
    report(2, 'Available');
    report(3, 'Available');
    const given = memory.statuses();
    assert.equal(report(1, 'Charging'), 'Available');
    assert.equal(report(2, 'Faulted'), 'Available');
    // What was handed out before is not changed by later reports.
    assert.deepEqual(
      given.map((s) => [s.key, s.status]),
      [
        ['1', 'Available'],
        ['2', 'Available'],
        ['3', 'Available'],
      ],
    );
    assert.deepEqual(
      memory.statuses().map((s) => [s.key, s.status]),
      [
        ['3', 'Available'],
        ['1', 'Charging'],
        ['2', 'Faulted'],
      ],
    );
    const restored = new ConnectorMemory(3);
    restored.restore(memory.snapshot());
    // 3 is still the least recently reported: a fourth connector pushes it out, not 1.
    restored.recordStatus({ key: '4', evseId: null, connectorId: 4, status: 'Available', errorCode: 'NoError', timestamp: 't4' });
    assert.deepEqual(
      restored.statuses().map((s) => s.key),
      ['1', '2', '4'],
    );
    assert.equal(restored.evicted, 1);
  });
});
