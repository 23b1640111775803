/**
 * Whole charging sessions driven by a backend through the admin API, observed on the SSE event stream, and
 * the per-action call policy (ask a backend on the bus, fall back locally or with a CALLERROR).
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { type ReceivedCall, sleep, type TestCharger } from './helpers/backend-charger.js';
import { metricSample, postCall, readMetrics, type SseEvent, SseStream } from './helpers/backend-http.js';

const ts = () => new Date().toISOString();

/** A promise with its resolve and reject, for steps a charger's script reaches asynchronously. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Runs `step` a moment after the current CALL has been answered, as a charger does; failures go to `failed`. */
function afterAnswer(step: () => Promise<void>, failed: (err: unknown) => void): void {
  setTimeout(() => step().catch(failed), 50);
}

/** The normalised form of a sampled value (defaults of the specification filled in). */
function sampled(
  value: number,
  fields: { measurand?: string; unit?: string | null; phase?: string | null; location?: string; context?: string },
  rawValue: string | number,
) {
  return {
    value,
    rawValue,
    context: fields.context ?? 'Sample.Periodic',
    format: 'Raw',
    measurand: fields.measurand ?? 'Energy.Active.Import.Register',
    phase: fields.phase ?? null,
    location: fields.location ?? 'Outlet',
    unit: fields.unit ?? null,
    multiplier: 0,
    signedMeterValue: null,
  };
}

function checkEnvelopes(events: SseEvent[], chargePointId: string, gatewayId: string, protocol: string): void {
  const ids = new Set<string>();
  const sseIds = new Set<string>();
  for (const e of events) {
    const d = e.data;
    assert.equal(e.event, d.eventType, 'the SSE event name is the event type');
    assert.ok(e.id !== undefined && e.id !== '', `every SSE event has an id: ${e.raw.slice(0, 120)}`);
    assert.ok(!sseIds.has(e.id!), `SSE ids are unique (${e.id})`);
    sseIds.add(e.id!);
    assert.equal(typeof d.eventId, 'string');
    assert.ok(!ids.has(d.eventId), 'eventIds are unique');
    ids.add(d.eventId);
    assert.equal(d.chargePointId, chargePointId);
    assert.equal(d.gatewayId, gatewayId);
    assert.equal(d.protocol, protocol);
    assert.ok(!Number.isNaN(Date.parse(d.timestamp)), `timestamp ${d.timestamp}`);
    assert.ok(d.payload !== null && typeof d.payload === 'object');
  }
}

describe('a whole charging session driven by API commands, seen on the SSE stream in order', () => {
  let backend: BackendApp;

  before(async () => {
    backend = await startBackendApp();
  });
  after(async () => {
    await backend?.stop();
  });

  test('OCPP 1.6: RemoteStart → Authorize, StartTransaction, Charging, MeterValues; RemoteStop → StopTransaction, Available', async () => {
    const id = 'SESS-16';
    const sse = await SseStream.open(backend.adminUrl, { chargePointId: id });
    try {
      const failed = deferred<never>();
      const charging = deferred<{ transactionId: number; meterValues: Record<string, unknown>[] }>();
      const stopped = deferred<void>();
      let transactionId: number | undefined;
      const meterSample = [
        { value: '1234', context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unit: 'Wh', location: 'Outlet' },
        { value: '7360', measurand: 'Power.Active.Import', unit: 'W' },
        { value: '16.0', measurand: 'Current.Import', unit: 'A', phase: 'L1' },
        { value: '15.9', measurand: 'Current.Import', unit: 'A', phase: 'L2' },
        { value: '230.1', measurand: 'Voltage', unit: 'V', phase: 'L1-N' },
        { value: '55', measurand: 'SoC', unit: 'Percent', location: 'EV', context: 'Sample.Clock' },
      ];
      const endSample = [{ value: '5000', context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }];
      const answers: Record<string, any> = {};

      const handler = (call: ReceivedCall, charger: TestCharger) => {
        if (call.action === 'RemoteStartTransaction') {
          const idTag = call.payload.idTag as string;
          afterAnswer(async () => {
            answers.authorize = await charger.callOk('Authorize', { idTag });
            await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: ts() });
            answers.start = await charger.callOk('StartTransaction', { connectorId: 1, idTag, meterStart: 1000, timestamp: ts() });
            transactionId = answers.start.transactionId;
            await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: ts() });
            const meterValue = [{ timestamp: ts(), sampledValue: meterSample }];
            await charger.callOk('MeterValues', { connectorId: 1, transactionId, meterValue });
            charging.resolve({ transactionId: transactionId!, meterValues: meterValue });
          }, failed.reject);
          return { result: { status: 'Accepted' } };
        }
        if (call.action === 'RemoteStopTransaction') {
          const accepted = call.payload.transactionId === transactionId;
          if (accepted) {
            afterAnswer(async () => {
              await charger.callOk('StopTransaction', {
                transactionId: transactionId!,
                idTag: 'TAG-SESSION-16',
                meterStop: 5000,
                timestamp: ts(),
                reason: 'Remote',
                transactionData: [{ timestamp: ts(), sampledValue: endSample }],
              });
              await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: ts() });
              await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: ts() });
              stopped.resolve();
            }, failed.reject);
          }
          return { result: { status: accepted ? 'Accepted' : 'Rejected' } };
        }
        return { error: { code: 'NotImplemented', description: call.action } };
      };

      const charger = await backend.connect(id, { handler });
      const boot = await charger.callOk('BootNotification', {
        chargePointVendor: 'Acme',
        chargePointModel: 'X1',
        chargePointSerialNumber: 'SN-0016',
        firmwareVersion: '1.2.3',
      });
      assert.equal(boot.status, 'Accepted');
      await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: ts() });

      const startPayload = { connectorId: 1, idTag: 'TAG-SESSION-16' };
      const start = await postCall(backend.adminUrl, id, { action: 'RemoteStartTransaction', payload: startPayload, commandId: 'cmd-start-16' });
      assert.equal(start.status, 200, JSON.stringify(start.body));
      assert.deepEqual(start.body.response, { status: 'Accepted' });
      const { transactionId: tx, meterValues } = await Promise.race([charging.promise, failed.promise]);
      assert.equal(typeof tx, 'number', 'the gateway gave the charger an integer transactionId');

      const stop = await postCall(backend.adminUrl, id, { action: 'RemoteStopTransaction', payload: { transactionId: tx }, commandId: 'cmd-stop-16' });
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
      assert.deepEqual(stop.body.response, { status: 'Accepted' });
      await Promise.race([stopped.promise, failed.promise]);
      await charger.close(1000);

      await sse.waitFor((e) => e.eventType === 'charge_point.disconnected', 5000, 'charge_point.disconnected');
      const events = sse.envelopes;
      assert.deepEqual(
        events.map((e) => e.eventType + (e.eventType === 'connector.status_changed' ? `:${e.payload.status}` : '')),
        [
          'charge_point.connected',
          'charge_point.booted',
          'connector.status_changed:Available',
          'command.response',
          'authorization.requested',
          'connector.status_changed:Preparing',
          'transaction.started',
          'connector.status_changed:Charging',
          'transaction.meter_values',
          'command.response',
          'transaction.meter_values',
          'transaction.stopped',
          'connector.status_changed:Finishing',
          'connector.status_changed:Available',
          'charge_point.disconnected',
        ],
      );
      checkEnvelopes(sse.events, id, backend.app.gateway.id, 'ocpp1.6');
      const [connected, booted, available, startCmd, auth, preparing, started, charging16, meter, stopCmd, endMeter, stoppedEv, finishing, availableAgain, disconnected] =
        events;

      assert.equal(connected.payload.identity, id);
      assert.equal(connected.payload.remoteAddress, '127.0.0.1');
      assert.equal(booted.payload.vendor, 'Acme');
      assert.equal(booted.payload.model, 'X1');
      assert.equal(booted.payload.serialNumber, 'SN-0016');
      assert.equal(booted.payload.firmwareVersion, '1.2.3');
      assert.equal(booted.payload.status, 'Accepted');

      assert.deepEqual([available.payload.connectorId, available.payload.previousStatus, available.payload.errorCode], [1, null, 'NoError']);
      assert.equal(preparing.payload.previousStatus, 'Available');
      assert.equal(charging16.payload.previousStatus, 'Preparing');
      assert.equal(finishing.payload.previousStatus, 'Charging');
      assert.equal(availableAgain.payload.previousStatus, 'Finishing');

      assert.equal(startCmd.payload.commandId, 'cmd-start-16');
      assert.equal(startCmd.payload.action, 'RemoteStartTransaction');
      assert.equal(startCmd.payload.status, 'completed');
      assert.deepEqual(startCmd.payload.request, startPayload);
      assert.deepEqual(startCmd.payload.response, { status: 'Accepted' });

      assert.deepEqual(auth.payload.idToken, { idToken: 'TAG-SESSION-16', type: 'idTag' });
      assert.equal(auth.payload.status, answers.authorize.idTagInfo.status);

      assert.equal(started.payload.transactionId, String(answers.start.transactionId), 'transactionId is the one the gateway answered');
      assert.equal(started.payload.ocppTransactionId, answers.start.transactionId);
      assert.equal(started.payload.connectorId, 1);
      assert.equal(started.payload.meterStart, 1000);
      assert.deepEqual(started.payload.idToken, { idToken: 'TAG-SESSION-16', type: 'idTag' });
      assert.equal(started.payload.authorizationStatus, 'Accepted');

      assert.equal(meter.payload.transactionId, String(tx));
      assert.equal(meter.payload.connectorId, 1);
      assert.equal(meter.payload.meterValues.length, 1);
      assert.equal(meter.payload.meterValues[0].timestamp, meterValues[0].timestamp);
      assert.deepEqual(meter.payload.meterValues[0].sampledValues, [
        sampled(1234, { unit: 'Wh', context: 'Sample.Periodic', location: 'Outlet' }, '1234'),
        sampled(7360, { measurand: 'Power.Active.Import', unit: 'W' }, '7360'),
        sampled(16, { measurand: 'Current.Import', unit: 'A', phase: 'L1' }, '16.0'),
        sampled(15.9, { measurand: 'Current.Import', unit: 'A', phase: 'L2' }, '15.9'),
        sampled(230.1, { measurand: 'Voltage', unit: 'V', phase: 'L1-N' }, '230.1'),
        sampled(55, { measurand: 'SoC', unit: 'Percent', location: 'EV', context: 'Sample.Clock' }, '55'),
      ]);
      assert.deepEqual(meter.payload.ocpp.request.meterValue[0].sampledValue, meterSample, 'the raw OCPP payload is kept beside');

      assert.equal(stopCmd.payload.commandId, 'cmd-stop-16');
      assert.deepEqual(stopCmd.payload.request, { transactionId: tx });

      assert.equal(endMeter.payload.transactionId, String(tx));
      assert.deepEqual(endMeter.payload.meterValues[0].sampledValues, [sampled(5000, { unit: 'Wh', context: 'Transaction.End' }, '5000')]);
      assert.equal(stoppedEv.payload.transactionId, String(tx));
      assert.equal(stoppedEv.payload.connectorId, 1, 'the connector is known from the start');
      assert.equal(stoppedEv.payload.meterStop, 5000);
      assert.equal(stoppedEv.payload.reason, 'Remote');

      assert.equal(disconnected.payload.code, 1000);
    } finally {
      await sse.close();
    }
  });

  test('OCPP 2.0.1: RequestStartTransaction → TransactionEvent Started/Updated; RequestStopTransaction → Ended', async () => {
    const id = 'SESS-201';
    const sse = await SseStream.open(backend.adminUrl, { chargePointId: id });
    try {
      const failed = deferred<never>();
      const charging = deferred<void>();
      const stopped = deferred<void>();
      const txId = 'tx-201-session';
      const idToken = { idToken: 'AB12CD34', type: 'ISO14443' };
      let seqNo = 0;
      const updatedSample = [
        { value: 2500, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
        { value: 11, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: 3 } },
        { value: 16, measurand: 'Current.Import', phase: 'L1', unitOfMeasure: { unit: 'A' } },
        { value: 80, measurand: 'SoC', location: 'EV', unitOfMeasure: { unit: 'Percent' } },
      ];

      const handler = (call: ReceivedCall, charger: TestCharger) => {
        if (call.action === 'RequestStartTransaction') {
          const remoteStartId = call.payload.remoteStartId as number;
          afterAnswer(async () => {
            await charger.callOk('Authorize', { idToken });
            await charger.callOk('StatusNotification', { timestamp: ts(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
            await charger.callOk('TransactionEvent', {
              eventType: 'Started',
              timestamp: ts(),
              triggerReason: 'RemoteStart',
              seqNo: seqNo++,
              transactionInfo: { transactionId: txId, chargingState: 'Charging', remoteStartId },
              evse: { id: 1, connectorId: 1 },
              idToken,
              meterValue: [{ timestamp: ts(), sampledValue: [{ value: 1000, context: 'Transaction.Begin', unitOfMeasure: { unit: 'Wh' } }] }],
            });
            await charger.callOk('TransactionEvent', {
              eventType: 'Updated',
              timestamp: ts(),
              triggerReason: 'MeterValuePeriodic',
              seqNo: seqNo++,
              transactionInfo: { transactionId: txId, chargingState: 'Charging' },
              meterValue: [{ timestamp: ts(), sampledValue: updatedSample }],
            });
            charging.resolve();
          }, failed.reject);
          return { result: { status: 'Accepted', transactionId: txId } };
        }
        if (call.action === 'RequestStopTransaction') {
          afterAnswer(async () => {
            await charger.callOk('TransactionEvent', {
              eventType: 'Ended',
              timestamp: ts(),
              triggerReason: 'RemoteStop',
              seqNo: seqNo++,
              transactionInfo: { transactionId: txId, chargingState: 'Idle', stoppedReason: 'Remote' },
              meterValue: [{ timestamp: ts(), sampledValue: [{ value: 5000, context: 'Transaction.End', unitOfMeasure: { unit: 'Wh' } }] }],
            });
            await charger.callOk('StatusNotification', { timestamp: ts(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
            stopped.resolve();
          }, failed.reject);
          return { result: { status: call.payload.transactionId === txId ? 'Accepted' : 'Rejected' } };
        }
        return { error: { code: 'NotImplemented', description: call.action } };
      };

      const charger = await backend.connect(id, { protocol: 'ocpp2.0.1', handler });
      const boot = await charger.callOk('BootNotification', {
        reason: 'PowerUp',
        chargingStation: { vendorName: 'Acme', model: 'X2', serialNumber: 'SN-0201', firmwareVersion: '2.0.1-a' },
      });
      assert.equal(boot.status, 'Accepted');
      await charger.callOk('StatusNotification', { timestamp: ts(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });

      const start = await postCall(backend.adminUrl, id, {
        action: 'RequestStartTransaction',
        payload: { idToken, remoteStartId: 4242, evseId: 1 },
        commandId: 'cmd-start-201',
      });
      assert.equal(start.status, 200, JSON.stringify(start.body));
      assert.deepEqual(start.body.response, { status: 'Accepted', transactionId: txId });
      await Promise.race([charging.promise, failed.promise]);
      const stop = await postCall(backend.adminUrl, id, { action: 'RequestStopTransaction', payload: { transactionId: txId }, commandId: 'cmd-stop-201' });
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
      assert.deepEqual(stop.body.response, { status: 'Accepted' });
      await Promise.race([stopped.promise, failed.promise]);
      await charger.close(1000);

      await sse.waitFor((e) => e.eventType === 'charge_point.disconnected', 5000, 'charge_point.disconnected');
      const events = sse.envelopes;
      assert.deepEqual(
        events.map((e) => e.eventType + (e.eventType === 'connector.status_changed' ? `:${e.payload.status}` : '')),
        [
          'charge_point.connected',
          'charge_point.booted',
          'connector.status_changed:Available',
          'command.response',
          'authorization.requested',
          'connector.status_changed:Occupied',
          'transaction.started',
          'transaction.meter_values',
          'transaction.updated',
          'transaction.meter_values',
          'command.response',
          'transaction.meter_values',
          'transaction.stopped',
          'connector.status_changed:Available',
          'charge_point.disconnected',
        ],
      );
      checkEnvelopes(sse.events, id, backend.app.gateway.id, 'ocpp2.0.1');
      const [, booted, available, startCmd, auth, occupied, started, startMeter, updated, updMeter, stopCmd, endMeter, stoppedEv, availableAgain] = events;

      assert.equal(booted.payload.reason, 'PowerUp');
      assert.equal(booted.payload.model, 'X2');
      assert.equal(booted.payload.serialNumber, 'SN-0201');
      assert.deepEqual([available.payload.evseId, available.payload.connectorId, available.payload.previousStatus], [1, 1, null]);
      assert.equal(occupied.payload.previousStatus, 'Available');
      assert.equal(availableAgain.payload.previousStatus, 'Occupied');

      assert.equal(startCmd.payload.commandId, 'cmd-start-201');
      assert.equal(startCmd.payload.action, 'RequestStartTransaction');
      assert.deepEqual(auth.payload.idToken, idToken);

      assert.equal(started.payload.transactionId, txId);
      assert.equal(started.payload.remoteStartId, 4242, 'remoteStartId ties the transaction to the command');
      assert.equal(started.payload.evseId, 1);
      assert.equal(started.payload.connectorId, 1);
      assert.equal(started.payload.meterStart, 1000);
      assert.equal(started.payload.triggerReason, 'RemoteStart');
      assert.deepEqual(started.payload.idToken, idToken);
      assert.deepEqual(startMeter.payload.meterValues[0].sampledValues, [sampled(1000, { unit: 'Wh', context: 'Transaction.Begin' }, 1000)]);

      assert.equal(updated.payload.transactionId, txId);
      assert.equal(updated.payload.evseId, 1, 'the EVSE of an Updated event is taken from the Started one');
      assert.equal(updMeter.payload.transactionId, txId);
      assert.deepEqual(updMeter.payload.meterValues[0].sampledValues, [
        sampled(2500, { unit: 'Wh' }, 2500),
        { ...sampled(11, { measurand: 'Power.Active.Import', unit: 'W' }, 11), multiplier: 3 },
        sampled(16, { measurand: 'Current.Import', unit: 'A', phase: 'L1' }, 16),
        sampled(80, { measurand: 'SoC', unit: 'Percent', location: 'EV' }, 80),
      ]);

      assert.equal(stopCmd.payload.commandId, 'cmd-stop-201');
      assert.deepEqual(endMeter.payload.meterValues[0].sampledValues, [sampled(5000, { unit: 'Wh', context: 'Transaction.End' }, 5000)]);
      assert.equal(stoppedEv.payload.transactionId, txId);
      assert.equal(stoppedEv.payload.evseId, 1);
      assert.equal(stoppedEv.payload.meterStop, 5000);
      assert.equal(stoppedEv.payload.reason, 'Remote');
    } finally {
      await sse.close();
    }
  });

  test('the SSE filters: chargePointId excludes other chargers, eventType excludes other types', async () => {
    const all = await SseStream.open(backend.adminUrl);
    const onlyA = await SseStream.open(backend.adminUrl, { chargePointId: 'FLT-A' });
    const statusOfB = await SseStream.open(backend.adminUrl, { chargePointId: 'FLT-B', eventType: 'connector.status_changed' });
    try {
      const a = await backend.connect('FLT-A');
      const b = await backend.connect('FLT-B');
      for (const charger of [a, b]) {
        await charger.callOk('BootNotification', { chargePointVendor: 'Acme', chargePointModel: charger.identity });
        await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: ts() });
      }
      await b.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Unavailable', timestamp: ts() });
      await a.callOk('StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Faulted', timestamp: ts() });

      // Once the last event of each is on the unfiltered stream, the filtered ones have had their chance.
      await all.waitFor((e) => e.chargePointId === 'FLT-A' && e.payload.status === 'Faulted', 5000, 'the last event of FLT-A');
      await all.waitFor((e) => e.chargePointId === 'FLT-B' && e.payload.status === 'Unavailable', 5000, 'the last event of FLT-B');
      await onlyA.waitFor((e) => e.payload.status === 'Faulted', 5000, 'the last event of FLT-A on its filtered stream');
      await statusOfB.waitFor((e) => e.payload.status === 'Unavailable', 5000, 'the last status of FLT-B on its filtered stream');
      await sleep(100);

      const ofA = all.envelopes.filter((e) => e.chargePointId === 'FLT-A').map((e) => e.eventId);
      assert.deepEqual(
        onlyA.envelopes.map((e) => e.eventId),
        ofA,
        "the FLT-A stream has exactly FLT-A's events, in order",
      );
      assert.deepEqual(
        all.envelopes.filter((e) => e.chargePointId === 'FLT-A').map((e) => e.eventType),
        ['charge_point.connected', 'charge_point.booted', 'connector.status_changed', 'connector.status_changed'],
        'FLT-A: connected, booted, then its two statuses',
      );
      assert.ok(
        all.envelopes.some((e) => e.chargePointId === 'FLT-B'),
        'FLT-B did produce events',
      );

      const statusB = all.envelopes.filter((e) => e.chargePointId === 'FLT-B' && e.eventType === 'connector.status_changed').map((e) => e.eventId);
      assert.deepEqual(
        statusOfB.envelopes.map((e) => e.eventId),
        statusB,
        'both filters together',
      );
      assert.equal(statusB.length, 2);
    } finally {
      await Promise.all([all.close(), onlyA.close(), statusOfB.close()]);
    }
  });
});

describe('per-action policy: BootNotification asks the backend on the bus', () => {
  const boot16 = { chargePointVendor: 'Acme', chargePointModel: 'PolicyX' };

  describe('backend timeout 10 s, fallback local', () => {
    let backend: BackendApp;
    before(async () => {
      backend = await startBackendApp({ overrides: { policy: { backend: { timeoutMs: 10_000 } }, localAnswers: { bootIntervalSeconds: 123 } } });
    });
    after(async () => {
      await backend?.stop();
    });

    test('with no backend attached the local answer comes at once, not after the timeout', async () => {
      const charger = await backend.connect('POL-NOBACKEND');
      const startedAt = Date.now();
      const answer = await charger.call('BootNotification', boot16, 9000);
      const ms = Date.now() - startedAt;
      assert.equal(answer.kind, 'result');
      assert.equal(answer.kind === 'result' && answer.payload.status, 'Accepted');
      assert.equal(answer.kind === 'result' && answer.payload.interval, 123, 'the configured local interval');
      assert.ok(ms < 5000, `answered in ${ms} ms with a 10 s backend timeout`);
      const metrics = await readMetrics(backend.adminUrl);
      assert.equal(metricSample(metrics, 'gateway_backend_requests_total', { action: 'BootNotification', outcome: 'no_backend' }), 1);
    });

    test("with a backend attached the charger gets the backend's answer (interval 77)", async () => {
      const asked: any[] = [];
      const sub = backend.app.gateway.bus.respond('gateway.requests.BootNotification', (message) => {
        asked.push(message.data);
        return { status: 'Accepted', currentTime: ts(), interval: 77 };
      });
      const sse = await SseStream.open(backend.adminUrl, { chargePointId: 'POL-BACKEND', eventType: 'charge_point.booted' });
      try {
        const charger = await backend.connect('POL-BACKEND');
        const answer = await charger.callOk('BootNotification', boot16);
        assert.equal(answer.interval, 77);
        assert.equal(answer.status, 'Accepted');
        assert.equal(asked.length, 1, 'the backend was asked once');
        assert.equal(asked[0].chargePointId, 'POL-BACKEND');
        assert.equal(asked[0].protocol, 'ocpp1.6');
        assert.equal(asked[0].action, 'BootNotification');
        assert.deepEqual(asked[0].payload, boot16);
        const booted = await sse.waitFor(() => true, 5000, 'charge_point.booted');
        assert.equal(booted.payload.interval, 77, 'the event reports what the charger was told');
        const metrics = await readMetrics(backend.adminUrl);
        assert.equal(metricSample(metrics, 'gateway_backend_requests_total', { action: 'BootNotification', outcome: 'answered' }), 1);
      } finally {
        sub.unsubscribe();
        await sse.close();
      }
    });
  });

  test('a backend that never answers: after policy.backend.timeoutMs (200) the local fallback answers', async () => {
    const backend = await startBackendApp({ overrides: { policy: { backend: { timeoutMs: 200, fallback: 'local' } }, localAnswers: { bootIntervalSeconds: 123 } } });
    try {
      let asked = 0;
      backend.app.gateway.bus.respond('gateway.requests.BootNotification', () => {
        asked++;
        return new Promise(() => {});
      });
      const charger = await backend.connect('POL-SILENT-LOCAL');
      const startedAt = Date.now();
      const answer = await charger.callOk('BootNotification', boot16, 5000);
      const ms = Date.now() - startedAt;
      assert.equal(asked, 1, 'the backend was asked');
      assert.equal(answer.status, 'Accepted');
      assert.equal(answer.interval, 123, 'the local fallback answered');
      assert.ok(ms >= 150, `the gateway waited for the backend first (${ms} ms)`);
      const metrics = await readMetrics(backend.adminUrl);
      assert.equal(metricSample(metrics, 'gateway_backend_requests_total', { action: 'BootNotification', outcome: 'timeout' }), 1);
    } finally {
      await backend.stop();
    }
  });

  test("a backend that never answers with fallback 'error': the charger gets a CALLERROR InternalError", async () => {
    const backend = await startBackendApp({ overrides: { policy: { backend: { timeoutMs: 200, fallback: 'error' } } } });
    try {
      let asked = 0;
      backend.app.gateway.bus.respond('gateway.requests.BootNotification', () => {
        asked++;
        return new Promise(() => {});
      });
      const c16 = await backend.connect('POL-SILENT-ERROR');
      const answer = await c16.call('BootNotification', boot16, 5000);
      assert.equal(answer.kind, 'error', `expected a CALLERROR, got ${JSON.stringify(answer)}`);
      assert.equal(answer.kind === 'error' && answer.code, 'InternalError');
      assert.equal(asked, 1);

      const c201 = await backend.connect('POL-SILENT-ERROR-201', { protocol: 'ocpp2.0.1' });
      const answer201 = await c201.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model: 'PolicyX' } }, 5000);
      assert.equal(answer201.kind, 'error');
      assert.equal(answer201.kind === 'error' && answer201.code, 'InternalError');
      assert.equal(asked, 2);
    } finally {
      await backend.stop();
    }
  });
});
