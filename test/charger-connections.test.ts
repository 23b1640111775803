/**
 * Connecting: subprotocol negotiation, identity rules, a second connection with the same identity, keepalive.
 * Real sockets against a real in-process gateway; refusals are read as raw HTTP where the ws client hides them.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type GatewayHarness, handWrittenUpgrade, metricValue, rawUpgrade, startGateway, waitUntil, within } from './helpers/gateway-harness.js';
import { assertAnswersValid, bootPayload, expectResult } from './helpers/ocpp-assert.js';
import { nextId, OcppClient } from './helpers/ocpp-client.js';

/** Message type 5 is answered differently per version: a cheap way to ask a connection which version it speaks. */
async function answeredAs(client: OcppClient): Promise<'ocpp1.6' | 'ocpp2.0.1'> {
  const id = nextId();
  client.sendRaw(JSON.stringify([5, id, 'Heartbeat', {}]));
  const frame = await client.nextFrame();
  assert.equal(frame[0], 4);
  assert.equal(frame[1], id);
  if (frame[2] === 'ProtocolError') return 'ocpp1.6';
  if (frame[2] === 'MessageTypeNotSupported') return 'ocpp2.0.1';
  throw new Error(`unexpected answer to message type 5: ${JSON.stringify(frame)}`);
}

describe('subprotocol negotiation', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  const cases: Array<{ offered: string[]; chosen: 'ocpp1.6' | 'ocpp2.0.1' }> = [
    { offered: ['ocpp2.0.1', 'ocpp1.6'], chosen: 'ocpp2.0.1' },
    { offered: ['ocpp1.6', 'ocpp2.0.1'], chosen: 'ocpp1.6' },
    { offered: ['ocpp1.5', 'ocpp2.0.1'], chosen: 'ocpp2.0.1' },
    { offered: ['ocpp2.1', 'ocpp1.6'], chosen: 'ocpp1.6' },
  ];
  for (const { offered, chosen } of cases) {
    it(`offered [${offered.join(', ')}] → ${chosen} (the charger's order decides)`, async () => {
      const identity = `SUB-${nextId()}`;
      const client = await OcppClient.connect(h.url, identity, offered);
      try {
        assert.equal(client.protocol, chosen);
        assert.equal(h.gateway.sessions.get(identity)?.protocol, chosen);
        assert.equal(await answeredAs(client), chosen);
        assert.equal(expectResult(await client.call('BootNotification', bootPayload(chosen))).status, 'Accepted');
        assertAnswersValid(chosen, client);
      } finally {
        await client.close();
      }
    });
  }

  it('the subprotocol echoed in the handshake is exactly one the charger offered (OCPP1.6 in capitals)', async () => {
    // RFC 6455 §4.1: a client fails the connection when the server names a subprotocol it did not send.
    const raw = await rawUpgrade(h.port, '/ocpp/CAPS-1', { 'Sec-WebSocket-Protocol': 'OCPP1.6' });
    assert.equal(raw.status, 101);
    const echoed = raw.headers['sec-websocket-protocol'];
    if (echoed !== undefined) assert.equal(echoed, 'OCPP1.6', 'the echoed value must be one the client offered, byte for byte');
    else assert.equal(raw.close?.code, 1002);
    // The ws client (like most) enforces that rule: it must not fail on the gateway's answer.
    const outcome = await OcppClient.tryConnect(h.url, 'CAPS-2', ['OCPP1.6']);
    if (outcome.ok) await outcome.client.close();
    assert.doesNotMatch(String(!outcome.ok && outcome.error?.message), /invalid subprotocol/);
  });

  it('only an unsupported version offered (ocpp1.5): 101 without a subprotocol, then close 1002, counted', async () => {
    const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' });
    const result = await rawUpgrade(h.port, '/ocpp/OLD-1', { 'Sec-WebSocket-Protocol': 'ocpp1.5' });
    assert.equal(result.status, 101);
    assert.equal(result.headers['sec-websocket-protocol'], undefined, 'no subprotocol in the handshake answer');
    assert.equal(result.firstOpcode, 0x8, 'the first frame is a close frame');
    assert.equal(result.close?.code, 1002);
    assert.match(result.close?.reason ?? '', /ocpp1\.5/);
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' }), before + 1);
    assert.equal(h.gateway.sessions.get('OLD-1'), undefined);
  });

  it('only an unsupported version offered, seen by the ws client: its handshake fails, and the server counts it', async () => {
    const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' });
    const outcome = await OcppClient.tryConnect(h.url, 'OLD-2', ['ocpp1.5']);
    assert.equal(outcome.ok, false);
    assert.match(String(!outcome.ok && outcome.error?.message), /Server sent no subprotocol/);
    await waitUntil(
      async () => (await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' })) === before + 1,
      3000,
      'the no_subprotocol attempt to be counted',
    );
    assert.equal(h.gateway.sessions.get('OLD-2'), undefined);
  });

  it('no Sec-WebSocket-Protocol header and no fallback configured: 101, then close 1002', async () => {
    const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' });
    const raw = await rawUpgrade(h.port, '/ocpp/BARE-1');
    assert.equal(raw.status, 101);
    assert.equal(raw.headers['sec-websocket-protocol'], undefined);
    assert.equal(raw.close?.code, 1002);

    const client = await OcppClient.connect(h.url, 'BARE-2', []);
    const closed = await client.closed;
    assert.equal(closed.code, 1002);
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' }), before + 2);
    assert.equal(h.gateway.sessions.get('BARE-2'), undefined);
  });

  it('a gateway that accepts only ocpp2.0.1 refuses a charger offering only ocpp1.6 (close 1002)', async () => {
    const only201 = await startGateway({ overrides: { ocpp: { protocols: ['ocpp2.0.1'] } } });
    try {
      const raw = await rawUpgrade(only201.port, '/ocpp/ONLY16', { 'Sec-WebSocket-Protocol': 'ocpp1.6' });
      assert.equal(raw.status, 101);
      assert.equal(raw.headers['sec-websocket-protocol'], undefined);
      assert.equal(raw.close?.code, 1002);
      const client = await OcppClient.connect(only201.url, 'BOTH', ['ocpp1.6', 'ocpp2.0.1']);
      assert.equal(client.protocol, 'ocpp2.0.1');
      await client.close();
    } finally {
      await only201.stop();
    }
  });

  for (const fallback of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    it(`no header at all with ocpp.fallbackProtocol ${fallback}: the connection stays and speaks ${fallback}`, async () => {
      const g = await startGateway({ overrides: { ocpp: { fallbackProtocol: fallback } } });
      try {
        const raw = await rawUpgrade(g.port, '/ocpp/FALLBACK-RAW');
        assert.equal(raw.status, 101);
        assert.equal(raw.headers['sec-websocket-protocol'], undefined, 'nothing was offered, so nothing is echoed');
        assert.equal(raw.firstOpcode, undefined, 'no close frame follows');

        const client = await OcppClient.connect(g.url, 'FALLBACK', []);
        try {
          assert.equal(client.protocol, '');
          assert.equal(g.gateway.sessions.get('FALLBACK')?.protocol, fallback);
          assert.equal(await answeredAs(client), fallback);
          assert.equal(expectResult(await client.call('BootNotification', bootPayload(fallback))).status, 'Accepted');
          assertAnswersValid(fallback, client);
        } finally {
          await client.close();
        }
        // The fallback is for chargers that offer nothing: an offered unsupported version is still refused.
        const offered = await rawUpgrade(g.port, '/ocpp/FALLBACK-15', { 'Sec-WebSocket-Protocol': 'ocpp1.5' });
        assert.equal(offered.close?.code, 1002);
      } finally {
        await g.stop();
      }
    });
  }
});

describe('identity rules', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  it('the identity is percent-decoded: CP%2D1 is CP-1', async () => {
    const client = await OcppClient.connect(h.url, 'CP%2D1', ['ocpp1.6']);
    try {
      assert.ok(h.gateway.sessions.get('CP-1'), 'registered as CP-1');
      assert.equal(h.gateway.sessions.get('CP%2D1'), undefined);
      expectResult(await client.call('Heartbeat', {}));
    } finally {
      await client.close();
    }
  });

  it('a query string is not part of the identity', async () => {
    const client = await OcppClient.connect(h.url, 'CP-Q?firmware=1.2', ['ocpp1.6']);
    try {
      assert.ok(h.gateway.sessions.get('CP-Q'));
      expectResult(await client.call('Heartbeat', {}));
    } finally {
      await client.close();
    }
  });

  it('48 characters are accepted', async () => {
    const identity = 'A'.repeat(48);
    const client = await OcppClient.connect(h.url, identity, ['ocpp2.0.1']);
    try {
      assert.ok(h.gateway.sessions.get(identity));
      expectResult(await client.call('Heartbeat', {}));
    } finally {
      await client.close();
    }
  });

  it('a refused identity is told by the ws client as an HTTP refusal with a reason (49 characters → 400)', async () => {
    const outcome = await OcppClient.tryConnect(h.url, 'A'.repeat(49), ['ocpp1.6']);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.refusal, 'an HTTP answer, not a WebSocket');
    assert.equal(outcome.refusal.status, 400);
    assert.match(outcome.refusal.body, /48/);
  });

  const refused: Array<{ name: string; path: string; status: number; body: RegExp; outcome: string }> = [
    { name: '49 characters', path: `/ocpp/${'B'.repeat(49)}`, status: 400, body: /longer than 48/, outcome: 'bad_identity' },
    { name: 'a ":"', path: '/ocpp/CP:1', status: 400, body: /":"/, outcome: 'bad_identity' },
    { name: 'a percent-encoded ":"', path: '/ocpp/CP%3A1', status: 400, body: /":"/, outcome: 'bad_identity' },
    { name: 'a space', path: '/ocpp/CP%201', status: 400, body: /space/, outcome: 'bad_identity' },
    { name: 'a control character', path: '/ocpp/CP%0A1', status: 400, body: /printable/, outcome: 'bad_identity' },
    { name: 'a non-ASCII letter', path: '/ocpp/CP%C3%A91', status: 400, body: /printable/, outcome: 'bad_identity' },
    { name: 'broken percent-encoding', path: '/ocpp/CP%E0%A4%A', status: 400, body: /percent/, outcome: 'bad_identity' },
    { name: 'an encoded "/"', path: '/ocpp/CP%2F1', status: 400, body: /"\/"/, outcome: 'bad_identity' },
    { name: 'an empty identity', path: '/ocpp/', status: 400, body: /identity/, outcome: 'bad_identity' },
    { name: 'an extra path segment', path: '/ocpp/CP1/extra', status: 400, body: /single path segment/, outcome: 'bad_identity' },
    { name: 'a wrong prefix', path: '/charger/CP1', status: 404, body: /\/ocpp\//, outcome: 'bad_path' },
    { name: 'the prefix without a slash', path: '/ocpp', status: 404, body: /\/ocpp\//, outcome: 'bad_path' },
    { name: 'a prefix that only starts the same', path: '/ocppx/CP1', status: 404, body: /\/ocpp\//, outcome: 'bad_path' },
  ];
  for (const r of refused) {
    it(`${r.name} (${r.path}) → HTTP ${r.status} with a reason, before any upgrade`, async () => {
      const before = await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: r.outcome });
      const result = await rawUpgrade(h.port, r.path, { 'Sec-WebSocket-Protocol': 'ocpp1.6' });
      assert.equal(result.status, r.status, `body: ${result.body}`);
      assert.equal(result.headers.upgrade, undefined, 'no upgrade happened');
      assert.match(result.body, r.body);
      assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: r.outcome }), before + 1);
    });
  }

  it('no session was created by any refused attempt', () => {
    for (const session of h.gateway.sessions.values()) assert.fail(`unexpected session ${session.identity}`);
    assert.equal(h.gateway.sessions.size, 0);
  });
});

describe('a second connection with the same identity', () => {
  it('an older connection whose handshake is read late does not replace the newer one', async () => {
    const g = await startGateway();
    // The charger's first TCP connection is accepted, but its upgrade request is read only after the charger
    // retried on a second connection (as when a loaded gateway is slow to read a handshake).
    const stale = tcpConnect(g.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => stale.once('connect', resolve).once('error', reject));
    let staleBytes = Buffer.alloc(0);
    stale.on('data', (chunk: Buffer) => (staleBytes = Buffer.concat([staleBytes, chunk])));
    const fresh = await OcppClient.connect(g.url, 'RETRIED', ['ocpp1.6']);
    try {
      expectResult(await fresh.call('Heartbeat', {}));
      stale.write(
        'GET /ocpp/RETRIED HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
      );
      // The gateway answers the handshake, then starts the closing handshake at once.
      await waitUntil(() => staleBytes.includes(Buffer.from([0x88])), 5000, 'a close frame on the stale connection');
      const text = staleBytes.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 101/);
      // The close frame: opcode 0x8, then the 2-byte code 4000.
      const at = staleBytes.indexOf(Buffer.from([0x88]));
      assert.ok(at > 0, 'a close frame follows the handshake');
      assert.equal(staleBytes.readUInt16BE(at + 2), 4000);
      assert.equal(fresh.isOpen, true);
      assert.equal(g.gateway.sessions.get('RETRIED')?.state, 'open');
      expectResult(await fresh.call('Heartbeat', {}));
    } finally {
      stale.destroy();
      fresh.terminate();
      await g.stop();
    }
  });

  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  for (const [firstVersion, secondVersion] of [
    ['ocpp1.6', 'ocpp1.6'],
    ['ocpp2.0.1', 'ocpp2.0.1'],
    ['ocpp1.6', 'ocpp2.0.1'],
  ] as const) {
    it(`replaces the first (${firstVersion} then ${secondVersion}): close 4000 with a reason; the new one keeps working`, async () => {
      const identity = `DUP-${nextId()}`;
      const first = await OcppClient.connect(h.url, identity, [firstVersion]);
      expectResult(await first.call('BootNotification', bootPayload(firstVersion)));
      const oldSession = h.gateway.sessions.get(identity);
      assert.ok(oldSession);

      const second = await OcppClient.connect(h.url, identity, [secondVersion]);
      try {
        const closed = await first.closed;
        assert.equal(closed.code, 4000);
        assert.match(closed.reason, /replaced/);
        // The old session's close has completed on the server side too.
        await waitUntil(() => oldSession.state === 'closed', 3000, 'the old session to close');

        const newSession = h.gateway.sessions.get(identity);
        assert.ok(newSession);
        assert.notEqual(newSession, oldSession);
        assert.equal(newSession.state, 'open');
        assert.equal(newSession.protocol, secondVersion);

        // The old close did not disturb the new session: it still answers, and is still the registered one.
        expectResult(await second.call('BootNotification', bootPayload(secondVersion)));
        expectResult(await second.call('Heartbeat', {}));
        assert.equal(h.gateway.sessions.get(identity), newSession);
        assert.ok(second.isOpen);
        assertAnswersValid(secondVersion, second);
      } finally {
        await second.close();
      }
      await waitUntil(() => h.gateway.sessions.get(identity) === undefined, 3000, 'the identity to be released');
    });
  }

  it('three quick connections in a row: only the last survives and is registered', async () => {
    const identity = `DUP3-${nextId()}`;
    const replacedBefore = await metricValue(h.gateway, 'ocpp_disconnects_total', { cause: 'replaced' });
    const a = await OcppClient.connect(h.url, identity, ['ocpp1.6']);
    const b = await OcppClient.connect(h.url, identity, ['ocpp1.6']);
    const c = await OcppClient.connect(h.url, identity, ['ocpp1.6']);
    try {
      assert.equal((await a.closed).code, 4000);
      assert.equal((await b.closed).code, 4000);
      expectResult(await c.call('Heartbeat', {}));
      assert.equal(h.gateway.sessions.get(identity)?.state, 'open');
      assert.equal(await metricValue(h.gateway, 'ocpp_disconnects_total', { cause: 'replaced' }), replacedBefore + 2);
    } finally {
      await c.close();
    }
  });

  it('a new connection that ends before it shows life leaves the open session alone (a handshake the charger gave up on)', async () => {
    // In a reconnect storm the kernel can hand the gateway a connection the charger already gave up on after the
    // charger's newer one: request and end of stream queued together. Here the request is answered first and the
    // end follows, as the gateway sees it when the charger's FIN is retransmitted late.
    const identity = `GAVEUP-${nextId()}`;
    const live = await OcppClient.connect(h.url, identity, ['ocpp1.6']);
    try {
      expectResult(await live.call('BootNotification', bootPayload('ocpp1.6')));
      const session = h.gateway.sessions.get(identity);
      assert.ok(session);
      const abandonedBefore = await metricValue(h.gateway, 'ocpp_takeover_waits_total', { outcome: 'abandoned' });
      const gaveUp = await handWrittenUpgrade(h.port, `/ocpp/${identity}`);
      await waitUntil(() => gaveUp.received().toString('latin1').includes('\r\n\r\n'), 5000, 'the answer to the upgrade');
      assert.match(gaveUp.received().toString('latin1'), /^HTTP\/1\.1 101/);
      // It was pinged at once, so that a live charger would show life without waiting for the grace.
      await waitUntil(() => gaveUp.received().includes(Buffer.from([0x89, 0x00])), 5000, 'a ping on the new connection');
      gaveUp.socket.end();
      await waitUntil(
        async () => (await metricValue(h.gateway, 'ocpp_takeover_waits_total', { outcome: 'abandoned' })) === abandonedBefore + 1,
        5000,
        'the new connection to end while it waited',
      );
      gaveUp.socket.destroy();
      assert.equal(live.isOpen, true);
      assert.equal(h.gateway.sessions.get(identity), session);
      assert.equal(session.state, 'open');
      expectResult(await live.call('Heartbeat', {}));
      assertAnswersValid('ocpp1.6', live);
    } finally {
      await live.close();
    }
  });

  it('a new connection that sends a frame takes over at once, without waiting for the grace', async () => {
    const g = await startGateway({ overrides: { server: { takeoverGraceMs: 60_000 } } });
    const identity = 'FRAME-FIRST';
    const first = await OcppClient.connect(g.url, identity, ['ocpp1.6']);
    // No pongs: only its frame can show that the new connection is the charger's.
    const second = await OcppClient.connect(g.url, identity, ['ocpp1.6'], { ws: { autoPong: false } });
    try {
      expectResult(await first.call('Heartbeat', {}));
      const firstSession = g.gateway.sessions.get(identity);
      assert.equal(expectResult(await second.call('BootNotification', bootPayload('ocpp1.6'))).status, 'Accepted');
      const closed = await within(first.closed, 5000, 'the first connection to be replaced');
      assert.equal(closed.code, 4000);
      assert.notEqual(g.gateway.sessions.get(identity), firstSession);
      assert.equal(await metricValue(g.gateway, 'ocpp_takeover_waits_total', { outcome: 'life' }), 1);
      assertAnswersValid('ocpp1.6', second);
    } finally {
      first.terminate();
      second.terminate();
      await g.stop();
    }
  });

  it('a silent new connection that answers no ping takes over after server.takeoverGraceMs', async () => {
    const g = await startGateway({ overrides: { server: { takeoverGraceMs: 1500 } } });
    const identity = 'SILENT-NEW';
    const first = await OcppClient.connect(g.url, identity, ['ocpp1.6']);
    const firstSession = g.gateway.sessions.get(identity);
    const second = await OcppClient.connect(g.url, identity, ['ocpp1.6'], { ws: { autoPong: false } });
    const openedAt = Date.now();
    try {
      // Within the grace the open session still holds the identity and answers.
      expectResult(await first.call('Heartbeat', {}));
      assert.equal(g.gateway.sessions.get(identity), firstSession);
      const closed = await within(first.closed, 10_000, 'the first connection to be replaced after the grace');
      assert.equal(closed.code, 4000);
      assert.ok(closed.at - openedAt >= 1400, `replaced ${closed.at - openedAt} ms after the new connection opened`);
      assert.equal(await metricValue(g.gateway, 'ocpp_takeover_waits_total', { outcome: 'grace' }), 1);
      expectResult(await second.call('Heartbeat', {}));
      assert.equal(g.gateway.sessions.get(identity)?.state, 'open');
      assert.notEqual(g.gateway.sessions.get(identity), firstSession);
    } finally {
      first.terminate();
      second.terminate();
      await g.stop();
    }
  });

  it('a gateway stopping closes a connection still waiting to take over with 1001', async () => {
    const g = await startGateway({ overrides: { server: { takeoverGraceMs: 60_000 } } });
    const first = await OcppClient.connect(g.url, 'WAITING-STOP', ['ocpp1.6']);
    const second = await OcppClient.connect(g.url, 'WAITING-STOP', ['ocpp1.6'], { ws: { autoPong: false } });
    await g.stop();
    assert.equal((await within(first.closed, 5000, 'the open session to close')).code, 1001);
    assert.equal((await within(second.closed, 5000, 'the waiting connection to close')).code, 1001);
  });

  it('after replacements, the connection gauge counts only open connections', async () => {
    await waitUntil(() => h.gateway.sessions.size === 0, 3000, 'all sessions to close');
    assert.equal(await metricValue(h.gateway, 'ocpp_connections'), 0);
  });
});

describe('keepalive', () => {
  const intervalMs = 300;
  const pongTimeoutMs = 300;
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { keepalive: { intervalMs, pongTimeoutMs } } });
  });
  after(async () => {
    await h.stop();
  });

  it('a charger that does not answer pings is terminated after interval + timeout and counted; one that answers survives', async () => {
    const mute = await OcppClient.connect(h.url, 'MUTE', ['ocpp1.6'], { ws: { autoPong: false } });
    const alive = await OcppClient.connect(h.url, 'ALIVE', ['ocpp1.6']);
    const startedAt = Date.now();
    try {
      const closed = await within(mute.closed, 5000, 'the mute charger being dropped');
      assert.equal(closed.code, 1006, 'terminated, without a closing handshake');
      assert.ok(closed.at - startedAt >= intervalMs, `dropped after ${closed.at - startedAt} ms, before the ping interval`);
      // One ping, then silence for the pong timeout: the sweep does not ping a connection that owes a pong.
      assert.equal(mute.pings, 1, 'it was pinged once first');
      await waitUntil(() => h.gateway.sessions.get('MUTE') === undefined, 3000, 'the mute session to end');
      assert.equal(await metricValue(h.gateway, 'ocpp_keepalive_terminations_total'), 1);
      assert.equal(await metricValue(h.gateway, 'ocpp_disconnects_total', { cause: 'keepalive' }), 1);

      // Several intervals later the charger that answers pings is still there and served.
      await new Promise((r) => setTimeout(r, intervalMs * 5));
      assert.ok(alive.isOpen);
      assert.ok(alive.pings >= 2, `pinged ${alive.pings} times`);
      expectResult(await alive.call('Heartbeat', {}));
      assert.equal(h.gateway.sessions.get('ALIVE')?.state, 'open');
      assert.equal(await metricValue(h.gateway, 'ocpp_keepalive_terminations_total'), 1);
    } finally {
      mute.terminate();
      await alive.close();
    }
  });

  it('a ping from the charger is answered with a pong carrying the same data', async () => {
    const client = await OcppClient.connect(h.url, 'PINGER', ['ocpp1.6']);
    try {
      const pong = new Promise<Buffer>((resolve) => client.ws.once('pong', (data: Buffer) => resolve(data)));
      client.ws.ping(Buffer.from('are-you-there'));
      assert.equal((await within(pong, 2000, 'the pong')).toString(), 'are-you-there');
      expectResult(await client.call('Heartbeat', {}));
    } finally {
      await client.close();
    }
  });

  it('any inbound frame counts as life: a charger that never answers pings but keeps sending CALLs stays', async () => {
    const busy = await OcppClient.connect(h.url, 'BUSY', ['ocpp2.0.1'], { ws: { autoPong: false } });
    try {
      const end = Date.now() + intervalMs * 5;
      while (Date.now() < end) {
        expectResult(await busy.call('Heartbeat', {}));
        await new Promise((r) => setTimeout(r, intervalMs / 4));
      }
      assert.ok(busy.isOpen);
      assert.equal(h.gateway.sessions.get('BUSY')?.state, 'open');
      assert.equal(await metricValue(h.gateway, 'ocpp_keepalive_terminations_total'), 1, 'only the mute charger of the test before');
    } finally {
      await busy.close();
    }
  });
});

describe('connection limit', () => {
  it('beyond server.maxConnections a new charger gets HTTP 503 with Retry-After; a known identity may still reconnect', async () => {
    const g = await startGateway({ overrides: { server: { maxConnections: 2 } } });
    const a = await OcppClient.connect(g.url, 'CAP-A', ['ocpp1.6']);
    const b = await OcppClient.connect(g.url, 'CAP-B', ['ocpp1.6']);
    try {
      const refused = await rawUpgrade(g.port, '/ocpp/CAP-C', { 'Sec-WebSocket-Protocol': 'ocpp1.6' });
      assert.equal(refused.status, 503);
      assert.ok(refused.headers['retry-after'], 'Retry-After is set');
      assert.match(refused.body, /maximum of 2/);
      assert.equal(await metricValue(g.gateway, 'ocpp_connection_attempts_total', { outcome: 'over_capacity' }), 1);
      // A charger that reconnects replaces its own session, so it is not refused at capacity: one connection at a
      // time, so that an identity's waiting connections cannot pile up past the limit.
      const a2 = await OcppClient.connect(g.url, 'CAP-A', ['ocpp1.6'], { ws: { autoPong: false } });
      const a3 = await rawUpgrade(g.port, '/ocpp/CAP-A', { 'Sec-WebSocket-Protocol': 'ocpp1.6' });
      assert.equal(a3.status, 503);
      assert.match(a3.body, /maximum of 2/);
      expectResult(await a2.call('Heartbeat', {}));
      assert.equal((await a.closed).code, 4000);
      await a2.close();
      expectResult(await b.call('Heartbeat', {}));
    } finally {
      a.terminate();
      await b.close();
      await g.stop();
    }
  });
});

describe('gateway stop', () => {
  it('stopAccepting() leaves connected chargers served and refuses new ones', async () => {
    const g = await startGateway();
    const client = await OcppClient.connect(g.url, 'STAYING', ['ocpp1.6']);
    try {
      // "Open sessions stay": stopping the listener must not wait for them to go.
      g.gateway.stopAccepting();
      expectResult(await client.call('Heartbeat', {}));
      const outcome = await OcppClient.tryConnect(g.url, 'LATE', ['ocpp1.6']);
      assert.equal(outcome.ok, false);
    } finally {
      client.terminate();
      await g.stop();
    }
  });

  it('closes every charger with 1001 and a reason', async () => {
    const g = await startGateway();
    const a = await OcppClient.connect(g.url, 'STOP-A', ['ocpp1.6']);
    const b = await OcppClient.connect(g.url, 'STOP-B', ['ocpp2.0.1']);
    await g.stop();
    for (const client of [a, b]) {
      const closed = await client.closed;
      assert.equal(closed.code, 1001);
      assert.match(closed.reason, /shutting down/);
    }
  });
});
