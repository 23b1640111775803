/**
 * The embedded bus delivers in process, in subscription order, to the subscriptions whose pattern matches the
 * subject (NATS wildcards), and knows per subject whether anyone listens; both stay right as subscriptions come
 * and go, also between and during publishes of the same subject.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';

test('delivers to matching subscriptions in order, and says who listens, as subscriptions come and go', () => {
  const bus = new MemoryBus();
  const got: string[] = [];
  const subject = 'gateway.events.charge_point.heartbeat';
  assert.equal(bus.hasListeners(subject), false);
  bus.publish(subject, 1);
  const all = bus.subscribe('gateway.events.>', (m) => got.push(`all:${m.data}`));
  const one = bus.subscribe(subject, (m) => got.push(`one:${m.data}`));
  const star = bus.subscribe('gateway.events.*.heartbeat', (m) => got.push(`star:${m.data}`));
  bus.subscribe('gateway.events.transaction.>', (m) => got.push(`tx:${m.data}`));
  assert.equal(bus.hasListeners(subject), true);
  bus.publish(subject, 2);
  assert.deepEqual(got, ['all:2', 'one:2', 'star:2']);
  all.unsubscribe();
  star.unsubscribe();
  bus.publish(subject, 3);
  assert.deepEqual(got.slice(3), ['one:3']);
  one.unsubscribe();
  assert.equal(bus.hasListeners(subject), false);
  assert.equal(bus.hasListeners('gateway.events.transaction.meter_values'), true);
  bus.publish(subject, 4);
  assert.deepEqual(got.slice(4), []);
});

test('a subscription ended by an earlier handler of the same publish gets nothing more', () => {
  const bus = new MemoryBus();
  const got: string[] = [];
  let second: { unsubscribe(): void } | undefined;
  bus.subscribe('a.b', () => {
    got.push('first');
    second?.unsubscribe();
  });
  second = bus.subscribe('a.*', () => got.push('second'));
  bus.publish('a.b', null);
  bus.publish('a.b', null);
  assert.deepEqual(got, ['first', 'first']);
});

test('a handler that throws is reported and does not keep the others from their message', () => {
  const errors: unknown[] = [];
  const bus = new MemoryBus((err) => errors.push(err));
  const got: unknown[] = [];
  bus.subscribe('x', () => {
    throw new Error('boom');
  });
  bus.subscribe('x', (m) => got.push(m.data));
  assert.equal(bus.publish('x', 7), undefined);
  assert.deepEqual(got, [7]);
  assert.equal((errors[0] as Error).message, 'boom');
});
