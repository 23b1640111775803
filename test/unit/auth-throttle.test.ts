/** Basic credentials parsing and the failed-authentication throttle, on their own (the gateway tests use both). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_AUTHORIZATION_HEADER_CHARS, parseBasicAuthorization } from '../../src/security/basic-auth.js';
import { FailureThrottle } from '../../src/security/failure-throttle.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('parseBasicAuthorization', () => {
  it('reads user name and password, the password may hold ":"', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${b64('CP-1:a:b')}`), { kind: 'credentials', username: 'CP-1', password: 'a:b' });
    assert.deepEqual(parseBasicAuthorization(`basic ${b64('CP-1:')}`), { kind: 'credentials', username: 'CP-1', password: '' });
    assert.deepEqual(parseBasicAuthorization(undefined), { kind: 'none' });
  });

  it('keeps a leading byte-order mark as part of the user name', () => {
    assert.deepEqual(parseBasicAuthorization(`Basic ${b64('\uFEFFCP-1:pw')}`), { kind: 'credentials', username: '\uFEFFCP-1', password: 'pw' });
  });

  it('refuses what is not Basic base64 of UTF-8 "user:password", without repeating it', () => {
    const cases = [
      'Bearer abc',
      'Basic',
      'Basic !!!!',
      `Basic ${b64('no-colon')}`,
      `Basic ${Buffer.from([0x43, 0x3a, 0xff]).toString('base64')}`,
      `Basic ${'A'.repeat(MAX_AUTHORIZATION_HEADER_CHARS)}`,
    ];
    for (const header of cases) {
      const parsed = parseBasicAuthorization(header);
      assert.equal(parsed.kind, 'malformed', header.slice(0, 40));
      assert.equal(parsed.kind === 'malformed' && parsed.reason.includes(header.slice(6, 20) || '\0'), false);
    }
    assert.equal(parseBasicAuthorization(['Basic a', 'Basic b']).kind, 'malformed');
  });
});

describe('FailureThrottle', () => {
  const options = { maxFailures: 3, windowMs: 10_000, blockMs: 1000, maxBlockMs: 4000, maxTracked: 2 };

  it('blocks at the limit, doubles the block with each further failure up to the cap, and forgets after a success', () => {
    let now = 0;
    const throttle = new FailureThrottle(options, () => now);
    assert.equal(throttle.fail('a'), 0);
    assert.equal(throttle.fail('a'), 0);
    assert.equal(throttle.fail('a'), 1000);
    assert.equal(throttle.retryAfterMs('a'), 1000);
    now += 1000;
    assert.equal(throttle.retryAfterMs('a'), 0);
    assert.equal(throttle.fail('a'), 2000);
    now += 2000;
    assert.equal(throttle.fail('a'), 4000);
    now += 4000;
    assert.equal(throttle.fail('a'), 4000, 'capped');
    throttle.reset('a');
    assert.equal(throttle.retryAfterMs('a'), 0);
  });

  it('forgets failures older than the window, and holds at most maxTracked keys', () => {
    let now = 0;
    const throttle = new FailureThrottle(options, () => now);
    throttle.fail('a');
    throttle.fail('a');
    now += 10_001;
    assert.equal(throttle.fail('a'), 0, 'the window restarted');
    throttle.fail('b');
    throttle.fail('c');
    assert.equal(throttle.size, 2);
  });
});
