import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeHistograms, mergeHistories, percentiles } from '../../src/admin/dashboard-stats.js';
import { cutUtf8 } from '../../src/gateway/flight-recorder.js';
import { REDACTED, redactFrame } from '../../src/gateway/frame-redaction.js';

test('percentiles interpolate within the bucket, answer the last bound above it, and null for nothing', () => {
  const bounds = [0.01, 0.1, 1];
  // 10 observations: 5 ≤ 10 ms, 4 in (10, 100] ms, 1 above 1 s.
  assert.deepEqual(percentiles({ bounds, cumulative: [5, 9, 9, 10] }), { p50: 10, p90: 100, p99: 1000, count: 10 });
  assert.deepEqual(percentiles({ bounds, cumulative: [0, 4, 4, 4] }), { p50: 55, p90: 91, p99: 99.1, count: 4 });
  assert.deepEqual(percentiles({ bounds, cumulative: [0, 0, 0, 0] }), { p50: null, p90: null, p99: null, count: 0 });
});

test('histograms of two instances add up bucket by bucket; other bounds are left out', () => {
  const merged = mergeHistograms([
    { bounds: [1, 2], cumulative: [1, 2, 3] },
    undefined,
    { bounds: [1, 2], cumulative: [0, 5, 5] },
    { bounds: [1, 3], cumulative: [9, 9, 9] },
  ]);
  assert.deepEqual(merged, { bounds: [1, 2], cumulative: [1, 7, 8] });
});

test('histories of instances are summed per interval slot, oldest first, up to the newest slot all have reached', () => {
  const point = (at: number, v16: number, inbound: number) => ({
    at: new Date(at).toISOString(),
    connected: { 'ocpp1.6': v16, 'ocpp2.0.1': 0 },
    inboundPerSecond: inbound,
    outboundPerSecond: 0,
  });
  const merged = mergeHistories(
    [
      [point(10_100, 1, 2), point(12_100, 1, 3), point(14_100, 1, 3)],
      [point(10_900, 2, 5), point(12_050, 2, 1)],
    ],
    2000,
    10,
  );
  assert.deepEqual(
    merged.map((p) => [p.at, p.connected['ocpp1.6'], p.inboundPerSecond]),
    [
      [new Date(10_000).toISOString(), 3, 7],
      [new Date(12_000).toISOString(), 3, 4],
    ],
  );
});

test('an instance counts once per slot: the later of two samples in one slot, its last sample for a slot it skipped', () => {
  const point = (at: number, v201: number, inbound: number) => ({
    at: new Date(at).toISOString(),
    connected: { 'ocpp1.6': 0, 'ocpp2.0.1': v201 },
    inboundPerSecond: inbound,
    outboundPerSecond: 0,
  });
  const merged = mergeHistories(
    [
      // Samples on time, one per 2 s slot.
      [point(10_100, 1, 1), point(12_100, 1, 1), point(14_100, 1, 1), point(16_100, 1, 1)],
      // A timer that ran late into the next slot (12,000 has two samples, the later one 2), then skipped 14,000.
      [point(10_500, 4, 4), point(12_000, 4, 4), point(13_990, 2, 2), point(16_020, 3, 3)],
      // An instance that started late: nothing before its first sample.
      [point(14_500, 10, 10), point(16_500, 10, 10)],
    ],
    2000,
    10,
  );
  assert.deepEqual(
    merged.map((p) => [p.at, p.connected['ocpp2.0.1'], p.inboundPerSecond]),
    [
      [new Date(10_000).toISOString(), 1 + 4, 1 + 4],
      [new Date(12_000).toISOString(), 1 + 2, 1 + 2],
      [new Date(14_000).toISOString(), 1 + 2 + 10, 1 + 2 + 10],
      [new Date(16_000).toISOString(), 1 + 3 + 10, 1 + 3 + 10],
    ],
  );
});

test('redaction keeps frames without credentials byte for byte and replaces each credential form', () => {
  const plain = '[2, "1", "Heartbeat", {}]';
  assert.equal(redactFrame(plain), plain, 'not re-serialized');
  assert.equal(redactFrame('[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"password-like"}]').includes('password-like'), true);
  assert.equal(
    redactFrame('[2,"1","ChangeConfiguration",{"key":"authorizationkey","value":"s3cret"}]'),
    `[2,"1","ChangeConfiguration",{"key":"authorizationkey","value":"${REDACTED}"}]`,
  );
  assert.equal(
    redactFrame('[3,"1",{"reportData":[{"component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"},"variableAttribute":[{"value":"s3cret"}]}]}]'),
    `[3,"1",{"reportData":[{"component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"},"variableAttribute":[{"value":"${REDACTED}"}]}]}]`,
  );
  assert.equal(redactFrame('[2,"1","X",{"Password":{"deep":"s3cret"}}]'), `[2,"1","X",{"Password":"${REDACTED}"}]`);
  const broken = '[2,"1","X",{"password":"s3cret"';
  assert.equal(redactFrame(broken), broken);
});

test('a frame is cut at a byte count without splitting a character', () => {
  assert.equal(cutUtf8('abc', 10), 'abc');
  assert.equal(cutUtf8('abcdef', 4), 'abcd');
  // "é" is two bytes, "€" three: a cut inside one keeps the character out whole.
  assert.equal(cutUtf8('aé€', 2), 'a');
  assert.equal(cutUtf8('aé€', 3), 'aé');
  assert.equal(cutUtf8('aé€', 5), 'aé');
  assert.equal(cutUtf8('aé€', 6), 'aé€');
});
