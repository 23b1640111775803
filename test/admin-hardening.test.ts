/**
 * The admin API off loopback: start-up refuses it without a token (the real process, its exit code and its one
 * stderr line); the token read from ADMIN_TOKEN_FILE rotates while the process runs (file change, SIGHUP), with
 * the previous token accepted for the configured overlap; and HTTPS with a certificate made in the test, reloaded
 * without a restart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { type GatewayHarness, runServerProcessToExit, type ServerProcess, startGateway, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { TestCa } from './helpers/test-pki.js';

const newToken = () => randomBytes(24).toString('hex');

/** The status of GET /api/v1/charge-points with `token` (none: no header). */
function listStatus(port: number, token: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/api/v1/charge-points', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('ADMIN_HOST beyond loopback', () => {
  it('without a token: the real process exits 2 with one line on stderr naming ADMIN_TOKEN and ADMIN_TOKEN_FILE', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { ADMIN_HOST: '0.0.0.0' } });
    assert.equal(code, 2);
    const lines = stderr.split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${stderr}`);
    assert.match(lines[0], /^gateway: invalid configuration at admin\.token \(ADMIN_TOKEN\): the admin API would listen on 0\.0\.0\.0, beyond loopback, without a token/);
    assert.match(lines[0], /ADMIN_TOKEN_FILE/);
  });

  it('with a token file that cannot be read: exit 2, one line naming ADMIN_TOKEN_FILE and not the content', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { ADMIN_HOST: '0.0.0.0', ADMIN_TOKEN_FILE: join(tmpdir(), `missing-${newToken()}`) } });
    assert.equal(code, 2);
    const lines = stderr.split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${stderr}`);
    assert.match(lines[0], /^gateway: invalid configuration at admin\.tokenFile \(ADMIN_TOKEN_FILE\): cannot read .* \(ENOENT\)$/);
  });

  it('loopback hosts need no token; any other host does', () => {
    const load = (ADMIN_HOST: string) => loadConfig({ configDir: tmpdir(), env: { ADMIN_HOST } });
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST']) assert.equal(load(host).admin.host, host);
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'admin.example.com', '128.0.0.1']) {
      assert.throws(
        () => load(host),
        (err: unknown) => err instanceof ConfigError && /admin\.token \(ADMIN_TOKEN\)/.test(err.message),
        host,
      );
    }
    assert.equal(loadConfig({ configDir: tmpdir(), env: { ADMIN_HOST: '0.0.0.0', ADMIN_TOKEN: newToken() } }).admin.host, '0.0.0.0');
  });
});

describe('token rotation from ADMIN_TOKEN_FILE (real process)', () => {
  let dir: string;
  let file: string;
  let server: ServerProcess;
  let adminPort: number;
  const tokens = [newToken(), newToken(), newToken()];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-admin-token-'));
    file = join(dir, 'admin-token');
    await writeFile(file, `${tokens[0]}\n`);
    server = await startServerProcess({ env: { ADMIN_TOKEN_FILE: file, ADMIN_TOKEN_OVERLAP_MS: '0' } });
    adminPort = server.adminPort;
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the token in the file is required', async () => {
    assert.equal(await listStatus(adminPort, tokens[0]), 200);
    assert.equal(await listStatus(adminPort, undefined), 401);
    assert.equal(await listStatus(adminPort, tokens[1]), 401);
  });

  it('a new token written to the file is taken up while running; the old one is refused (no overlap configured)', async () => {
    await writeFile(file, `${tokens[1]}\n`);
    await waitUntil(async () => (await listStatus(adminPort, tokens[1])) === 200, 10_000, 'the new token to be accepted');
    assert.equal(await listStatus(adminPort, tokens[0]), 401);
  });

  it('SIGHUP re-reads the file, and the process carries on', async () => {
    await writeFile(file, `${tokens[2]}\n`);
    server.child.kill('SIGHUP');
    await waitUntil(async () => (await listStatus(adminPort, tokens[2])) === 200, 10_000, 'the token to be accepted after SIGHUP');
    assert.equal(await listStatus(adminPort, tokens[1]), 401);
    assert.equal(server.child.exitCode, null, 'SIGHUP does not end the process');
    assert.ok(server.stdout.some((line) => line.includes('SIGHUP: reloading secrets')));
  });

  it('an unusable file keeps the token in force; no token ever reaches the log', async () => {
    await writeFile(file, 'short\n');
    server.child.kill('SIGHUP');
    await waitUntil(() => server.stdout.some((line) => line.includes('admin token file not usable')), 10_000, 'the unusable file to be logged');
    assert.equal(await listStatus(adminPort, tokens[2]), 200);
    const log = server.stdout.join('\n') + server.stderr.join('\n');
    for (const token of tokens) assert.equal(log.includes(token), false, 'a token was logged');
  });
});

describe('overlap after a rotation (in-process)', () => {
  let h: GatewayHarness;
  let dir: string;
  let admin: AdminServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-admin-overlap-'));
    h = await startGateway({ overrides: { admin: { tokenOverlapMs: 1500 } } });
  });
  after(async () => {
    await admin?.close();
    await h.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the previous token is accepted beside the new one until the overlap ends, then refused', async () => {
    const [oldToken, token] = [newToken(), newToken()];
    const file = join(dir, 'token');
    await writeFile(file, oldToken);
    admin = await startAdminServer(h.gateway, { port: 0, tokenFile: file });
    assert.equal(await listStatus(admin.port, oldToken), 200);
    await writeFile(file, token);
    await admin.reload();
    assert.equal(await listStatus(admin.port, token), 200);
    assert.equal(await listStatus(admin.port, oldToken), 200, 'the old token during the overlap');
    await waitUntil(async () => (await listStatus(admin.port, oldToken)) === 401, 10_000, 'the old token to be refused after the overlap');
    assert.equal(await listStatus(admin.port, token), 200);
  });
});

describe('the admin API over HTTPS', () => {
  let h: GatewayHarness;
  let dir: string;
  let ca: TestCa;
  let admin: AdminServer;
  let certFile: string;
  let keyFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-admin-tls-'));
    ca = await TestCa.create();
    const issued = await ca.server();
    certFile = join(dir, 'admin.crt');
    keyFile = join(dir, 'admin.key');
    await writeFile(certFile, issued.cert);
    await writeFile(keyFile, issued.key);
    h = await startGateway();
    admin = await startAdminServer(h.gateway, { port: 0, tls: { certFile, keyFile } });
  });
  after(async () => {
    await admin?.close();
    await h.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const healthz = (): Promise<{ status: number; serial: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: admin.port, path: '/healthz', ca: ca.cert, agent: false }, (res) => {
        const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber.toLowerCase();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves HTTPS with the configured certificate, verified against the test CA', async () => {
    assert.equal(admin.https, true);
    assert.equal((await healthz()).status, 200);
  });

  it('refuses plain HTTP and TLS below 1.2', async () => {
    await assert.rejects(listStatus(admin.port, undefined));
    const outcome = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: admin.port, ca: ca.cert, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', () => resolve('refused'));
    });
    assert.equal(outcome, 'refused');
  });

  it('a new certificate is served after reload (what SIGHUP does), without a restart', async () => {
    const before = await healthz();
    const next = await ca.server();
    assert.notEqual(next.serialNumber, before.serial);
    await writeFile(certFile, next.cert);
    await writeFile(keyFile, next.key);
    await admin.reload();
    const afterReload = await healthz();
    assert.equal(afterReload.status, 200);
    assert.equal(afterReload.serial, next.serialNumber);
  });
});
