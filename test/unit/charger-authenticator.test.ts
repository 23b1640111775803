/**
 * When the authenticator answers at once and when it has to wait: without a credential store in use, and with no
 * password to verify (no credentials, or a client certificate), an upgrade is decided with no promise, so a
 * reconnect storm pays no async frame per charger; reading the store or verifying a password still waits. The
 * verdicts themselves are the ones the security tests check through real upgrades (security-profiles,
 * security-admission); here, which of the two shapes they come in, against a real credential file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type AuthenticationVerdict, ChargerAuthenticator, type ConnectionFacts } from '../../src/security/charger-authenticator.js';
import type { SecurityProfile } from '../../src/security/credential-store.js';
import { FileCredentialStore } from '../../src/security/file-credential-store.js';

const THROTTLE = { maxFailures: 5, windowMs: 60_000, blockMs: 1_000, maxBlockMs: 60_000, maxTracked: 100 };

function plain(identity: string, authorization?: string): ConnectionFacts {
  return { identity, remoteAddress: '127.0.0.1', secure: false, authorization, certificate: undefined };
}

describe('charger authenticator: a verdict at once when nothing has to be waited for', () => {
  let dir: string;
  let store: FileCredentialStore;
  let verifications: number;
  const make = (defaultProfile: SecurityProfile = 0) =>
    new ChargerAuthenticator({
      store,
      verifyPassword: async () => {
        verifications++;
        return false;
      },
      allowUnknown: undefined,
      defaultProfile,
      perIdentity: THROTTLE,
      perAddress: THROTTLE,
      onStoreError: (err) => assert.fail(`the store could not be read: ${String(err)}`),
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-auth-'));
    // recheckMs 0: the file is looked at on every read, so a record put by the test is seen by the next one.
    store = new FileCredentialStore({ file: join(dir, 'credentials.json'), recheckMs: 0 });
    verifications = 0;
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for the first look at the store, then answers without a promise while there is no store', async () => {
    const auth = make();
    const first = auth.authenticate(plain('CP-1'));
    assert.ok(first instanceof Promise, 'the store has not been looked at yet');
    assert.deepEqual(await first, { ok: true, profile: 0, protocol: undefined });
    const second = auth.authenticate(plain('CP-2'));
    assert.ok(!(second instanceof Promise), 'no store: nothing to wait for');
    assert.deepEqual(second, { ok: true, profile: 0, protocol: undefined });
  });

  it('refuses at once what needs no store to refuse: a default profile the connection does not meet', async () => {
    const auth = make(1);
    await auth.authenticate(plain('CP-1'));
    const verdict = auth.authenticate(plain('CP-2')) as AuthenticationVerdict;
    assert.ok(!(verdict instanceof Promise));
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.outcome, 'auth_missing');
    assert.equal(!verdict.ok && verdict.status, 401);
  });

  it('answers a client certificate at once, and still waits to verify a password', async () => {
    const auth = make();
    await auth.authenticate(plain('CP-1'));
    const certified = auth.authenticate({ ...plain('CP-3'), secure: true, certificate: { trusted: true, commonName: 'CP-3' } });
    assert.ok(!(certified instanceof Promise));
    assert.deepEqual(certified, { ok: true, profile: 3, protocol: undefined });

    const withPassword = auth.authenticate(plain('CP-4', `Basic ${Buffer.from('CP-4:secret-password').toString('base64')}`));
    assert.ok(withPassword instanceof Promise, 'a password is verified (here against nothing: the same scrypt run), which takes a promise');
    assert.deepEqual(await withPassword, { ok: true, profile: 0, protocol: undefined });
    assert.equal(verifications, 1);
  });

  it('reads the store through a promise once one exists', async () => {
    const auth = make();
    await auth.authenticate(plain('CP-1'));
    await store.put({ identity: 'CP-5', minProfile: 0, protocol: 'ocpp1.6', updatedAt: new Date().toISOString() });
    // The absence seen a moment ago is still trusted for up to two seconds; a fresh authenticator looks again.
    const fresh = make();
    const known = fresh.authenticate(plain('CP-5'));
    assert.ok(known instanceof Promise);
    assert.deepEqual(await known, { ok: true, profile: 0, protocol: 'ocpp1.6' });
    const unknown = fresh.authenticate(plain('CP-6'));
    assert.ok(unknown instanceof Promise, 'with a store in use every identity is looked up');
    const verdict = await unknown;
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.outcome, 'unknown_identity');
  });
});
