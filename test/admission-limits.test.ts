/**
 * Admission control seen from the network: the bound on handshakes in flight (raw sockets that never finish their
 * request), the upgrade rates per source address (127.0.0.1 against 127.0.0.2) and overall, the jittered
 * Retry-After of every 503, the bounded address table, and the same bound on a real TLS listener, where a
 * connection beyond it is dropped before any TLS byte is read. Chargers already connected never notice.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { type Socket, connect as tcpConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { answerTurns } from '../src/ocpp/answer-turns.js';
import { AdmissionLimits } from '../src/transport/admission-limits.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil, within } from './helpers/gateway-harness.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { type ConnectOutcome, OcppClient, type Refusal } from './helpers/ocpp-client.js';
import { TestCa } from './helpers/test-pki.js';

/** Limits that never refuse, so each test turns on only the one it is about; the handshake bound is fixed unless a test says so. */
const OPEN = {
  maxHandshakes: 100_000,
  handshakesUseSpareCapacity: false,
  addressRate: 1_000_000,
  addressBurst: 1_000_000,
  overallRate: 1_000_000,
  overallBurst: 1_000_000,
  exemptAddresses: [],
};
/** So slow that no token comes back while a test runs. */
const NO_REFILL = 0.0001;

let identities = 0;
function connectFrom(h: GatewayHarness, localAddress = '127.0.0.1'): Promise<ConnectOutcome> {
  return OcppClient.tryConnect(h.url, `ADM-${++identities}`, ['ocpp1.6'], { ws: { localAddress } });
}

async function expectAdmitted(h: GatewayHarness, localAddress = '127.0.0.1'): Promise<OcppClient> {
  const outcome = await connectFrom(h, localAddress);
  if (!outcome.ok)
    assert.fail(`expected ${localAddress} to be admitted, got ${outcome.refusal ? `HTTP ${outcome.refusal.status} ${outcome.refusal.body}` : outcome.error?.message}`);
  return outcome.client;
}

async function expectRefused(h: GatewayHarness, localAddress = '127.0.0.1'): Promise<Refusal> {
  const outcome = await connectFrom(h, localAddress);
  if (outcome.ok) {
    outcome.client.terminate();
    assert.fail(`expected ${localAddress} to be refused, it was admitted`);
  }
  assert.ok(outcome.refusal, `expected an HTTP refusal, got ${outcome.error?.message}`);
  return outcome.refusal;
}

function retryAfterWithin(refusal: Refusal, min: number, max: number): number {
  const value = Number(refusal.headers['retry-after']);
  assert.ok(Number.isInteger(value) && value >= min && value <= max, `Retry-After ${refusal.headers['retry-after']} not a whole number in ${min}..${max}`);
  return value;
}

/** A TCP connection that sends the start of an upgrade request and then nothing: a handshake held open. */
function holdHandshake(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.write('GET /ocpp/HOLDER HTTP/1.1\r\nHost: 127.0.0.1\r\n', () => resolve(socket));
    });
  });
}

/**
 * With `inFlight` handshakes held open (gauge and gateway agree), the next charger gets 503 saying so, with a
 * Retry-After of 5..10 s, and is the `refusedSoFar`-th too_many_handshakes of this gateway.
 */
async function expectBusyWith(h: GatewayHarness, inFlight: number, refusedSoFar: number): Promise<void> {
  await waitUntil(() => h.gateway.admission.handshakesInFlight === inFlight, 3000, `${inFlight} handshakes in flight`);
  assert.equal(await metricValue(h.gateway, 'ocpp_handshakes_in_flight'), inFlight);
  const refusal = await expectRefused(h);
  assert.equal(refusal.status, 503);
  assert.match(refusal.body, new RegExp(`busy with ${inFlight} handshakes`));
  retryAfterWithin(refusal, 5, 10);
  assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'too_many_handshakes' }), refusedSoFar);
}

describe('handshakes in flight', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { server: { admission: { ...OPEN, maxHandshakes: 3 } } } });
  });
  after(async () => {
    await h.stop();
  });

  it('three held open fill the bound: the next gets 503 with Retry-After 5..10; once they go a charger is let in', async () => {
    const bystander = await expectAdmitted(h);
    const held = await Promise.all([holdHandshake(h.port), holdHandshake(h.port), holdHandshake(h.port)]);
    try {
      await expectBusyWith(h, 3, 1);
      // The answer turns are told of the three under way (the refused one never counted): turns are shared now.
      assert.equal(answerTurns.handshakesUnderWay, 3);
      // The charger connected before is not touched by it.
      expectResult(await bystander.call('Heartbeat', {}));
    } finally {
      for (const socket of held) socket.destroy();
    }
    await waitUntil(() => h.gateway.admission.handshakesInFlight === 0, 3000, 'the held handshakes to be released');
    // Closed without an upgrade, they are no longer newcomers either.
    assert.equal(answerTurns.handshakesUnderWay, 0);
    const charger = await expectAdmitted(h);
    // A completed upgrade no longer counts as a handshake, for the limits nor for the answer turns.
    assert.equal(h.gateway.admission.handshakesInFlight, 0);
    assert.equal(answerTurns.handshakesUnderWay, 0);
    expectResult(await charger.call('Heartbeat', {}));
    // A charger that leaves is expected back: its close renews the answer turns' longer hold (10 s). Read the hold
    // half a second after anything renewed it, so that a renewal shows as more time left.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const holdBefore = answerTurns.holdLeftMs;
    assert.ok(holdBefore <= 9_500, `no hold renewed in the last half second (${holdBefore} ms left)`);
    await charger.close();
    await waitUntil(() => answerTurns.holdLeftMs > 9_600, 3000, "the charger's close to renew the hold");
    assert.equal(answerTurns.sharingTurns, true);
    await bystander.close();
  });
});

describe('handshakes in flight in the room the gateway has', () => {
  const MAX_CONNECTIONS = 6;
  const FLOOR = 2;
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({
      overrides: { server: { maxConnections: MAX_CONNECTIONS, admission: { ...OPEN, maxHandshakes: FLOOR, handshakesUseSpareCapacity: true } } },
    });
  });
  after(async () => {
    await h.stop();
  });

  it('an emptier gateway takes more handshakes at once: 5 of 6 places free let 5 in, and 2 free let the floor of 2 in', async () => {
    const bystander = await expectAdmitted(h);
    const chargers: OcppClient[] = [];
    let held = await Promise.all(Array.from({ length: MAX_CONNECTIONS - 1 }, () => holdHandshake(h.port)));
    try {
      // One charger held of six: five handshakes fit in the room left, beyond the floor of two.
      await expectBusyWith(h, 5, 1);

      // Three of them go and three chargers connect: four held, two places left, so the floor of two is the bound.
      for (const socket of held.slice(2)) socket.destroy();
      held = held.slice(0, 2);
      await waitUntil(() => h.gateway.admission.handshakesInFlight === 2, 3000, 'two handshakes left in flight');
      for (let i = 0; i < 3; i++) chargers.push(await expectAdmitted(h));
      await expectBusyWith(h, 2, 2);
      // Those connected before are not touched by it.
      expectResult(await bystander.call('Heartbeat', {}));
      for (const charger of chargers) expectResult(await charger.call('Heartbeat', {}));
    } finally {
      for (const socket of held) socket.destroy();
    }
    await waitUntil(() => h.gateway.admission.handshakesInFlight === 0, 3000, 'the held handshakes to be released');
    await Promise.all([...chargers, bystander].map((c) => c.close()));
  });
});

/** A histogram's `_count` or one bucket's count, for one outcome, as the registry exports it. */
async function handshakeSeconds(h: GatewayHarness, outcome: string, le?: string): Promise<number> {
  const metric = h.gateway.metrics.registry.getSingleMetric('ocpp_handshake_seconds');
  assert.ok(metric, 'ocpp_handshake_seconds is registered');
  const data = await metric.get();
  const wanted = le === undefined ? 'ocpp_handshake_seconds_count' : 'ocpp_handshake_seconds_bucket';
  const values = data.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
  const found = values.find((v) => v.metricName === wanted && v.labels.outcome === outcome && (le === undefined || String(v.labels.le) === le));
  return found?.value ?? 0;
}

describe('time spent as a handshake', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { server: { admission: OPEN } } });
  });
  after(async () => {
    await h.stop();
  });

  it('an upgrade held back for 300 ms counts as upgraded, above 0.25 s; one closed before its upgrade counts as closed', async () => {
    const upgradedBefore = await handshakeSeconds(h, 'upgraded');
    const quickBefore = await handshakeSeconds(h, 'upgraded', '0.25');
    const closedBefore = await handshakeSeconds(h, 'closed');

    const held = await holdHandshake(h.port);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const switched = new Promise<string>((resolve, reject) => {
      let text = '';
      held.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.includes('\r\n\r\n')) resolve(text.split('\r\n')[0]);
      });
      held.once('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
    });
    held.write(
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
    );
    assert.equal(await switched, 'HTTP/1.1 101 Switching Protocols');
    assert.equal(await handshakeSeconds(h, 'upgraded'), upgradedBefore + 1);
    assert.equal(await handshakeSeconds(h, 'upgraded', '0.25'), quickBefore, 'it waited at least 300 ms');
    held.destroy();

    const given = await holdHandshake(h.port);
    await waitUntil(() => h.gateway.admission.handshakesInFlight === 1, 3000, 'the second handshake to be counted');
    given.destroy();
    await waitUntil(async () => (await handshakeSeconds(h, 'closed')) === closedBefore + 1, 3000, 'the given-up handshake to count as closed');
    assert.equal(await handshakeSeconds(h, 'upgraded'), upgradedBefore + 1);
  });
});

describe('upgrade rate per source address', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { server: { admission: { ...OPEN, addressRate: NO_REFILL, addressBurst: 3 } } } });
  });
  after(async () => {
    await h.stop();
  });

  it('127.0.0.1 gets its burst of 3, then 503 with Retry-After 10..20; 127.0.0.2 is still admitted', async () => {
    const clients = [await expectAdmitted(h), await expectAdmitted(h), await expectAdmitted(h)];
    const refusal = await expectRefused(h);
    assert.equal(refusal.status, 503);
    assert.match(refusal.body, /too many connection attempts from this address/);
    retryAfterWithin(refusal, 10, 20);
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'address_rate' }), 1);
    const other = await expectAdmitted(h, '127.0.0.2');
    expectResult(await other.call('Heartbeat', {}));
    for (const client of [...clients, other]) await client.close();
  });

  it('a burst of refusals is spread: 20 Retry-After values, all within 10..20 and not all the same', async () => {
    const values: number[] = [];
    for (let i = 0; i < 20; i++) values.push(retryAfterWithin(await expectRefused(h), 10, 20));
    assert.ok(new Set(values).size > 1, `every Retry-After was ${values[0]}`);
  });

  it('chargers already connected are untouched by 100 refused upgrades from their own address', async () => {
    const connected = await expectAdmitted(h, '127.0.0.3');
    const disconnectsBefore = await metricValue(h.gateway, 'ocpp_disconnects_total');
    // 127.0.0.3 spent one of its three tokens; the rest of the storm is refused.
    await Promise.all(Array.from({ length: 100 }, () => connectFrom(h, '127.0.0.3')));
    expectResult(await connected.call('Heartbeat', {}));
    assert.equal(connected.isOpen, true);
    assert.equal(await metricValue(h.gateway, 'ocpp_disconnects_total'), disconnectsBefore, 'nobody was disconnected');
    assert.equal((await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'address_rate' })) >= 100, true);
    await connected.close();
  });
});

describe('upgrade rate overall', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({ overrides: { server: { admission: { ...OPEN, overallRate: NO_REFILL, overallBurst: 3 } } } });
  });
  after(async () => {
    await h.stop();
  });

  it('three upgrades from two addresses use the burst; the fourth, from either, gets 503 overall_rate', async () => {
    const clients = [await expectAdmitted(h), await expectAdmitted(h, '127.0.0.2'), await expectAdmitted(h)];
    for (const address of ['127.0.0.2', '127.0.0.1']) {
      const refusal = await expectRefused(h, address);
      assert.equal(refusal.status, 503);
      assert.match(refusal.body, /at most 0\.0001 new connections a second/);
      retryAfterWithin(refusal, 10, 20);
    }
    assert.equal(await metricValue(h.gateway, 'ocpp_connection_attempts_total', { outcome: 'overall_rate' }), 2);
    for (const client of clients) expectResult(await client.call('Heartbeat', {}));
    for (const client of clients) await client.close();
  });
});

describe('exempt addresses and the bounded address table', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway({
      overrides: { server: { admission: { ...OPEN, addressRate: NO_REFILL, addressBurst: 1, maxTrackedAddresses: 2, exemptAddresses: ['127.0.0.1'] } } },
    });
  });
  after(async () => {
    await h.stop();
  });

  it('an exempt address is not limited per address, another one is', async () => {
    const clients = [await expectAdmitted(h), await expectAdmitted(h), await expectAdmitted(h)];
    clients.push(await expectAdmitted(h, '127.0.0.2'));
    assert.equal((await expectRefused(h, '127.0.0.2')).status, 503);
    for (const client of clients) await client.close();
  });

  it('the table never holds more than maxTrackedAddresses: the least recently seen address is forgotten', async () => {
    for (const address of ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']) (await expectAdmitted(h, address)).terminate();
    assert.equal(h.gateway.admission.trackedAddresses, 2);
    assert.equal(await metricValue(h.gateway, 'ocpp_admission_tracked_addresses'), 2);
    // 127.0.0.2 was forgotten, so it starts again with its burst (the price of a bounded table).
    (await expectAdmitted(h, '127.0.0.2')).terminate();
    // 127.0.0.6 is still tracked: its one token is spent.
    assert.equal((await expectRefused(h, '127.0.0.6')).status, 503);
  });
});

describe('jittered Retry-After on the limits that were there before', () => {
  it('over capacity: 503 with Retry-After 30..60', async () => {
    const h = await startGateway({ overrides: { server: { maxConnections: 1 } } });
    try {
      const holder = await expectAdmitted(h);
      const values = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const refusal = await expectRefused(h);
        assert.equal(refusal.status, 503);
        values.add(retryAfterWithin(refusal, 30, 60));
      }
      assert.ok(values.size > 1, 'ten refusals, one Retry-After');
      await holder.close();
    } finally {
      await h.stop();
    }
  });
});

describe('a TLS listener', () => {
  let ca: TestCa;
  before(async () => {
    ca = await TestCa.create();
  });

  it('beyond the bound a connection is dropped before its TLS handshake, counted; released, the next one completes', async () => {
    const { cert, key } = await ca.server();
    const server = createHttpsServer({ cert, key, minVersion: 'TLSv1.2' }, (_req, res) => res.end('ok'));
    const outcomes: string[] = [];
    const limits = new AdmissionLimits({ ...OPEN, maxHandshakes: 1, maxTrackedAddresses: 10, countAttempt: (o) => outcomes.push(o) });
    limits.attach(server);
    // What the charger listener does once an upgrade completes: the TLS socket releases the TCP one it wraps.
    server.on('secureConnection', (socket) => limits.handshakeEnded(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const tryTls = () =>
      new Promise<'secure' | 'dropped'>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
        socket.once('secureConnect', () => {
          socket.destroy();
          resolve('secure');
        });
        socket.once('error', () => resolve('dropped'));
        socket.once('close', () => resolve('dropped'));
      });
    // A TCP connection that never sends its ClientHello holds the one place.
    const holder = tcpConnect(port, '127.0.0.1');
    holder.on('error', () => {});
    try {
      await waitUntil(() => limits.handshakesInFlight === 1, 3000, 'the held connection to count');
      assert.equal(await within(tryTls(), 5000, 'the second TLS connection'), 'dropped');
      assert.deepEqual(outcomes, ['too_many_handshakes_tls']);
      holder.destroy();
      await waitUntil(() => limits.handshakesInFlight === 0, 3000, 'the held connection to be released');
      assert.equal(await within(tryTls(), 5000, 'the TLS connection after the release'), 'secure');
      await waitUntil(() => limits.handshakesInFlight === 0, 3000, 'the completed handshake to be released');
      assert.deepEqual(outcomes, ['too_many_handshakes_tls']);
    } finally {
      holder.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
