/**
 * The charger token of event subjects: one valid NATS token for any string, read back exactly, never shared by
 * two identities, and spelled the way URL-decoding reads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { natsSubjects } from '../src/bus/nats-subjects.js';
import { decodeSubjectToken, encodeSubjectToken, InvalidSubjectTokenError } from '../src/bus/subject-token.js';

/** What a NATS token may not contain: separators, wildcards, white space, control characters. */
const VALID_TOKEN = /^[A-Za-z0-9_%-]+$/;

/** Any sequence of UTF-16 code units, lone surrogates included. */
const anyJsString = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 60 }).map((codes) => String.fromCharCode(...codes));
/** A legal charge point identity: 1-48 printable ASCII characters without `:` or `/`. */
const legalIdentity = fc.string({
  unit: fc.constantFrom(...[...Array(95)].map((_, i) => String.fromCharCode(32 + i)).filter((c) => c !== ':' && c !== '/')),
  minLength: 1,
  maxLength: 48,
});

describe('charger subject token', () => {
  test('nasty identities map to the documented tokens', () => {
    const cases: Array<[string, string]> = [
      ['CP-001_a', 'CP-001_a'],
      ['CP.1', 'CP%2E1'],
      ['CP 2', 'CP%202'],
      ['CP*3', 'CP%2A3'],
      ['CP>4', 'CP%3E4'],
      ['50%', '50%25'],
      ['%2E', '%252E'],
      ['Zürich', 'Z%C3%BCrich'],
      ['💡', '%F0%9F%92%A1'],
      ['', '%'],
      ['\uD800x', '%uD800x'],
      // Not a byte-order mark to drop: an identity that starts with U+FEFF keeps it.
      ['\uFEFF', '%EF%BB%BF'],
    ];
    for (const [identity, token] of cases) {
      assert.equal(encodeSubjectToken(identity), token, identity);
      assert.equal(decodeSubjectToken(token), identity, token);
    }
  });

  test('every string becomes one valid token that decodes back to it', () => {
    fc.assert(
      fc.property(anyJsString, (s) => {
        const token = encodeSubjectToken(s);
        assert.match(token, VALID_TOKEN);
        assert.equal(decodeSubjectToken(token), s);
      }),
      { numRuns: 2000 },
    );
  });

  test('two different identities never share a token', () => {
    fc.assert(
      fc.property(anyJsString, anyJsString, (a, b) => {
        fc.pre(a !== b);
        assert.notEqual(encodeSubjectToken(a), encodeSubjectToken(b));
      }),
      { numRuns: 2000 },
    );
  });

  test('a legal identity reads back with ordinary URL decoding', () => {
    fc.assert(
      fc.property(legalIdentity, (id) => {
        assert.equal(decodeURIComponent(encodeSubjectToken(id)), id);
      }),
      { numRuns: 2000 },
    );
  });

  test('spellings the encoder never produces are refused', () => {
    for (const bad of ['', 'a.b', 'a b', '%2e', '%41', '%C3', '%u0041', '%uD800%uDC00', '%C0%AE', '%ZZ', '%2']) {
      assert.throws(() => decodeSubjectToken(bad), InvalidSubjectTokenError, JSON.stringify(bad));
    }
  });

  test('event subjects end in the charger token and refuse event types that are not two plain tokens', () => {
    const subjects = natsSubjects('gateway');
    assert.equal(subjects.chargerEvent('transaction.started', 'CP.1'), 'gateway.events.transaction.started.CP%2E1');
    assert.equal(subjects.eventsOfCharger('CP>4'), 'gateway.events.*.*.CP%3E4');
    for (const bad of ['transaction', 'a.b.c', 'a.*', 'a.>', 'a. b']) {
      assert.throws(() => subjects.chargerEvent(bad, 'CP'), /event type/);
    }
  });
});
