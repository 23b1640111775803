/**
 * Inputs the fuzzer (test/fuzz/campaign.ts) found that end the gateway process or grow its memory, each replayed
 * exactly against the real process (`node dist/src/main.js`). Each test names the input and the rule it breaks.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { type FuzzedGateway, gatewayRss, httpText, scrapeMetrics, startFuzzedGateway } from './fuzz/gateway-process.js';
import { createSecurityFixture, type SecurityFixture } from './fuzz/security-fixture.js';
import { encodeFrame, OP, openWebSocket, RawConnection, standardHeaders, upgradeRequest } from './fuzz/wire.js';
import { schemaOracle } from './helpers/schema-oracle.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Heartbeat from a fresh, well-behaved 1.6 charger: the gateway must still be serving. */
async function heartbeatAnswered(port: number, identity: string): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ocpp/${identity}`, ['ocpp1.6']);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const answer = new Promise<unknown>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(JSON.stringify([2, 'hb-1', 'Heartbeat', {}]));
    const frame = (await answer) as unknown[];
    assert.equal(frame[0], 3);
    assert.equal(frame[1], 'hb-1');
    assert.ok(schemaOracle('ocpp1.6').response('Heartbeat', frame[2]).valid, JSON.stringify(frame));
  } finally {
    ws.terminate();
  }
}

/** Sends `message` as one text frame, then a Heartbeat; returns every text frame received before its answer. */
async function answersBeforeSentinel(c: RawConnection, message: string): Promise<unknown[]> {
  c.write(encodeFrame(OP.text, Buffer.from(message)));
  c.write(encodeFrame(OP.text, Buffer.from(JSON.stringify([2, 'sentinel', 'Heartbeat', {}]))));
  const answers: unknown[] = [];
  for (;;) {
    const f = await c.nextFrame(10_000);
    assert.ok(f !== undefined, `no answer to the Heartbeat after the input (connection ${c.ended ? 'ended' : 'silent'})`);
    assert.equal(f.opcode, OP.text, `opcode ${f.opcode}: ${f.payload.toString().slice(0, 100)}`);
    const frame = JSON.parse(f.payload.toString()) as unknown[];
    if (frame[0] === 3 && frame[1] === 'sentinel') return answers;
    answers.push(frame);
  }
}

/** The admin API's event stream as a backend reads it: the raw text so far. */
async function openEventStream(adminPort: number): Promise<{ text: () => string; close: () => void }> {
  let text = '';
  const req = request({ host: '127.0.0.1', port: adminPort, path: '/api/v1/events' });
  await new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  return { text: () => text, close: () => req.destroy() };
}

describe('fuzz findings replayed against the real process', () => {
  // A process of its own for each test: one that ends the process must not take the others with it.
  let g: FuzzedGateway;
  beforeEach(async () => {
    g = await startFuzzedGateway();
  });
  afterEach(async () => {
    await g.stop();
  });

  // Found by the handshakes lane: {"method":"GET","prefix":"/ocpp/","segment":"","query":"?","ending":"resetAfterSend"}.
  // The refusal (404/400) is written to a socket the client has already reset: `write ECONNRESET` was thrown
  // uncaught and the process exited with code 1.
  it('a refused upgrade whose client resets the connection right after sending does not end the process', async () => {
    for (const path of ['/ocpp/', '/elsewhere/CP-1', '/ocpp/a%zz', '/ocpp/a:b', `/ocpp/${'x'.repeat(49)}`]) {
      for (let i = 0; i < 10; i++) {
        const c = await RawConnection.open(g.port);
        c.write(upgradeRequest(path, standardHeaders(g.port, 'ocpp1.6')));
        c.reset();
      }
    }
    await sleep(500);
    assert.equal(g.alive(), true, g.alive() ? '' : g.deathNote());
    assert.equal((await httpText(g.adminPort, '/healthz')).status, 200);
    await heartbeatAnswered(g.port, 'after-resets');
  });

  // Found by the frames lane: [4,"toS","...",<an array nested 100,000 deep>]. A CALLERROR's errorDescription that is
  // not a string was turned into one with String(), which recurses through nested arrays: a RangeError (maximum
  // call stack size exceeded) thrown uncaught from the socket's message handler ended the process. 5,000 levels
  // (a 10 KB frame) are enough. A CALLERROR is never answered (nothing was asked), in either version.
  for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    it(`${version}: a CALLERROR whose errorDescription is an array nested 5,000 deep gets no answer and the process carries on`, async () => {
      const c = await openWebSocket(g.port, `/ocpp/deep-callerror-${version}`, version);
      try {
        const deep = `${'['.repeat(5000)}0${']'.repeat(5000)}`;
        const answers = await answersBeforeSentinel(c, `[4,"nobody-asked","GenericError",${deep},{}]`).catch((err: Error) => {
          throw new Error(`${err.message}; ${g.alive() ? 'the process is alive' : g.deathNote()}`);
        });
        assert.deepEqual(answers, []);
      } finally {
        c.destroy();
      }
      assert.equal(g.alive(), true, g.alive() ? '' : g.deathNote());
    });
  }

  // Found with the floods lane's pingFlood: a charger that sends pings and never reads. Every pong was written
  // straight to the socket, past the outbox's bounds, so ws kept them all in memory: 96 MiB of pings grew the
  // gateway by over 300 MiB, held until the connection ended. The outbox bounds what one charger may make the
  // gateway hold (2 MiB and 256 frames queued, 64 KiB buffered); 64 MiB of growth leaves that bound, the kernel's
  // part and the collector's slack ample room, and is far below what 64 MiB of unanswered pings made it hold.
  it('a charger that floods 64 MiB of pings and never reads does not grow the gateway by 64 MiB, and others are served', async () => {
    await sleep(500);
    const before = await gatewayRss(g.adminPort);
    const c = await openWebSocket(g.port, '/ocpp/ping-flooder', 'ocpp1.6');
    c.autoPong = false;
    c.socket.pause();
    const chunk = Buffer.concat(Array.from({ length: 8192 }, () => encodeFrame(OP.ping, Buffer.alloc(125, 0x70))));
    try {
      for (let sent = 0; sent < 64 * 1024 * 1024 && !c.ended; sent += chunk.length) {
        if (!c.socket.write(chunk)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), sleep(2000)]);
      }
      // Let the gateway read what it will of the flood.
      await sleep(2000);
      let peak = 0;
      for (let i = 0; i < 4; i++, await sleep(250)) peak = Math.max(peak, await gatewayRss(g.adminPort));
      const growthMiB = Math.round((peak - before) / 1048576);
      assert.ok(peak - before < 64 * 1024 * 1024, `the gateway's RSS grew by ${growthMiB} MiB under a ping flood from a charger that does not read`);
      await heartbeatAnswered(g.port, 'beside-the-flooder');
    } finally {
      c.reset();
    }
    assert.equal(g.alive(), true, g.alive() ? '' : g.deathNote());
  });

  // Found by the frames lane once a backend read the event stream: a 2.0.1 DataTransfer whose `data` (free JSON
  // in 2.0.1) holds an array nested 5,000 deep is schema-valid, so it was acknowledged with a CALLRESULT, and its
  // data_transfer.received event was published; serializing it for the stream threw (maximum call stack size
  // exceeded, logged as "event subscriber failed") and the backend never saw it. The charger deletes what the
  // gateway acknowledges, so the message was lost without a word. The rule a backend relies on: a CALL is
  // acknowledged only once its event is delivered. The test holds the gateway to that rule whichever way it
  // keeps it: deliver the event, or refuse the CALL with a CALLERROR (and publish nothing).
  it('2.0.1: a DataTransfer whose data is nested 5,000 deep is refused with FormatViolation and publishes no event', async () => {
    const stream = await openEventStream(g.adminPort);
    const c = await openWebSocket(g.port, '/ocpp/deep-data-transfer', 'ocpp2.0.1');
    try {
      const deep = `${'['.repeat(5000)}0${']'.repeat(5000)}`;
      c.write(encodeFrame(OP.text, Buffer.from(`[2,"deep-1","DataTransfer",{"vendorId":"com.example","data":${deep}}]`)));
      const f = await c.nextFrame(10_000);
      assert.ok(f !== undefined && f.opcode === OP.text, 'the CALL is answered');
      const answer = JSON.parse(f.payload.toString()) as unknown[];
      assert.equal(answer[1], 'deep-1');
      const delivered = async () => {
        // The event for this charger's DataTransfer, as a backend sees it on the stream.
        const end = Date.now() + 5000;
        while (Date.now() < end) {
          if (/event: data_transfer\.received\ndata: [^\n]*"chargePointId":"deep-data-transfer"/.test(stream.text())) return true;
          await sleep(50);
        }
        return false;
      };
      // Refused before anything walks it (README: nesting deeper than 64 levels is a format violation).
      assert.equal(answer[0], 4, `a CALLERROR, got ${JSON.stringify(answer).slice(0, 200)}`);
      assert.equal(answer[2], 'FormatViolation');
      assert.equal(await delivered(), false, 'refused, so no event is published');
    } finally {
      c.destroy();
      stream.close();
    }
    assert.equal(g.alive(), true, g.alive() ? '' : g.deathNote());
  });

  // Found while reconciling the handshakes lane with the metrics: an upgrade to a valid path and identity that
  // offers a supported version, but whose WebSocket headers are wrong, is refused by the WebSocket layer (400,
  // or 405 for another method) after the gateway's own checks, and no metric counts it. Bad input is answered and
  // counted: each of these four is one connection attempt, whatever its outcome label.
  it('upgrades refused for their WebSocket headers (bad key, version 12, POST, a malformed protocol list) are each counted as an attempt', async () => {
    const attempts = async () => (await scrapeMetrics(g.adminPort)).get('ocpp_connection_attempts_total') ?? 0;
    const before = await attempts();
    const requests: Array<[string, number]> = [
      [
        'GET /ocpp/CP-KEY HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
        400,
      ],
      [
        'GET /ocpp/CP-VER HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
        400,
      ],
      [
        'POST /ocpp/CP-POST HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
        405,
      ],
      [
        'GET /ocpp/CP-LIST HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ocpp1.6,,ocpp2.0.1\r\n\r\n',
        400,
      ],
    ];
    for (const [text, status] of requests) {
      const c = await RawConnection.open(g.port);
      try {
        c.write(text);
        const head = await c.readHead(5000);
        assert.equal(head?.status, status, text.split('\r\n')[0]);
      } finally {
        c.destroy();
      }
    }
    assert.equal(await attempts(), before + 4);
  });
});

// Found by the TLS handshake lane: {"kind":"cut","at":"clientHello","ending":"stall"}. A client that stopped in the
// middle of its TLS handshake (or never began one) was held for Node's default of 120 s, each holding a place in
// `server.admission.maxHandshakes`: a few thousand such clients kept every charger out, two minutes at a time.
describe('stalled TLS handshakes against the real process', () => {
  const TIMEOUT_MS = 1500;
  let g: FuzzedGateway;
  let fixture: SecurityFixture;
  let tlsPort: number;
  beforeEach(async () => {
    fixture = await createSecurityFixture(1);
    g = await startFuzzedGateway({ ...fixture.env(), TLS_HANDSHAKE_TIMEOUT_MS: String(TIMEOUT_MS) });
    tlsPort = g.proc.tlsPort as number;
  });
  afterEach(async () => {
    await g.stop();
    await fixture.cleanup();
  });

  it('a client silent from the start, and one that stops inside its ClientHello, are dropped on the handshake timeout and counted; chargers still connect', async () => {
    const silent = await RawConnection.open(tlsPort);
    const halfHello = await RawConnection.open(tlsPort);
    // A handshake record announcing 512 bytes of ClientHello, and then nothing.
    halfHello.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    const started = Date.now();
    try {
      assert.equal(await silent.waitEnded(TIMEOUT_MS + 5000), true, 'a client that never sent a byte was not dropped');
      assert.equal(await halfHello.waitEnded(TIMEOUT_MS + 5000), true, 'a client that stopped inside its ClientHello was not dropped');
    } finally {
      silent.destroy();
      halfHello.destroy();
    }
    assert.ok(Date.now() - started >= TIMEOUT_MS - 200, `dropped after ${Date.now() - started} ms, before the timeout`);
    const metrics = await scrapeMetrics(g.adminPort);
    assert.equal(metrics.get('ocpp_tls_client_errors_total{reason="timeout"}'), 2);
    assert.equal(metrics.get('ocpp_handshakes_in_flight'), 0);
    const charger = fixture.chargers.p3[0];
    const cert = await fixture.clientCertificate('right', charger.identity);
    const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'localhost', ca: fixture.caCert, cert: cert.cert, key: cert.key });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const c = RawConnection.over(socket);
    try {
      c.write(upgradeRequest(`/ocpp/${encodeURIComponent(charger.identity)}`, standardHeaders(tlsPort, 'ocpp1.6')));
      assert.equal((await c.readHead(5000))?.status, 101);
    } finally {
      c.destroy();
    }
  });
});
