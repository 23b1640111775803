import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callEventId, callEventIdBase } from '../../src/events/call-event-ids.js';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const status = { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: '2026-01-01T00:00:00.000Z' };

describe('eventIds of a charger CALL', () => {
  test('the same CALL sent again gives the same ids, each a UUID like any eventId', () => {
    const first = callEventId(callEventIdBase('CP-1', 'm1', 'StatusNotification', status, {}), 0);
    const again = callEventId(callEventIdBase('CP-1', 'm1', 'StatusNotification', { ...status }, {}), 0);
    assert.equal(first, again);
    assert.match(first, UUID_V5);
  });

  test('anything that tells two CALLs apart gives other ids', () => {
    const base = callEventIdBase('CP-1', 'm1', 'StatusNotification', status, {});
    const ids = [
      callEventId(base, 0),
      callEventId(base, 1),
      callEventId(callEventIdBase('CP-2', 'm1', 'StatusNotification', status, {}), 0),
      callEventId(callEventIdBase('CP-1', 'm2', 'StatusNotification', status, {}), 0),
      callEventId(callEventIdBase('CP-1', 'm1', 'MeterValues', status, {}), 0),
      // The same messageId reused after a reconnect, for another CALL.
      callEventId(callEventIdBase('CP-1', 'm1', 'StatusNotification', { ...status, status: 'Charging' }, {}), 0),
    ];
    assert.equal(new Set(ids).size, ids.length);
  });

  test('a 1.6 StartTransaction given another transactionId (its retry reached another instance) gets other ids', () => {
    const start = { connectorId: 1, idTag: 'TAG', meterStart: 0, timestamp: '2026-01-01T00:00:00.000Z' };
    const a = callEventId(callEventIdBase('CP-1', 'm1', 'StartTransaction', start, { transactionId: 7, idTagInfo: { status: 'Accepted' } }), 0);
    const b = callEventId(callEventIdBase('CP-1', 'm1', 'StartTransaction', start, { transactionId: 8, idTagInfo: { status: 'Accepted' } }), 0);
    const same = callEventId(callEventIdBase('CP-1', 'm1', 'StartTransaction', start, { transactionId: 7, idTagInfo: { status: 'Accepted' } }), 0);
    assert.notEqual(a, b);
    assert.equal(a, same);
  });

  test('other answers do not change the ids (a BootNotification answer carries the current time)', () => {
    const boot = { chargePointVendor: 'V', chargePointModel: 'M' };
    const a = callEventId(callEventIdBase('CP-1', 'm1', 'BootNotification', boot, { status: 'Accepted', currentTime: '2026-01-01T00:00:00.000Z', interval: 60 }), 0);
    const b = callEventId(callEventIdBase('CP-1', 'm1', 'BootNotification', boot, { status: 'Accepted', currentTime: '2026-01-01T00:00:05.000Z', interval: 60 }), 0);
    assert.equal(a, b);
  });
});
