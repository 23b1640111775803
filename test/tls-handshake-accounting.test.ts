/**
 * The handshake bound on the TLS listener: a wss charger counts as a handshake from TCP accept until its upgrade
 * completes, and not a moment longer. If completed TLS upgrades stayed counted, a process would stop taking TLS
 * chargers once `server.admission.maxHandshakes` of them had connected.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerTurns } from '../src/ocpp/answer-turns.js';
import { metricValue, waitUntil } from './helpers/gateway-harness.js';
import { type ObservedGateway, startObservedGateway } from './helpers/observed-gateway.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { TestCa } from './helpers/test-pki.js';

const MAX_HANDSHAKES = 3;

describe('handshakes in flight on the TLS listener', () => {
  let dir: string;
  let ca: TestCa;
  let h: ObservedGateway;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-tls-handshakes-'));
    ca = await TestCa.create();
    const server = await ca.server();
    await writeFile(join(dir, 'server.crt'), server.cert);
    await writeFile(join(dir, 'server.key'), server.key, { mode: 0o600 });
    h = await startObservedGateway({
      overrides: {
        tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), port: 0 },
        // With the default spare capacity on: it widens the bound on the plain port only, never on a TLS listener.
        server: { admission: { maxHandshakes: MAX_HANDSHAKES } },
      },
    });
  });
  after(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`with a bound of ${MAX_HANDSHAKES}, three times as many wss chargers connect one after another and all stay served`, async () => {
    const clients: OcppClient[] = [];
    try {
      for (let i = 0; i < MAX_HANDSHAKES * 3; i++) {
        const outcome = await OcppClient.tryConnect(h.tlsUrl as string, `CP-TLS-${i}`, ['ocpp1.6'], { ws: { ca: ca.cert } });
        assert.ok(outcome.ok, `charger ${i}: ${outcome.ok ? '' : (outcome.refusal?.status ?? outcome.error?.message)}`);
        clients.push(outcome.client);
        // Released when the upgrade completed, not when the charger leaves.
        await waitUntil(async () => (await metricValue(h.gateway, 'ocpp_handshakes_in_flight')) === 0, 2000, 'handshake released after the upgrade');
      }
      for (const client of clients) expectResult(await client.call('Heartbeat', {}));
      assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'too_many_handshakes_tls' }), 0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('the bound holds on the TLS port: with every slot taken by silent TCP connections a wss charger is dropped unread, then gets in', async () => {
    const port = Number(new URL(h.tlsUrl as string).port);
    const silent: Socket[] = [];
    try {
      for (let i = 0; i < MAX_HANDSHAKES; i++) {
        const socket = tcpConnect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        silent.push(socket);
      }
      await waitUntil(async () => (await metricValue(h.gateway, 'ocpp_handshakes_in_flight')) === MAX_HANDSHAKES, 2000, 'the silent connections hold every slot');
      // Connections in their TLS handshake are newcomers too: the event loop's turns are shared for them.
      assert.equal(answerTurns.handshakesUnderWay, MAX_HANDSHAKES);
      const refused = await OcppClient.tryConnect(h.tlsUrl as string, 'CP-TLS-LATE', ['ocpp1.6'], { ws: { ca: ca.cert } });
      assert.equal(refused.ok, false);
      assert.equal(refused.ok ? undefined : refused.refusal, undefined, 'no HTTP answer: the connection is closed before TLS');
      assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'too_many_handshakes_tls' }), 1);
      // Counted once: the reset admission caused is not also a failed TLS handshake.
      assert.equal(await metricValue(h.gateway, 'ocpp_tls_client_errors_total', { reason: 'reset' }), 0);
    } finally {
      for (const socket of silent) socket.destroy();
    }
    await waitUntil(async () => (await metricValue(h.gateway, 'ocpp_handshakes_in_flight')) === 0, 2000, 'the slots are free again');
    assert.equal(answerTurns.handshakesUnderWay, 0, 'and the answer turns know that nobody is waiting to get in');
    const late = await OcppClient.connect(h.tlsUrl as string, 'CP-TLS-LATE', ['ocpp1.6'], { ws: { ca: ca.cert } });
    expectResult(await late.call('Heartbeat', {}));
    await late.close();
  });
});
