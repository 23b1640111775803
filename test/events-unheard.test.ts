/**
 * On the embedded bus the gateway builds a CALL's events only when something listens to their subjects; with no
 * listener they are counted as unheard (gateway_events_unheard_total), the charger is answered the same, and what
 * it reported is still remembered: a status report nobody heard still gives the next one its previous status. A subscriber to one event type gets exactly those events as soon as it
 * subscribes, and nothing once it has unsubscribed. Real gateway, real WebSocket charger, the admin API to read
 * what the gateway remembers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { SUBJECTS } from '../src/bus/types.js';
import type { GatewayEvent } from '../src/events/index.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { bootPayload, expectResult, statusPayload } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

const METER_VALUES = {
  connectorId: 1,
  meterValue: [{ timestamp: '2024-05-01T10:00:00.000Z', sampledValue: [{ value: '1200', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
};

describe('events nobody listens to on the embedded bus', () => {
  let harness: GatewayHarness;
  let admin: AdminServer;
  let charger: OcppClient;
  const unheard = (family: string) => metricValue(harness.gateway, 'gateway_events_unheard_total', { family });
  /** Events published on the bus, by family: the count of the publish-time histogram. */
  const published = async (family: string) => {
    const histogram = harness.gateway.metrics.registry.getSingleMetric('gateway_event_publish_seconds');
    const values = (await histogram?.get())?.values ?? [];
    const count = (values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>).find(
      (v) => v.metricName === 'gateway_event_publish_seconds_count' && v.labels.family === family,
    );
    return count?.value ?? 0;
  };

  before(async () => {
    harness = await startGateway();
    admin = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0 });
    charger = await OcppClient.connect(harness.url, 'QUIET-1', ['ocpp1.6']);
  });

  after(async () => {
    await charger?.close().catch(() => {});
    await admin?.close();
    await harness?.stop();
  });

  test('are counted, not built; the charger is answered and its status remembered all the same', async () => {
    expectResult(await charger.call('BootNotification', bootPayload('ocpp1.6')));
    for (let i = 0; i < 3; i++) expectResult(await charger.call('Heartbeat', {}));
    for (let i = 0; i < 2; i++) expectResult(await charger.call('MeterValues', METER_VALUES));
    expectResult(await charger.call('StatusNotification', statusPayload('ocpp1.6', 'Faulted')));
    // charge_point: connected, booted, 3 heartbeats; transaction: 2 meter values; connector: the status change,
    // whose report updates the memory (below) without its event being built or published.
    assert.equal(await unheard('charge_point'), 5);
    assert.equal(await unheard('transaction'), 2);
    assert.equal(await unheard('connector'), 1);
    assert.equal(await published('connector'), 0);
    assert.equal(await published('transaction'), 0);
    const res = await fetch(`http://127.0.0.1:${admin.port}/api/v1/charge-points/QUIET-1`);
    assert.equal(res.status, 200);
    const detail = (await res.json()) as { status?: string; connectors: Array<{ connectorId: number; status: string }> };
    assert.equal(detail.status, 'Faulted');
    assert.deepEqual(
      detail.connectors.map((c) => [c.connectorId, c.status]),
      [[1, 'Faulted']],
    );
  });

  for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    test(`a status report nobody heard still gives the next one its previous status (${version})`, async () => {
      const identity = `QUIET-STATUS-${version === 'ocpp1.6' ? '16' : '201'}`;
      const reporter = await OcppClient.connect(harness.url, identity, [version]);
      try {
        expectResult(await reporter.call('BootNotification', bootPayload(version)));
        const unheardBefore = await unheard('connector');
        expectResult(await reporter.call('StatusNotification', statusPayload(version, 'Unavailable', 2)));
        assert.equal(await unheard('connector'), unheardBefore + 1);
        const received: GatewayEvent[] = [];
        const subscription = harness.gateway.bus.subscribe<GatewayEvent>(SUBJECTS.event('connector.status_changed'), (m) => received.push(m.data));
        try {
          expectResult(await reporter.call('StatusNotification', statusPayload(version, 'Available', 2)));
        } finally {
          subscription.unsubscribe();
        }
        assert.equal(received.length, 1);
        const payload = received[0].payload as { connectorId: number; evseId: number | null; status: string; previousStatus: string | null };
        assert.deepEqual(
          [received[0].chargePointId, payload.evseId, payload.connectorId, payload.status, payload.previousStatus],
          [identity, version === 'ocpp1.6' ? null : 1, 2, 'Available', 'Unavailable'],
        );
        assert.equal(await unheard('connector'), unheardBefore + 1, 'the heard report is not counted as unheard');
      } finally {
        await reporter.close().catch(() => {});
      }
    });
  }

  test('a subscriber to one event type gets exactly those from when it subscribes until it unsubscribes', async () => {
    const received: GatewayEvent[] = [];
    const subscription = harness.gateway.bus.subscribe<GatewayEvent>(SUBJECTS.event('charge_point.heartbeat'), (m) => received.push(m.data));
    const heartbeatsUnheard = await unheard('charge_point');
    const meterValuesUnheard = await unheard('transaction');
    const heartbeat = expectResult(await charger.call('Heartbeat', {}));
    expectResult(await charger.call('MeterValues', METER_VALUES));
    assert.equal(received.length, 1);
    assert.equal(received[0].eventType, 'charge_point.heartbeat');
    assert.equal(received[0].chargePointId, 'QUIET-1');
    assert.deepEqual(received[0].payload, { currentTime: heartbeat.currentTime, ocpp: { action: 'Heartbeat', request: {}, response: heartbeat } });
    assert.equal(await unheard('charge_point'), heartbeatsUnheard, 'the Heartbeat was heard');
    assert.equal(await unheard('transaction'), meterValuesUnheard + 1, 'the meter values were not');

    subscription.unsubscribe();
    expectResult(await charger.call('Heartbeat', {}));
    assert.equal(received.length, 1, 'nothing after unsubscribing');
    assert.equal(await unheard('charge_point'), heartbeatsUnheard + 1);
  });

  test('presence events are built for a listener of them, and counted as unheard without one', async () => {
    const presence: GatewayEvent[] = [];
    const subscription = harness.gateway.bus.subscribe<GatewayEvent>(SUBJECTS.event('charge_point.*'), (m) => presence.push(m.data));
    const heard = await OcppClient.connect(harness.url, 'QUIET-2', ['ocpp1.6']);
    await heard.close();
    await waitUntil(() => presence.length === 2, 3000, 'connected and disconnected of QUIET-2');
    assert.deepEqual(
      presence.map((e) => [e.eventType, e.chargePointId]),
      [
        ['charge_point.connected', 'QUIET-2'],
        ['charge_point.disconnected', 'QUIET-2'],
      ],
    );
    subscription.unsubscribe();
    const before = await unheard('charge_point');
    const unheardOne = await OcppClient.connect(harness.url, 'QUIET-3', ['ocpp1.6']);
    await unheardOne.close();
    await waitUntil(async () => (await unheard('charge_point')) === before + 2, 3000, 'connected and disconnected of QUIET-3 counted');
    assert.equal(presence.length, 2);
  });
});
