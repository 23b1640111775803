/**
 * A CALLRESULT is the JSON text of `[3, messageId, payload]` whatever the payload, byte for byte; the JSON of a
 * payload that cannot change is kept and reused, and a frozen payload with something changeable inside is
 * serialised afresh every time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializeCallResult } from '../../src/ocpp/framing.js';

const IDS = ['1', 'a"b\\c', 'line\nbreak', '\u2028\u2029', 'é-ünïcode-🔌', ''];

describe('CALLRESULT serialisation', () => {
  const deeplyFrozen = Object.freeze({ status: 'Accepted', idTagInfo: Object.freeze({ status: 'Accepted', expiryDate: '2027-01-01T00:00:00.000Z' }) });
  const frozenWithMutableChild = Object.freeze({ idTagInfo: { status: 'Accepted' } });
  const payloads: unknown[] = [
    Object.freeze({}),
    {},
    deeplyFrozen,
    frozenWithMutableChild,
    { currentTime: '2026-12-03T07:00:00.000Z' },
    Object.freeze({ list: Object.freeze([1, 'two', Object.freeze({ three: 3 })]) }),
    Object.freeze({ withToJson: Object.freeze({ toJSON: () => 'as text' }) }),
  ];

  it('is the JSON text of the whole frame for every id and payload, asked once or twice', () => {
    for (const id of IDS) {
      for (const payload of payloads) {
        const expected = JSON.stringify([3, id, payload]);
        assert.equal(serializeCallResult(id, payload), expected);
        assert.equal(serializeCallResult(id, payload), expected, 'the second time, from what was kept');
      }
    }
  });

  it('serialises a frozen payload with a changeable child afresh', () => {
    const payload = Object.freeze({ idTagInfo: { status: 'Accepted' as string } });
    assert.equal(serializeCallResult('7', payload), '[3,"7",{"idTagInfo":{"status":"Accepted"}}]');
    payload.idTagInfo.status = 'Blocked';
    assert.equal(serializeCallResult('7', payload), '[3,"7",{"idTagInfo":{"status":"Blocked"}}]');
  });
});
