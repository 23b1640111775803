/**
 * Password hashes (scrypt), the verified-credentials cache and the verifier that combines them: right and wrong
 * passwords, malformed and absurd stored hashes (false, never a throw), salts, rotation and the cache's bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CredentialRecord } from '../../src/security/credential-store.js';
import { hashPassword, isPasswordHash, MAX_PASSWORD_BYTES, SCRYPT_COST, verifyAgainstDummy, verifyPassword } from '../../src/security/password-hash.js';
import { PasswordVerifier, VerifierBusyError } from '../../src/security/password-verifier.js';
import { VerifiedCredentialsCache } from '../../src/security/verified-cache.js';

const PASSWORD = 'correct horse battery staple';

describe('hashPassword / verifyPassword', () => {
  it('encodes scrypt$N$r$p$salt$hash with the configured cost, a 16-byte salt and a 32-byte hash', async () => {
    const encoded = await hashPassword(PASSWORD);
    const [scheme, n, r, p, salt, hash] = encoded.split('$');
    assert.deepEqual([scheme, Number(n), Number(r), Number(p)], ['scrypt', SCRYPT_COST.N, SCRYPT_COST.r, SCRYPT_COST.p]);
    assert.equal(Buffer.from(salt, 'base64').length, 16);
    assert.equal(Buffer.from(hash, 'base64').length, 32);
    assert.ok(!encoded.includes(PASSWORD));
  });

  it('verifies the right password and refuses a wrong one, one differing by case, and the empty one', async () => {
    const encoded = await hashPassword(PASSWORD);
    assert.equal(await verifyPassword(PASSWORD, encoded), true);
    assert.equal(await verifyPassword(`${PASSWORD} `, encoded), false);
    assert.equal(await verifyPassword(PASSWORD.toUpperCase(), encoded), false);
    assert.equal(await verifyPassword('', encoded), false);
  });

  it('salts: two hashes of one password differ, and each verifies', async () => {
    const [a, b] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)]);
    assert.notEqual(a, b);
    assert.notEqual(a.split('$')[4], b.split('$')[4]);
    assert.equal(await verifyPassword(PASSWORD, a), true);
    assert.equal(await verifyPassword(PASSWORD, b), true);
  });

  it('verifies a non-ASCII password as UTF-8', async () => {
    const encoded = await hashPassword('Ladesäule-Paßwort-日本');
    assert.equal(await verifyPassword('Ladesäule-Paßwort-日本', encoded), true);
    assert.equal(await verifyPassword('Ladesaule-Passwort-日本', encoded), false);
  });

  it('refuses to hash an empty or over-long password', async () => {
    await assert.rejects(hashPassword(''), /must not be empty/);
    await assert.rejects(hashPassword('x'.repeat(MAX_PASSWORD_BYTES + 1)), /at most/);
  });

  it('answers false, never throws, for malformed or absurd stored hashes', async () => {
    const good = await hashPassword(PASSWORD);
    const [, , r, p, salt, hash] = good.split('$');
    const malformed: unknown[] = [
      '',
      'plain-text-password',
      good.replace('scrypt$', 'bcrypt$'),
      good.slice(0, -1), // base64 without its padding
      `${good}$extra`,
      `scrypt$${SCRYPT_COST.N}$${r}$${p}$${salt}`,
      `scrypt$12345$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$0$${r}$${p}$${salt}$${hash}`,
      `scrypt$-16384$${r}$${p}$${salt}$${hash}`,
      `scrypt$${2 ** 30}$${r}$${p}$${salt}$${hash}`, // would take gigabytes
      `scrypt$${2 ** 20}$64$${p}$${salt}$${hash}`,
      `scrypt$${SCRYPT_COST.N}$${r}$1000$${salt}$${hash}`,
      `scrypt$${SCRYPT_COST.N}$${r}$${p}$not*base64$${hash}`,
      `scrypt$${SCRYPT_COST.N}$${r}$${p}$${salt}$AAAA`, // 3-byte hash
      `scrypt$${SCRYPT_COST.N}$${r}$${p}$$${hash}`,
      `scrypt$1e4$${r}$${p}$${salt}$${hash}`,
      `scrypt$${SCRYPT_COST.N}$${r}$${p}$${salt}$${hash}`.padEnd(600, 'A'),
      undefined,
      null,
      42,
      { N: 16384 },
    ];
    for (const encoded of malformed) {
      assert.equal(await verifyPassword(PASSWORD, encoded as string), false, `verify against ${JSON.stringify(encoded)}`);
      assert.equal(isPasswordHash(encoded), false, `isPasswordHash(${JSON.stringify(encoded)})`);
    }
    assert.equal(isPasswordHash(good), true);
  });

  it('answers false for an over-long candidate password', async () => {
    const encoded = await hashPassword(PASSWORD);
    assert.equal(await verifyPassword(PASSWORD + 'x'.repeat(MAX_PASSWORD_BYTES), encoded), false);
  });

  it('verifyAgainstDummy is false whatever the password', async () => {
    assert.equal(await verifyAgainstDummy(PASSWORD), false);
    assert.equal(await verifyAgainstDummy(''), false);
    assert.equal(await verifyAgainstDummy('x'.repeat(MAX_PASSWORD_BYTES * 2)), false);
  });
});

describe('VerifiedCredentialsCache', () => {
  it('matches only the exact identity, password and stored hash it was told about', () => {
    const cache = new VerifiedCredentialsCache(10);
    cache.remember('CP-1', PASSWORD, 'hash-A');
    assert.equal(cache.has('CP-1', PASSWORD, 'hash-A'), true);
    assert.equal(cache.has('CP-1', PASSWORD, 'hash-B'), false, 'a rotated hash never matches an old entry');
    assert.equal(cache.has('CP-1', `${PASSWORD}!`, 'hash-A'), false);
    assert.equal(cache.has('CP-2', PASSWORD, 'hash-A'), false);
    // The separator keeps parts from sliding into each other: an identity holding one is never a hit.
    cache.remember('CP', 'x\0y', 'h');
    assert.equal(cache.has('CP', 'x\0y', 'h'), true);
    assert.equal(cache.has('CP\0x', 'y', 'h'), false);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedCredentialsCache(3);
    for (const id of ['A', 'B', 'C']) cache.remember(id, 'pw', 'h');
    assert.equal(cache.has('A', 'pw', 'h'), true); // A is now the most recently used
    cache.remember('D', 'pw', 'h');
    assert.equal(cache.size, 3);
    assert.equal(cache.has('B', 'pw', 'h'), false, 'B was the least recently used');
    for (const id of ['A', 'C', 'D']) assert.equal(cache.has(id, 'pw', 'h'), true, id);
    for (let i = 0; i < 1000; i++) cache.remember(`X${i}`, 'pw', 'h');
    assert.equal(cache.size, 3);
  });

  it('holds no password: its entries are keyed HMACs, different in another process-secret', () => {
    const a = new VerifiedCredentialsCache(10);
    const b = new VerifiedCredentialsCache(10);
    a.remember('CP-1', PASSWORD, 'h');
    assert.equal(b.has('CP-1', PASSWORD, 'h'), false, 'each cache has its own secret');
    const entries = [...(a as unknown as { entries: Set<string> }).entries];
    assert.equal(entries.length, 1);
    assert.match(entries[0], /^[A-Za-z0-9+/]{43}=$/);
    assert.ok(!entries[0].includes(PASSWORD));
  });

  it('maxEntries 0 remembers nothing', () => {
    const cache = new VerifiedCredentialsCache(0);
    cache.remember('CP-1', PASSWORD, 'h');
    assert.equal(cache.has('CP-1', PASSWORD, 'h'), false);
  });
});

describe('PasswordVerifier', () => {
  const record = async (identity: string, password: string): Promise<CredentialRecord> => ({
    identity,
    passwordHash: await hashPassword(password),
    updatedAt: new Date().toISOString(),
  });

  it('accepts the right password, remembers only successes, and refuses the old password after a rotation', async () => {
    const cache = new VerifiedCredentialsCache(10);
    const verifier = new PasswordVerifier({}, cache);
    const before = await record('CP-1', PASSWORD);
    assert.equal(await verifier.verify('CP-1', 'wrong password', before), false);
    assert.equal(cache.size, 0, 'a failure is not cached');
    assert.equal(await verifier.verify('CP-1', PASSWORD, before), true);
    assert.equal(cache.size, 1);
    assert.equal(cache.has('CP-1', PASSWORD, before.passwordHash as string), true);
    assert.equal(await verifier.verify('CP-1', PASSWORD, before), true, 'a cache hit');

    const rotated = await record('CP-1', 'the new password');
    assert.equal(await verifier.verify('CP-1', PASSWORD, rotated), false, 'the cached old password does not match the new hash');
    assert.equal(await verifier.verify('CP-1', 'the new password', rotated), true);
  });

  it('refuses an unknown identity, a certificate-only record, and a record of another identity', async () => {
    const verifier = new PasswordVerifier();
    assert.equal(await verifier.verify('CP-404', PASSWORD, undefined), false);
    assert.equal(await verifier.verify('CP-3', PASSWORD, { identity: 'CP-3', minProfile: 3, updatedAt: new Date().toISOString() }), false);
    assert.equal(await verifier.verify('CP-2', PASSWORD, await record('CP-1', PASSWORD)), false);
  });

  it('runs at most `concurrency` scrypt checks, lines up at most `queue` more and refuses the next as busy; cache hits skip the line', async () => {
    const verifier = new PasswordVerifier({ concurrency: 1, queue: 1 });
    const records = await Promise.all(['CP-A', 'CP-B', 'CP-C', 'CP-D'].map((id) => record(id, PASSWORD)));
    const first = verifier.verify('CP-A', PASSWORD, records[0]);
    const second = verifier.verify('CP-B', PASSWORD, records[1]);
    assert.deepEqual(verifier.load, { running: 1, waiting: 1 });
    await assert.rejects(verifier.verify('CP-C', PASSWORD, records[2]), VerifierBusyError);
    assert.deepEqual(await Promise.all([first, second]), [true, true]);
    assert.deepEqual(verifier.load, { running: 0, waiting: 0 });

    // CP-A is now in the cache: it is answered while the only slot and the line are taken.
    const busyA = verifier.verify('CP-C', PASSWORD, records[2]);
    const busyB = verifier.verify('CP-D', PASSWORD, records[3]);
    assert.equal(await verifier.verify('CP-A', PASSWORD, records[0]), true);
    assert.deepEqual(await Promise.all([busyA, busyB]), [true, true]);
  });
});
