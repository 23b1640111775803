/**
 * WORKERS=2 with the TLS listener: both workers take wss chargers on the one TLS port, and SIGHUP to the primary
 * reloads the certificate in every worker. Cluster mode against a private nats-server and redis-server, as in
 * workers.test.ts (skipped with the reason without their binaries; failing with CI=true).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Redis } from 'ioredis';
import { freePort, type ServerProcess, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { natsServerBinarySkipReason, OwnNatsServer } from './helpers/nats-server.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';
import { TestCa } from './helpers/test-pki.js';

const skip = (await natsServerBinarySkipReason()) || (await ownRedisSkipReason());

function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('WORKERS=2 with TLS: one TLS port for both workers, SIGHUP reloads every worker', { skip }, () => {
  let nats: OwnNatsServer;
  let redisServer: OwnRedis;
  let redis: Redis;
  let proc: ServerProcess;
  let dir: string;
  let ca: TestCa;
  const clients: OcppClient[] = [];

  before(async () => {
    nats = await OwnNatsServer.start();
    redisServer = await OwnRedis.start();
    redis = redisServer.client();
    dir = await mkdtemp(join(tmpdir(), 'gw-tls-workers-'));
    ca = await TestCa.create();
    const server = await ca.server();
    await writeFile(join(dir, 'server.crt'), server.cert);
    await writeFile(join(dir, 'server.key'), server.key, { mode: 0o600 });
    proc = await startServerProcess({
      // Picked again on each attempt: another socket may take a port found free before the workers bind it.
      env: async () => ({
        NATS_URL: nats.url,
        REDIS_URL: `redis://127.0.0.1:${redisServer.port}`,
        WORKERS: '2',
        POD_ID: 'tlsw',
        TLS_CERT_FILE: join(dir, 'server.crt'),
        TLS_KEY_FILE: join(dir, 'server.key'),
        TLS_PORT: String(await freePort()),
      }),
      timeoutMs: 30_000,
    });
    await waitUntil(() => proc.stdout.some((l) => l.includes('all workers accepting chargers')), 30_000, 'both workers up');
  });

  after(async () => {
    for (const client of clients) client.terminate();
    await proc?.stop();
    redis?.disconnect();
    await redisServer?.stop();
    await nats?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('wss chargers land on both workers; after a renewal (file watch, then SIGHUP) both serve the new certificate, open sessions go on', async () => {
    const tlsPort = proc.tlsPort as number;
    const identities = ['TW-1', 'TW-2', 'TW-3', 'TW-4', 'TW-5', 'TW-6'];
    for (const identity of identities) {
      const client = await OcppClient.connect(`wss://127.0.0.1:${tlsPort}/ocpp`, identity, ['ocpp1.6'], { ws: { ca: ca.cert } });
      clients.push(client);
      await waitUntil(async () => (await redis.hget(`conn:{${identity}}`, 'instance')) !== null, 10_000, `${identity} claimed`);
    }
    const holders = new Set<string>();
    for (const identity of identities) holders.add((await redis.hget(`conn:{${identity}}`, 'instance')) as string);
    assert.deepEqual([...holders].sort(), ['tlsw-w1', 'tlsw-w2']);

    const renewed = await ca.server();
    await writeFile(join(dir, 'server.key'), renewed.key);
    await writeFile(join(dir, 'server.crt'), renewed.cert);
    proc.child.kill('SIGHUP');
    await waitUntil(() => proc.stdout.filter((l) => l.includes('TLS certificate, key and CA reloaded')).length >= 2, 15_000, 'both workers to reload');
    // New connections are spread over the workers: every one of several sees the renewed certificate.
    for (let i = 0; i < 6; i++) assert.equal(await servedFingerprint(tlsPort, ca.cert), renewed.fingerprint256, `connection ${i}`);
    for (const client of clients) expectResult(await client.call('Heartbeat', {}));
    assert.equal(proc.child.exitCode, null, 'SIGHUP did not end the primary');
  });
});
