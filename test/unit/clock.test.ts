import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoAt, isoNow } from '../../src/observability/clock.js';

test('isoAt gives what toISOString gives, for every millisecond of a second and for random instants', () => {
  const base = Date.UTC(2026, 11, 31, 23, 59, 59, 0);
  for (let ms = base - 1500; ms <= base + 1500; ms++) assert.equal(isoAt(ms), new Date(ms).toISOString());
  for (let i = 0; i < 20_000; i++) {
    // 1970 to 2200, in any order, so that the kept second and millisecond are stale as often as not.
    const ms = Math.floor(Math.random() * 7_258_118_400_000);
    assert.equal(isoAt(ms), new Date(ms).toISOString(), `at ${ms}`);
  }
  // Back to a millisecond seen before, and to one of the same second.
  assert.equal(isoAt(base + 5), new Date(base + 5).toISOString());
  assert.equal(isoAt(base + 999), new Date(base + 999).toISOString());
  assert.equal(isoAt(base), new Date(base).toISOString());
});

test('isoNow is the current time to the millisecond', () => {
  const before = Date.now();
  const now = Date.parse(isoNow());
  const after = Date.now();
  assert.ok(now >= before && now <= after, `${now} not within ${before}..${after}`);
  assert.match(isoNow(), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
});
