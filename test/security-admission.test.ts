/**
 * Admission rules around the profiles: the per-address throttle (a second loopback address, 127.0.0.2, is the
 * other source), unknown chargers and the default profile, and the real server process with its plain port
 * switched off, reloading its certificate on SIGHUP.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { FileCredentialStore } from '../src/security/file-credential-store.js';
import { hashPassword } from '../src/security/password-hash.js';
import { PasswordVerifier } from '../src/security/password-verifier.js';
import { freePort, metricValue, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { listeningPorts } from './helpers/listening-ports.js';
import { type ObservedGateway, startObservedGateway } from './helpers/observed-gateway.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { basicAuthorization, OcppClient } from './helpers/ocpp-client.js';
import { TestCa } from './helpers/test-pki.js';

const basic = basicAuthorization;

describe('per-address throttle, unknown chargers and the default profile', () => {
  let dir: string;
  let h: ObservedGateway;
  const password = `pw-${randomBytes(9).toString('base64url')}`;

  const tryFrom = (localAddress: string, identity: string, authorization?: string) =>
    OcppClient.tryConnect(h.chargerUrl, identity, ['ocpp1.6'], { ws: { localAddress, headers: authorization === undefined ? {} : { Authorization: authorization } } });

  async function assertServes(localAddress: string, identity = 'CP-KNOWN'): Promise<void> {
    const outcome = await tryFrom(localAddress, identity, basic(identity, password));
    assert.ok(outcome.ok, `CP-KNOWN from ${localAddress}: ${outcome.ok ? '' : (outcome.refusal?.status ?? outcome.error?.message)}`);
    expectResult(await outcome.client.call('Heartbeat', {}));
    await outcome.client.close();
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-admission-'));
    const store = new FileCredentialStore({ file: join(dir, 'credentials.json'), recheckMs: 0 });
    await store.put({ identity: 'CP-KNOWN', passwordHash: await hashPassword(password), updatedAt: new Date().toISOString() });
    const verifier = new PasswordVerifier();
    h = await startObservedGateway({
      credentials: { store, verifyPassword: verifier.verify.bind(verifier) },
      overrides: {
        security: {
          allowUnknownChargers: true,
          defaultProfile: 1,
          identityFailures: { maxFailures: 100 },
          addressFailures: { maxFailures: 3, blockMs: 60_000 },
        },
      },
    });
  });
  after(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the default profile applies to unknown chargers: with DEFAULT_SECURITY_PROFILE=1 one without credentials gets 401', async () => {
    const outcome = await tryFrom('127.0.0.1', 'CP-UNKNOWN');
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.refusal?.status, 401);
    assert.equal(!outcome.ok && outcome.refusal?.headers['www-authenticate'], 'Basic realm="OCPP", charset="UTF-8"');
    await assertServes('127.0.0.1');
  });

  it('failed authentications from one address block it (429) even for right credentials; other addresses go on', async () => {
    const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'throttled_address' });
    for (let i = 0; i < 3; i++) {
      const outcome = await tryFrom('127.0.0.2', 'CP-KNOWN', basic('CP-KNOWN', `guess-${i}`));
      assert.equal(!outcome.ok && outcome.refusal?.status, 401);
    }
    const blocked = await tryFrom('127.0.0.2', 'CP-KNOWN', basic('CP-KNOWN', password));
    assert.equal(blocked.ok, false);
    assert.equal(!blocked.ok && blocked.refusal?.status, 429);
    assert.match(String(!blocked.ok && blocked.refusal?.headers['retry-after']), /^[1-9][0-9]*$/);
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'throttled_address' }), before + 1);
    // The identity itself is not locked (its own limit is high here): from another address it connects.
    await assertServes('127.0.0.1');
    // That success cleared the identity's count; the address stays blocked (and tracked).
    assert.deepEqual(h.gateway.authenticator.trackedFailures, { identities: 0, addresses: 1 });
    const still = await tryFrom('127.0.0.2', 'CP-KNOWN', basic('CP-KNOWN', password));
    assert.equal(!still.ok && still.refusal?.status, 429);
  });
});

describe('password checks beyond the scrypt slots (a cold reconnect storm)', () => {
  let dir: string;
  let h: ObservedGateway;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const identities = Array.from({ length: 20 }, (_, i) => `CP-STORM-${i}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-verify-busy-'));
    const store = new FileCredentialStore({ file: join(dir, 'credentials.json'), recheckMs: 0 });
    const passwordHash = await hashPassword(password);
    for (const identity of identities) await store.put({ identity, passwordHash, updatedAt: new Date().toISOString() });
    // One check at a time and no line: every request that arrives while a check runs is busy.
    const verifier = new PasswordVerifier({ concurrency: 1, queue: 0 });
    h = await startObservedGateway({ credentials: { store, verifyPassword: verifier.verify.bind(verifier) } });
  });
  after(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('are answered 503 auth_busy with a jittered Retry-After of 5..10 s, count nothing against the charger, and the charger gets in on retry', async () => {
    const outcomes = await Promise.all(
      identities.map((id) => OcppClient.tryConnect(h.chargerUrl, id, ['ocpp1.6'], { ws: { headers: { Authorization: basic(id, password) } } })),
    );
    const refused = outcomes.flatMap((o, i) => (o.ok ? [] : [{ identity: identities[i], refusal: o.refusal, error: o.error }]));
    for (const r of refused) {
      assert.equal(r.refusal?.status, 503, `${r.identity}: ${r.refusal?.status ?? r.error?.message}`);
      assert.match(r.refusal?.body ?? '', /checking many passwords at once/);
      const retryAfter = Number(r.refusal?.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 5 && retryAfter <= 10, `Retry-After ${r.refusal?.headers['retry-after']}`);
    }
    assert.ok(refused.length > 0, 'twenty simultaneous cold checks with one slot and no line: some are busy');
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'auth_busy' }), refused.length);
    assert.deepEqual(h.gateway.authenticator.trackedFailures, { identities: 0, addresses: 0 }, 'busy is not a failed authentication');
    for (const o of outcomes) if (o.ok) await o.client.close();
    // One at a time, as their spread Retry-After would bring them back: every one is admitted.
    for (const { identity } of refused) {
      const again = await OcppClient.tryConnect(h.chargerUrl, identity, ['ocpp1.6'], { ws: { headers: { Authorization: basic(identity, password) } } });
      assert.ok(again.ok, `${identity} on retry: ${again.ok ? '' : (again.refusal?.status ?? again.error?.message)}`);
      expectResult(await again.client.call('Heartbeat', {}));
      await again.client.close();
    }
  });
});

describe('the server process with only the TLS listener', () => {
  let dir: string;
  let ca: TestCa;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-tls-proc-'));
    ca = await TestCa.create();
    const server = await ca.server();
    await writeFile(join(dir, 'server.crt'), server.cert);
    await writeFile(join(dir, 'server.key'), server.key, { mode: 0o600 });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('SERVER_PLAIN_ENABLED=false: wss only (unknown chargers allowed while the store is empty); SIGHUP reloads the certificate', async () => {
    const plainPort = await freePort();
    const proc = await startServerProcess({
      env: {
        SERVER_PORT: String(plainPort),
        SERVER_PLAIN_ENABLED: 'false',
        TLS_CERT_FILE: join(dir, 'server.crt'),
        TLS_KEY_FILE: join(dir, 'server.key'),
        // The kernel picks it when the process binds, and the process reports it: nothing can take it first.
        TLS_PORT: '0',
        CREDENTIALS_FILE: join(dir, 'credentials.json'),
      },
    });
    try {
      const tlsPort = proc.tlsPort as number;
      assert.equal(typeof tlsPort, 'number');
      const client = await OcppClient.connect(`wss://127.0.0.1:${tlsPort}/ocpp`, 'CP-TLS-ONLY', ['ocpp1.6'], { ws: { ca: ca.cert } });
      expectResult(await client.call('Heartbeat', {}));
      // What the process listens on, from the kernel: a connect to the plain port could reach another test's server
      // that picked the same free port since.
      const ports = listeningPorts(proc.child.pid as number);
      assert.ok(ports.has(tlsPort), `listens on the TLS port ${tlsPort}: ${[...ports].join(', ')}`);
      assert.ok(!ports.has(plainPort), `nothing listens on the plain port ${plainPort}: ${[...ports].join(', ')}`);

      const renewed = await ca.server();
      await writeFile(join(dir, 'server.crt'), renewed.cert);
      await writeFile(join(dir, 'server.key'), renewed.key);
      proc.child.kill('SIGHUP');
      await waitUntil(() => proc.stdout.some((l) => l.includes('TLS certificate, key and CA reloaded')), 10_000, 'the reload line');
      const served = await new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, ca: ca.cert }, () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.destroy();
        });
        socket.on('error', reject);
      });
      assert.equal(served, renewed.fingerprint256);
      expectResult(await client.call('Heartbeat', {}));
      await client.close();
      assert.equal(proc.child.exitCode, null, 'SIGHUP did not end the process');
      assert.doesNotMatch(proc.stdout.join('\n'), /PRIVATE KEY/);
    } finally {
      assert.equal(await proc.stop(), 0);
    }
  });
});
