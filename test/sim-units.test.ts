/**
 * The simulator's building blocks: the latency histogram (accuracy, merging across workers), the
 * scheduler heap, and option resolution.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectFailureReason } from '../src/sim/errors.js';
import { MinHeap } from '../src/sim/heap.js';
import { Histogram } from '../src/sim/histogram.js';
import { protocolsOf, resolveOptions } from '../src/sim/options.js';

/** Exact quantile of sorted values, by the same rank rule as the histogram. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

describe('Histogram', () => {
  it('keeps quantiles within 1 % of the exact values over a wide range', () => {
    const values: number[] = [];
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 50_000; i++) values.push(Math.floor(50 * Math.exp(rand() * 12))); // 50 us .. 8 s, log-spread
    const h = new Histogram();
    for (const v of values) h.record(v);
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const want = exact(values, q);
      const got = h.quantile(q);
      assert.ok(Math.abs(got - want) <= Math.max(1, want * 0.01), `q${q}: got ${got}, want ${want}`);
    }
    assert.equal(h.quantile(1), values[values.length - 1]);
    assert.equal(h.min, values[0]);
    assert.equal(h.count, values.length);
  });

  it('is exact for small values and clamps out-of-range ones', () => {
    const h = new Histogram();
    for (const v of [0, 1, 2, 3, 255, -5, Number.NaN]) h.record(v);
    assert.equal(h.count, 7);
    assert.equal(h.min, 0);
    assert.equal(h.quantile(0.99), 255);
    h.record(1e12);
    assert.equal(h.max, 0x7fffffff);
  });

  it('merges like one histogram that saw every sample, also through JSON', () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 1; i <= 10_000; i++) {
      (i % 3 === 0 ? a : b).record(i * 7);
      all.record(i * 7);
    }
    const merged = new Histogram().add(JSON.parse(JSON.stringify(a.toJSON()))).add(b);
    assert.deepEqual(merged.toJSON(), all.toJSON());
  });

  it('gives the samples of an interval as the difference of two cumulative states', () => {
    const h = new Histogram();
    for (let i = 0; i < 1000; i++) h.record(100);
    const before = h.toJSON();
    for (let i = 0; i < 1000; i++) h.record(5000);
    const interval = Histogram.difference(h.toJSON(), before);
    assert.equal(interval.count, 1000);
    assert.ok(Math.abs(interval.quantile(0.5) - 5000) <= 50);
    assert.ok(interval.min >= 4900);
  });
});

describe('MinHeap', () => {
  it('pops in due order and supports removal and rescheduling', () => {
    const heap = new MinHeap<{ dueAt: number; heapPos: number; name: number }>();
    const items = Array.from({ length: 500 }, (_, name) => ({ dueAt: 0, heapPos: -1, name }));
    for (const item of items) heap.schedule(item, (item.name * 7919) % 1000);
    for (let i = 0; i < 500; i += 5) heap.remove(items[i]);
    for (let i = 1; i < 500; i += 5) heap.schedule(items[i], -i); // move to the front
    assert.equal(heap.size, 400);
    let last = -Infinity;
    let n = 0;
    for (let item = heap.pop(); item; item = heap.pop()) {
      assert.ok(item.dueAt >= last);
      assert.equal(item.heapPos, -1);
      assert.notEqual(item.name % 5, 0);
      last = item.dueAt;
      n++;
    }
    assert.equal(n, 400);
  });
});

describe('simulator options', () => {
  it('sizes workers by the per-process limit and spreads 127.x sockets over source addresses and ports', () => {
    const o = resolveOptions({ url: 'ws://127.0.0.1:9000/ocpp', chargers: 40_000, perProcess: 18_000 });
    assert.ok(o.workers >= 3);
    // Two (address, port) pairs per charger over the default 22,768 ports per address.
    assert.deepEqual(o.sourceAddresses, ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']);
    assert.equal(o.sourcePortBase, 10_000);
    assert.equal(o.sourcePortSpan, 22_768);
    const small = resolveOptions({ url: 'ws://127.0.0.1:9000/ocpp', chargers: 10 });
    assert.equal(small.workers, 1);
    assert.deepEqual(small.sourceAddresses, ['127.0.0.1']);
    const asked = resolveOptions({ url: 'ws://127.0.0.1:9000/ocpp', chargers: 100, sourceAddresses: 3, sourcePorts: [20_000, 20_099] });
    assert.deepEqual(asked.sourceAddresses, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    assert.equal(asked.sourcePortSpan, 100);
    const kernel = resolveOptions({ url: 'ws://127.0.0.1:9000/ocpp', chargers: 100, sourceAddresses: 0 });
    assert.deepEqual(kernel.sourceAddresses, []);
    const remote = resolveOptions({ url: 'wss://csms.example.com/ocpp', chargers: 40_000 });
    assert.deepEqual(remote.sourceAddresses, []);
  });

  it('refuses impossible settings', () => {
    assert.throws(() => resolveOptions({ url: 'http://x/ocpp' }), RangeError);
    assert.throws(() => resolveOptions({ url: 'ws://x/ocpp', chargers: 0 }), RangeError);
    assert.throws(() => resolveOptions({ url: 'ws://x/ocpp', chargers: 40_000, workers: 1 }), RangeError);
    assert.throws(() => resolveOptions({ url: 'ws://x/ocpp', reconnectBaseSec: 10, reconnectMaxSec: 1 }), RangeError);
    assert.throws(() => resolveOptions({ url: 'ws://x/ocpp', protocol: '2.1' as never }), RangeError);
    assert.throws(() => resolveOptions({ url: 'ws://127.0.0.1/ocpp', chargers: 300, sourceAddresses: 1, sourcePorts: [20_000, 20_099] }), RangeError);
  });

  it('alternates versions in mix mode', () => {
    assert.deepEqual(
      [0, 1, 2].map((i) => protocolsOf('mix', i)),
      [['ocpp1.6'], ['ocpp2.0.1'], ['ocpp1.6']],
    );
    assert.deepEqual(protocolsOf('both', 3), ['ocpp2.0.1', 'ocpp1.6']);
  });

  it('names connection failures by a short stable reason', () => {
    assert.equal(connectFailureReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
    assert.equal(connectFailureReason(new Error('Unexpected server response: 401')), 'http-401');
    assert.equal(connectFailureReason(new Error('Server sent no subprotocol')), 'no-subprotocol');
    assert.equal(connectFailureReason(new Error('Opening handshake has timed out')), 'handshake-timeout');
  });
});
