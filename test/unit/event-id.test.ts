/**
 * Event ids are random version 4 UUIDs: the shape RFC 9562 gives them, never repeated, and random in every bit the
 * format leaves random (each such hex position shows all 16 digits), across many refills of the random pool.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newEventId } from '../../src/events/event-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('event ids are distinct version 4 UUIDs with every random position random', () => {
  const count = 100_000;
  const seen = new Set<string>();
  // digitsAt[i]: the hex digits seen at character i.
  const digitsAt = Array.from({ length: 36 }, () => new Set<string>());
  for (let n = 0; n < count; n++) {
    const id = newEventId();
    assert.match(id, UUID_V4);
    seen.add(id);
    for (let i = 0; i < 36; i++) digitsAt[i].add(id[i]);
  }
  assert.equal(seen.size, count, 'no id repeats');
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) assert.deepEqual([...digitsAt[i]], ['-'], `a dash at ${i}`);
    else if (i === 14) assert.deepEqual([...digitsAt[i]], ['4'], 'the version digit');
    else if (i === 19) assert.deepEqual([...digitsAt[i]].sort(), ['8', '9', 'a', 'b'], 'the variant digit: each of 8, 9, a, b');
    else assert.equal(digitsAt[i].size, 16, `all 16 hex digits at position ${i}`);
  }
});

test('ids made on either side of a pool refill do not share their random bytes', () => {
  // 256 ids use one fill of the pool: ids 256 apart come from different fills and must differ.
  const ids = Array.from({ length: 1024 }, () => newEventId());
  for (let i = 0; i + 256 < ids.length; i++) assert.notEqual(ids[i], ids[i + 256]);
});
