/**
 * OCPP security profiles end to end: real chargers (ws clients, over TLS where the profile needs it) against a real
 * gateway whose credentials are in a real credential file, with certificates made in the test. Every refusal is
 * checked for its HTTP status, header and counted outcome, and every test shows the gateway still serves another
 * charger afterwards. No secret may show up in the gateway's log.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { ClientOptions } from 'ws';
import { FileCredentialStore } from '../src/security/file-credential-store.js';
import { hashPassword } from '../src/security/password-hash.js';
import { PasswordVerifier } from '../src/security/password-verifier.js';
import { metricValue, waitUntil } from './helpers/gateway-harness.js';
import { getJson, type ObservedGateway, startObservedGateway } from './helpers/observed-gateway.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { basicAuthorization, type ConnectOutcome, OcppClient } from './helpers/ocpp-client.js';
import { type IssuedCertificate, TestCa } from './helpers/test-pki.js';

const secret = () => `pw-${randomBytes(9).toString('base64url')}`;
const basic = basicAuthorization;

interface Charger {
  identity: string;
  password?: string;
}

/** Everything a suite needs on disk: the gateway's certificate and key, the CA file and the credential file. */
interface Pki {
  dir: string;
  ca: TestCa;
  otherCa: TestCa;
  server: IssuedCertificate;
  certFile: string;
  keyFile: string;
  caFile: string;
  credentialsFile: string;
}

async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-pki-'));
  const ca = await TestCa.create('Gateway test CA');
  const otherCa = await TestCa.create('Some other CA');
  const server = await ca.server();
  const pki = {
    dir,
    ca,
    otherCa,
    server,
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    caFile: join(dir, 'ca.crt'),
    credentialsFile: join(dir, 'credentials.json'),
  };
  await writeFile(pki.certFile, server.cert);
  await writeFile(pki.keyFile, server.key, { mode: 0o600 });
  await writeFile(pki.caFile, ca.cert);
  return pki;
}

function credentialsOf(file: string) {
  const store = new FileCredentialStore({ file, recheckMs: 0 });
  const verifier = new PasswordVerifier();
  return { store, verifyPassword: verifier.verify.bind(verifier) };
}

async function addCharger(store: FileCredentialStore, identity: string, fields: { password?: string; minProfile?: 1 | 2 | 3; protocol?: 'ocpp1.6' | 'ocpp2.0.1' }) {
  await store.put({
    identity,
    passwordHash: fields.password === undefined ? undefined : await hashPassword(fields.password),
    minProfile: fields.minProfile,
    protocol: fields.protocol,
    updatedAt: new Date().toISOString(),
  });
}

interface Attempt {
  url: string;
  identity: string;
  authorization?: string;
  client?: IssuedCertificate;
  protocols?: string[];
  localAddress?: string;
}

/** Every Authorization value sent, to look for in the log afterwards. */
const sentAuthorizations = new Set<string>();

function attempt(pki: Pki, a: Attempt): Promise<ConnectOutcome> {
  const ws: ClientOptions = { ca: pki.ca.cert, localAddress: a.localAddress };
  if (a.authorization !== undefined) {
    ws.headers = { Authorization: a.authorization };
    sentAuthorizations.add(a.authorization.slice('Basic '.length));
  }
  if (a.client !== undefined) Object.assign(ws, { cert: a.client.cert, key: a.client.key });
  return OcppClient.tryConnect(a.url, a.identity, a.protocols ?? ['ocpp1.6'], { ws });
}

async function connected(pki: Pki, a: Attempt): Promise<OcppClient> {
  const outcome = await attempt(pki, a);
  if (!outcome.ok)
    assert.fail(`expected ${a.identity} to connect, got ${outcome.refusal ? `HTTP ${outcome.refusal.status} ${outcome.refusal.body}` : outcome.error?.message}`);
  return outcome.client;
}

/** The refusal's status, with the outcome counted exactly once more than before. */
async function assertRefused(h: ObservedGateway, pki: Pki, a: Attempt, status: number, outcome: string): Promise<ConnectOutcome & { ok: false }> {
  const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome });
  const sessionBefore = h.gateway.sessions.get(a.identity);
  const result = await attempt(pki, a);
  if (result.ok) {
    await result.client.close();
    assert.fail(`expected ${a.identity} to be refused with ${status} (${outcome})`);
  }
  assert.equal(result.refusal?.status, status, `refusal of ${a.identity}: ${result.refusal?.body ?? result.error?.message}`);
  assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome }), before + 1, `outcome ${outcome} counted once`);
  // A session of a test before may still be closing; a refusal never puts a new one in its place.
  const sessionAfter = h.gateway.sessions.get(a.identity);
  assert.ok(sessionAfter === undefined || sessionAfter === sessionBefore, 'a refusal neither opens nor replaces a session');
  return result;
}

/** The certificate the TLS listener serves to a new connection. */
function servedCertificate(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

describe('security profiles 1, 2 and 3, their refusals and throttling', () => {
  let pki: Pki;
  let h: ObservedGateway;
  let store: FileCredentialStore;
  const secrets: string[] = [];
  const other: Charger = { identity: 'CP-OTHER', password: secret() };
  const p1: Charger = { identity: 'CP-P1', password: secret() };
  const p2: Charger = { identity: 'CP-P2', password: secret() };
  const p3: Charger = { identity: 'CP-P3' };
  const pinned: Charger = { identity: 'CP-PIN16', password: secret() };
  const throttled: Charger = { identity: 'CP-THROTTLE', password: secret() };
  const rotated: Charger = { identity: 'CP-ROTATE', password: secret() };

  /** Another charger (profile 1 on the plain port) still connects and is answered. */
  async function assertServesAnother(): Promise<void> {
    const client = await connected(pki, { url: h.chargerUrl, identity: other.identity, authorization: basic(other.identity, other.password as string) });
    try {
      expectResult(await client.call('Heartbeat', {}));
    } finally {
      await client.close();
    }
  }

  /** Connects with the right password and leaves: a success clears the identity's failed attempts. */
  async function signIn(charger: Charger): Promise<void> {
    (await connected(pki, { url: h.chargerUrl, identity: charger.identity, authorization: basic(charger.identity, charger.password as string) })).terminate();
  }

  before(async () => {
    pki = await makePki();
    const credentials = credentialsOf(pki.credentialsFile);
    store = credentials.store;
    await addCharger(store, other.identity, { password: other.password });
    await addCharger(store, p1.identity, { password: p1.password });
    await addCharger(store, p2.identity, { password: p2.password, minProfile: 2 });
    await addCharger(store, p3.identity, { minProfile: 3 });
    await addCharger(store, pinned.identity, { password: pinned.password, protocol: 'ocpp1.6' });
    await addCharger(store, throttled.identity, { password: throttled.password });
    await addCharger(store, rotated.identity, { password: rotated.password });
    secrets.push(...[other, p1, p2, pinned, throttled, rotated].map((c) => c.password as string));
    h = await startObservedGateway({
      logLevel: 'debug',
      credentials,
      overrides: {
        tls: { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, port: 0, reloadDebounceMs: 50, reloadPollMs: 200 },
        security: {
          allowUnknownChargers: false,
          identityFailures: { maxFailures: 3, blockMs: 1500 },
          // Every test comes from 127.0.0.1: the address throttle has a suite of its own.
          addressFailures: { maxFailures: 1000 },
        },
      },
    });
  });
  after(async () => {
    await h?.stop();
    await rm(pki.dir, { recursive: true, force: true });
  });

  it('profile 1: Basic auth on the plain port; the profile is in the connected event and the admin detail', async () => {
    const client = await connected(pki, { url: h.chargerUrl, identity: p1.identity, authorization: basic(p1.identity, p1.password as string) });
    try {
      expectResult(await client.call('Heartbeat', {}));
      const event = h.eventsOf(p1.identity).findLast((e) => e.eventType === 'charge_point.connected');
      assert.equal(event?.payload.securityProfile, 1);
      const detail = await getJson(`${h.adminUrl}/api/v1/charge-points/${p1.identity}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.securityProfile, 1);
      const list = await getJson(`${h.adminUrl}/api/v1/charge-points`);
      assert.equal(JSON.stringify(list.body).includes('"securityProfile":1'), true);
    } finally {
      await client.close();
    }
    await assertServesAnother();
  });

  it('profile 1: a wrong password gets 401 with the Basic challenge', async () => {
    const refused = await assertRefused(h, pki, { url: h.chargerUrl, identity: p1.identity, authorization: basic(p1.identity, 'not-the-password') }, 401, 'auth_failed');
    assert.equal(refused.refusal?.headers['www-authenticate'], 'Basic realm="OCPP", charset="UTF-8"');
    await signIn(p1);
    await assertServesAnother();
  });

  it('profile 1: a user name other than the identity gets 401, even with that other charger’s right password', async () => {
    const refused = await assertRefused(
      h,
      pki,
      { url: h.chargerUrl, identity: p1.identity, authorization: basic(other.identity, other.password as string) },
      401,
      'username_mismatch',
    );
    assert.equal(refused.refusal?.headers['www-authenticate'], 'Basic realm="OCPP", charset="UTF-8"');
    // The identity behind a byte-order mark is another user name, not this charger's.
    await assertRefused(
      h,
      pki,
      { url: h.chargerUrl, identity: p1.identity, authorization: basic(`\uFEFF${p1.identity}`, p1.password as string) },
      401,
      'username_mismatch',
    );
    await signIn(p1);
    await assertServesAnother();
  });

  it('a charger with a password that sends none gets 401; a malformed header gets 401 too', async () => {
    const missing = await assertRefused(h, pki, { url: h.chargerUrl, identity: p1.identity }, 401, 'auth_missing');
    assert.equal(missing.refusal?.headers['www-authenticate'], 'Basic realm="OCPP", charset="UTF-8"');
    await assertRefused(h, pki, { url: h.chargerUrl, identity: p1.identity, authorization: 'Basic %%%not-base64' }, 401, 'auth_malformed');
    await assertRefused(h, pki, { url: h.chargerUrl, identity: p1.identity, authorization: `Basic ${'A'.repeat(4000)}` }, 401, 'auth_malformed');
    await signIn(p1);
    await assertServesAnother();
  });

  it('profile 2: TLS plus Basic auth; a charger pinned to profile 2 is refused 403 on the plain port', async () => {
    const url = h.tlsUrl as string;
    const client = await connected(pki, { url, identity: p2.identity, authorization: basic(p2.identity, p2.password as string) });
    try {
      expectResult(await client.call('Heartbeat', {}));
      assert.equal(h.gateway.sessions.get(p2.identity)?.securityProfile, 2);
      assert.equal(h.eventsOf(p2.identity).findLast((e) => e.eventType === 'charge_point.connected')?.payload.securityProfile, 2);
    } finally {
      await client.close();
    }
    const refused = await assertRefused(
      h,
      pki,
      { url: h.chargerUrl, identity: p2.identity, authorization: basic(p2.identity, p2.password as string) },
      403,
      'profile_too_low',
    );
    assert.match(refused.refusal?.body ?? '', /profile 2/);
    await assertServesAnother();
  });

  it('profile 3: a client certificate from the CA naming the identity connects without a password', async () => {
    const cert = await pki.ca.charger(p3.identity);
    const client = await connected(pki, { url: h.tlsUrl as string, identity: p3.identity, client: cert });
    try {
      expectResult(await client.call('Heartbeat', {}));
      assert.equal(h.gateway.sessions.get(p3.identity)?.securityProfile, 3);
      assert.equal(h.eventsOf(p3.identity).findLast((e) => e.eventType === 'charge_point.connected')?.payload.securityProfile, 3);
    } finally {
      await client.close();
    }
    // Without the certificate the same charger is below its pin.
    await assertRefused(h, pki, { url: h.tlsUrl as string, identity: p3.identity }, 403, 'profile_too_low');
    await assertServesAnother();
  });

  it('profile 3: another CA’s certificate, an expired one and one naming another charger are refused 403', async () => {
    const url = h.tlsUrl as string;
    await assertRefused(h, pki, { url, identity: p3.identity, client: await pki.otherCa.charger(p3.identity) }, 403, 'certificate_untrusted');
    await assertRefused(h, pki, { url, identity: p3.identity, client: await pki.ca.expiredCharger(p3.identity) }, 403, 'certificate_untrusted');
    await assertRefused(h, pki, { url, identity: p3.identity, client: await pki.ca.charger('CP-SOMEONE-ELSE') }, 403, 'certificate_mismatch');
    await assertServesAnother();
  });

  it('protocol pin: the pinned version is chosen among those offered; offering only another is refused 403', async () => {
    const authorization = basic(pinned.identity, pinned.password as string);
    const client = await connected(pki, { url: h.chargerUrl, identity: pinned.identity, authorization, protocols: ['ocpp2.0.1', 'ocpp1.6'] });
    try {
      assert.equal(client.protocol, 'ocpp1.6');
      assert.equal(h.gateway.sessions.get(pinned.identity)?.protocol, 'ocpp1.6');
    } finally {
      await client.close();
    }
    const refused = await assertRefused(h, pki, { url: h.chargerUrl, identity: pinned.identity, authorization, protocols: ['ocpp2.0.1'] }, 403, 'protocol_not_allowed');
    assert.match(refused.refusal?.body ?? '', /ocpp1\.6/);
    await assertServesAnother();
  });

  it('an identity not in the store is refused 404 when unknown chargers are not allowed', async () => {
    await assertRefused(h, pki, { url: h.chargerUrl, identity: 'CP-NOBODY' }, 404, 'unknown_identity');
    await assertRefused(h, pki, { url: h.chargerUrl, identity: 'CP-NOBODY', authorization: basic('CP-NOBODY', 'guess') }, 404, 'unknown_identity');
    await assertServesAnother();
  });

  it('throttle: after 3 wrong passwords even the right one gets 429 with Retry-After until the block passes', async () => {
    const url = h.chargerUrl;
    const wrong = basic(throttled.identity, 'wrong-guess');
    for (let i = 0; i < 3; i++) await assertRefused(h, pki, { url, identity: throttled.identity, authorization: wrong }, 401, 'auth_failed');
    const right = basic(throttled.identity, throttled.password as string);
    const blocked = await assertRefused(h, pki, { url, identity: throttled.identity, authorization: right }, 429, 'throttled_identity');
    assert.match(String(blocked.refusal?.headers['retry-after']), /^[1-9][0-9]*$/);
    // Another identity from the same address is not held by this identity's block.
    await assertServesAnother();
    await waitUntil(
      async () => {
        const outcome = await attempt(pki, { url, identity: throttled.identity, authorization: right });
        if (outcome.ok) await outcome.client.close();
        else assert.equal(outcome.refusal?.status, 429, 'only the throttle may refuse the right password');
        return outcome.ok;
      },
      10_000,
      'the identity block to pass',
    );
    // The success cleared the count: one wrong password now is a plain 401 again, not a block.
    await assertRefused(h, pki, { url, identity: throttled.identity, authorization: wrong }, 401, 'auth_failed');
  });

  it('rotation while connected: the open session goes on, the next connection needs the new password', async () => {
    const client = await connected(pki, { url: h.chargerUrl, identity: rotated.identity, authorization: basic(rotated.identity, rotated.password as string) });
    const newPassword = secret();
    secrets.push(newPassword);
    // Another store instance, as the CLI in another process would be.
    const cli = new FileCredentialStore({ file: pki.credentialsFile });
    await addCharger(cli, rotated.identity, { password: newPassword });
    try {
      expectResult(await client.call('Heartbeat', {}));
      await assertRefused(
        h,
        pki,
        { url: h.chargerUrl, identity: rotated.identity, authorization: basic(rotated.identity, rotated.password as string) },
        401,
        'auth_failed',
      );
      expectResult(await client.call('Heartbeat', {}));
      assert.equal(h.gateway.sessions.get(rotated.identity)?.state, 'open');
    } finally {
      await client.close();
    }
    const next = await connected(pki, { url: h.chargerUrl, identity: rotated.identity, authorization: basic(rotated.identity, newPassword) });
    await next.close();
    await assertServesAnother();
  });

  it('a TLS 1.1 client is refused in the handshake, and counted', async () => {
    const before = await metricValue(h.gateway, 'ocpp_tls_client_errors_total', { reason: 'protocol_version' });
    const error = await new Promise<Error>((resolve) => {
      // SECLEVEL=0 so that it is the gateway, not this client's own OpenSSL, that refuses TLS 1.1.
      const socket = tlsConnect(
        { host: '127.0.0.1', port: h.gateway.tlsPort, ca: pki.ca.cert, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
        () => {
          socket.destroy();
          resolve(new Error('the TLS 1.1 handshake succeeded'));
        },
      );
      socket.on('error', resolve);
    });
    assert.doesNotMatch(error.message, /succeeded/);
    await waitUntil(
      async () => (await metricValue(h.gateway, 'ocpp_tls_client_errors_total', { reason: 'protocol_version' })) === before + 1,
      3000,
      'the refused handshake to be counted',
    );
    await assertServesAnother();
  });

  it('TLS handshakes cut or garbled are counted and dropped, never thrown', async () => {
    const before = await metricValue(h.gateway, 'ocpp_tls_client_errors_total');
    const { connect: rawConnect } = await import('node:net');
    const send = (bytes: Buffer, cut: boolean) =>
      new Promise<void>((resolve) => {
        const socket = rawConnect({ host: '127.0.0.1', port: h.gateway.tlsPort }, () => {
          socket.write(bytes);
          if (cut) setTimeout(() => socket.destroy(), 50);
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      });
    // Plain HTTP on the TLS port, then the first bytes of a ClientHello and gone.
    await send(Buffer.from('GET /ocpp/CP-1 HTTP/1.1\r\nHost: x\r\n\r\n'), false);
    await send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), true);
    await waitUntil(async () => (await metricValue(h.gateway, 'ocpp_tls_client_errors_total')) >= before + 2, 3000, 'both handshakes to be counted');
    await assertServesAnother();
  });

  it('certificate reload while connected: the open TLS session goes on, new connections get the new certificate; a bad file keeps it', async () => {
    const url = h.tlsUrl as string;
    const client = await connected(pki, { url, identity: p2.identity, authorization: basic(p2.identity, p2.password as string) });
    try {
      const port = h.gateway.tlsPort;
      assert.equal(await servedCertificate(port, pki.ca.cert), pki.server.fingerprint256);
      const okBefore = await metricValue(h.gateway, 'ocpp_tls_reloads_total', { result: 'ok' });
      const renewed = await pki.ca.server();
      await writeFile(pki.keyFile, renewed.key);
      await writeFile(pki.certFile, renewed.cert);
      await waitUntil(async () => (await servedCertificate(port, pki.ca.cert)) === renewed.fingerprint256, 10_000, 'the renewed certificate to be served');
      assert.ok((await metricValue(h.gateway, 'ocpp_tls_reloads_total', { result: 'ok' })) > okBefore);
      // The open session kept its connection, and the certificate it was opened with.
      expectResult(await client.call('Heartbeat', {}));
      const socket = (client.ws as unknown as { _socket: import('node:tls').TLSSocket })._socket;
      assert.equal(socket.getPeerCertificate().fingerprint256, pki.server.fingerprint256);

      const failedBefore = await metricValue(h.gateway, 'ocpp_tls_reloads_total', { result: 'failed' });
      await writeFile(pki.certFile, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
      await waitUntil(async () => (await metricValue(h.gateway, 'ocpp_tls_reloads_total', { result: 'failed' })) > failedBefore, 10_000, 'the failed reload');
      assert.equal(await servedCertificate(port, pki.ca.cert), renewed.fingerprint256, 'the last good certificate is still served');
      const failures = h.logs.filter((l) => l.msg === 'TLS reload failed; the previous certificate stays in use');
      assert.ok(failures.length >= 1);
      assert.doesNotMatch(JSON.stringify(failures), /BEGIN|bm90IGEg/);
      expectResult(await client.call('Heartbeat', {}));
      // Put a good pair back, as an operator would; the next test connections use it.
      await writeFile(pki.certFile, renewed.cert);
      await waitUntil(async () => (await servedCertificate(port, pki.ca.cert)) === renewed.fingerprint256, 10_000, 'the good certificate again');
    } finally {
      await client.close();
    }
    await assertServesAnother();
    await connected(pki, { url, identity: p2.identity, authorization: basic(p2.identity, p2.password as string) }).then((c) => c.close());
  });

  it('no password, Authorization header or key reached the log', async () => {
    assert.ok(
      h.logs.some((l) => l.msg === 'upgrade refused'),
      'refusals were logged at debug, so the check below had lines to read',
    );
    const text = JSON.stringify(h.logs);
    for (const password of secrets) assert.equal(text.includes(password), false, 'a password is in the log');
    assert.ok(sentAuthorizations.size > 5);
    for (const encoded of sentAuthorizations) assert.equal(text.includes(encoded.slice(0, 16)), false, 'an Authorization header is in the log');
    assert.doesNotMatch(text, /PRIVATE KEY|scrypt\$/);
    assert.equal(text.includes(pki.server.key.split('\n')[1]), false, 'key material is in the log');
  });
});
