/**
 * The admin API's pure parts: keyset paging, cursors, the event filter and the error descriptions.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyError } from 'fastify';
import { describeError } from '../src/admin/api-errors.js';
import { eventFilter, isGatewayEvent } from '../src/admin/event-filter.js';
import { decodeCursor, encodeCursor, smallestAfter } from '../src/admin/paging.js';
import type { GatewayEvent } from '../src/events/envelope.js';

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('keyset paging', () => {
  const ids = Array.from({ length: 5000 }, (_, i) => `CP-${((i * 7919) % 5000).toString(36)}-${i % 7}`);
  const sorted = [...ids].sort(byCodeUnit);

  test('smallestAfter is the sorted list cut at the cursor', () => {
    assert.deepEqual(smallestAfter(ids, undefined, 100), sorted.slice(0, 100));
    assert.deepEqual(smallestAfter(ids, sorted[99], 100), sorted.slice(100, 200));
    assert.deepEqual(smallestAfter(ids, sorted[4990], 100), sorted.slice(4991));
    assert.deepEqual(smallestAfter(ids, sorted.at(-1), 100), []);
    assert.deepEqual(smallestAfter(ids, undefined, 0), []);
    assert.deepEqual(smallestAfter(ids, undefined, 10_000), sorted);
    // A cursor that is not an identity (the charger left) still splits the order in the right place.
    assert.deepEqual(smallestAfter(ids, `${sorted[9]}~`, 3), sorted.slice(10, 13));
  });

  test('walking every page visits each identity once', () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = smallestAfter(ids, after, 333);
      if (page.length === 0) break;
      seen.push(...page);
      after = page.at(-1);
    }
    assert.deepEqual(seen, sorted);
  });

  test('a page out of 20,000 identities costs well under a full sort of them', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `CP-${Math.random().toString(36).slice(2, 10)}-${i}`);
    // The fastest of ten runs each: with the suite sharing two cores, a run that lost its core to another process
    // measures that process, not this code.
    const time = (fn: () => void) => {
      for (let i = 0; i < 3; i++) fn(); // warm up
      let fastest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 10; i++) {
        const startedAt = performance.now();
        fn();
        fastest = Math.min(fastest, performance.now() - startedAt);
      }
      return fastest;
    };
    const page = time(() => smallestAfter(many, undefined, 101));
    const fullSort = time(() => [...many].sort(byCodeUnit).slice(0, 101));
    assert.ok(page < fullSort / 2, `a page took ${page.toFixed(2)} ms, a full sort ${fullSort.toFixed(2)} ms`);
  });

  test('cursors round-trip and foreign ones are refused', () => {
    for (const id of ['CP-1', 'a#b', 'ÄÖ', 'x'.repeat(48)]) assert.equal(decodeCursor(encodeCursor(id)), id);
    assert.equal(decodeCursor(''), undefined);
    assert.equal(decodeCursor('not*ours'), undefined);
    assert.equal(decodeCursor('Q1A=='), undefined, 'padding is not ours');
  });
});

describe('event filter', () => {
  const event = (chargePointId: string, eventType: string) =>
    ({ eventId: 'e', eventType, chargePointId, gatewayId: 'g', timestamp: '', protocol: 'ocpp1.6', payload: {} }) as GatewayEvent;

  test('no filter passes everything', () => {
    assert.equal(eventFilter({})(event('A', 'charge_point.connected')), true);
    assert.equal(eventFilter({ chargePointIds: [], eventTypes: [] })(event('A', 'x')), true);
  });

  test('chargers by exact identity, types exact or by a prefix ending in "."', () => {
    const f = eventFilter({ chargePointIds: ['A', 'B'], eventTypes: ['transaction.', 'charge_point.booted'] });
    assert.equal(f(event('A', 'transaction.started')), true);
    assert.equal(f(event('B', 'charge_point.booted')), true);
    assert.equal(f(event('A', 'charge_point.connected')), false);
    assert.equal(f(event('C', 'transaction.started')), false);
    assert.equal(f(event('AB', 'transaction.started')), false);
    assert.equal(eventFilter({ eventTypes: ['transaction'] })(event('A', 'transaction.started')), false, 'without the dot it is exact');
  });

  test('only envelopes count as events', () => {
    assert.equal(isGatewayEvent(event('A', 'x')), true);
    assert.equal(isGatewayEvent({ eventType: 'x' }), false);
    assert.equal(isGatewayEvent('x'), false);
    assert.equal(isGatewayEvent(null), false);
  });
});

describe('error descriptions', () => {
  const fastifyError = (props: Record<string, unknown>) => Object.assign(new Error(String(props.message ?? 'boom')), props) as unknown as FastifyError;

  test('a validation error names the field', () => {
    const required = describeError(
      fastifyError({
        statusCode: 400,
        validationContext: 'body',
        validation: [{ instancePath: '', keyword: 'required', params: { missingProperty: 'action' }, message: "must have required property 'action'" }],
      }),
    );
    assert.equal(required.status, 400);
    assert.equal(required.body.error.code, 'BAD_REQUEST');
    assert.equal(required.body.error.field, 'body/action');
    assert.equal(required.body.error.message, 'body/action is required');

    const nested = describeError(
      fastifyError({
        statusCode: 400,
        validationContext: 'querystring',
        validation: [{ instancePath: '/limit', keyword: 'maximum', params: {}, message: 'must be <= 1000' }],
      }),
    );
    assert.equal(nested.body.error.message, 'querystring/limit must be <= 1000');
  });

  test('client errors keep their status with a named code; internal ones are not echoed', () => {
    const tooLarge = describeError(fastifyError({ statusCode: 413, message: 'Request body is too large' }));
    assert.deepEqual([tooLarge.status, tooLarge.body.error.code, tooLarge.internal], [413, 'PAYLOAD_TOO_LARGE', false]);
    const bug = describeError(fastifyError({ message: 'secret internals' }));
    assert.deepEqual([bug.status, bug.body.error.code, bug.internal], [500, 'INTERNAL_ERROR', true]);
    assert.ok(!bug.body.error.message.includes('secret'));
  });
});
