/**
 * The gateway skips mapping a charger CALL to events when nobody would receive them, unless mapping it also
 * updates the charger's memory (`callUpdatesMemory`). So for every action a charger sends, in both versions: an
 * action declared memory-free must leave a populated memory exactly as it was, whatever its payload names; an
 * action declared as updating it must change it for a payload that reports something new (which shows this
 * check would see a change); and every event an action yields must be of a type `callEventTypes` names, or the
 * gateway could think nobody listens when someone does. An action whose memory update can run without its events
 * (`recordInMemoryOnly`, for when nobody listens) must leave the memory exactly as mapping it with its events does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectorMemory, callEventTypes, callHasMemoryOnlyPath, callUpdatesMemory, eventsForCall, recordInMemoryOnly } from '../../src/events/index.js';
import { actionsOf } from '../../src/ocpp/catalogue.js';
import type { OcppVersion } from '../../src/ocpp/versions.js';

const AT = '2024-05-01T10:00:00.000Z';

/** A charger's memory with statuses of two connectors and one open transaction, as a session leaves it. */
function populatedMemory(version: OcppVersion): ConnectorMemory {
  const memory = new ConnectorMemory();
  const ctx = { chargePointId: 'CP-1', gatewayId: 'gw', protocol: version, memory, now: new Date(AT) };
  if (version === 'ocpp1.6') {
    eventsForCall(ctx, 'StatusNotification', { connectorId: 1, status: 'Charging', errorCode: 'NoError', timestamp: AT }, {});
    eventsForCall(ctx, 'StatusNotification', { connectorId: 2, status: 'Available', errorCode: 'NoError', timestamp: AT }, {});
    eventsForCall(ctx, 'StartTransaction', { connectorId: 1, idTag: 'TAG-1', meterStart: 100, timestamp: AT }, { transactionId: 7, idTagInfo: { status: 'Accepted' } });
  } else {
    eventsForCall(ctx, 'StatusNotification', { evseId: 1, connectorId: 1, connectorStatus: 'Occupied', timestamp: AT }, {});
    eventsForCall(ctx, 'StatusNotification', { evseId: 2, connectorId: 1, connectorStatus: 'Available', timestamp: AT }, {});
    eventsForCall(
      ctx,
      'TransactionEvent',
      {
        eventType: 'Started',
        timestamp: AT,
        triggerReason: 'Authorized',
        seqNo: 0,
        transactionInfo: { transactionId: 'T-1' },
        evse: { id: 1, connectorId: 1 },
        idToken: { idToken: 'TAG-1', type: 'ISO14443' },
      },
      {},
    );
  }
  return memory;
}

/**
 * One payload carrying every field the mappers read, each naming something new or something the memory holds:
 * another connector's status, a stop of the open transaction, a new start. A mapper that touched the memory for
 * any of them would change it.
 */
function provocativePayload(version: OcppVersion): Record<string, unknown> {
  const common = {
    timestamp: '2024-05-01T11:00:00.000Z',
    status: 'Faulted',
    errorCode: 'GroundFailure',
    meterValue: [{ timestamp: AT, sampledValue: [{ value: '5' }] }],
  };
  return version === 'ocpp1.6'
    ? { ...common, connectorId: 2, transactionId: 7, idTag: 'TAG-2', meterStart: 200, meterStop: 300, reason: 'Local' }
    : {
        ...common,
        evseId: 2,
        connectorId: 1,
        connectorStatus: 'Faulted',
        eventType: 'Ended',
        triggerReason: 'EVDeparted',
        seqNo: 1,
        transactionInfo: { transactionId: 'T-1', stoppedReason: 'EVDisconnected' },
        evse: { id: 1, connectorId: 1 },
      };
}

const RESPONSE: Record<string, unknown> = { transactionId: 8, idTagInfo: { status: 'Accepted' }, status: 'Accepted' };

for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
  describe(`${version}: which CALLs update the charger's memory`, () => {
    for (const action of actionsOf(version, 'chargerToCentral')) {
      it(`${action}: ${callUpdatesMemory(version, action) ? 'changes the memory' : 'leaves the memory as it was'}, and yields only the types it names`, () => {
        const memory = populatedMemory(version);
        const before = JSON.stringify(memory.snapshot());
        const ctx = { chargePointId: 'CP-1', gatewayId: 'gw', protocol: version, memory, now: new Date(AT) };
        const events = eventsForCall(ctx, action, provocativePayload(version), RESPONSE);
        const after = JSON.stringify(memory.snapshot());
        if (callUpdatesMemory(version, action)) assert.notEqual(after, before);
        else assert.equal(after, before);
        const named = callEventTypes(version, action);
        for (const event of events) assert.ok(named.includes(event.eventType), `${event.eventType} is among ${named.join(', ')}`);
      });
    }
  });
}

for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
  describe(`${version}: a memory update without its events`, () => {
    const actions = actionsOf(version, 'chargerToCentral').filter((action) => callHasMemoryOnlyPath(version, action));
    it('exists for memory-updating actions only, StatusNotification among them', () => {
      assert.ok(actions.includes('StatusNotification'));
      for (const action of actions) assert.ok(callUpdatesMemory(version, action), action);
    });
    for (const action of actions) {
      for (const [name, payload] of [
        ['a new status of a known connector', provocativePayload(version)],
        ['a report without its own timestamp', { ...provocativePayload(version), timestamp: undefined }],
        ['a connector not seen before', { ...provocativePayload(version), connectorId: 9 }],
      ] as const) {
        it(`${action}, ${name}: leaves the memory as mapping it with its events does`, () => {
          const withEvents = populatedMemory(version);
          const alone = populatedMemory(version);
          eventsForCall({ chargePointId: 'CP-1', gatewayId: 'gw', protocol: version, memory: withEvents, now: new Date(AT) }, action, payload, RESPONSE);
          recordInMemoryOnly({ chargePointId: 'CP-1', gatewayId: 'gw', protocol: version, memory: alone, now: new Date(AT) }, action, payload);
          assert.notEqual(JSON.stringify(alone.snapshot()), JSON.stringify(populatedMemory(version).snapshot()), 'the update changed something');
          assert.deepEqual(alone.snapshot(), withEvents.snapshot());
        });
      }
    }
  });
}
