/**
 * Hostile chargers against the real process (`node dist/src/main.js`): refused upgrades whose client resets the
 * TCP connection at once, a charger that stops reading and floods pings, connections that hold a descriptor
 * without a session, handshakes ws refuses itself, and unparseable frames. The process must stay up, keep
 * answering the chargers beside them, bound its memory, and count all of it; its last-resort guard must never
 * have caught anything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawUpgrade, type ServerProcess, startServerProcess, waitUntil, within } from './helpers/gateway-harness.js';
import { bootPayload, expectCallError, expectResult } from './helpers/ocpp-assert.js';
import { nextId, OcppClient } from './helpers/ocpp-client.js';

// ---------------------------------------------------------------------------------------------------------------
// The process and its admin /metrics.

interface Gateway {
  server: ServerProcess;
  adminPort: number;
  /** `ws://127.0.0.1:PORT/ocpp`: append `/{identity}`. */
  url: string;
}

async function startProcess(env: Record<string, string> = {}): Promise<Gateway> {
  const server = await startServerProcess({ env });
  return { server, adminPort: server.adminPort, url: `${server.url}/ocpp` };
}

function scrape(adminPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: adminPort, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * One sample of the Prometheus text: the sum over the series of `name` whose labels include `labels`, or
 * undefined when the scrape has no such series at all (so an absent metric never passes for 0).
 */
function sampleIn(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1], pair[2]);
    if (!Object.entries(labels).every(([k, v]) => have.get(k) === v)) continue;
    sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}

async function metric(gateway: Gateway, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return sampleIn(await scrape(gateway.adminPort), name, labels);
}

/** What every test of the real process ends with: it is still running and its last-resort guard caught nothing. */
async function assertUnharmed(gateway: Gateway): Promise<void> {
  assert.equal(gateway.server.child.exitCode, null, `the process exited; stderr: ${gateway.server.stderr.join('\n')}`);
  assert.equal(gateway.server.child.signalCode, null);
  assert.equal(await metric(gateway, 'gateway_uncaught_errors_total'), 0, 'the last-resort guard caught an error');
}

// ---------------------------------------------------------------------------------------------------------------
// Raw upgrades.

function upgradeRequest(path: string, headers: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Protocol': 'ocpp1.6',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `GET ${path} HTTP/1.1\r\n${lines}\r\n`;
}

/** Sends the request and resets the TCP connection (RST) as soon as it has left, without reading a byte. */
function sendThenReset(port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.on('connect', () => socket.write(text, () => socket.resetAndDestroy()));
  });
}

async function manyThenReset(port: number, count: number, text: () => string): Promise<void> {
  const parallel = 50;
  for (let done = 0; done < count; done += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - done) }, () => sendThenReset(port, text())));
  }
}

/** An upgrade whose socket the test keeps open, reading the 101 and whatever frames follow, answering nothing. */
interface HeldUpgrade {
  socket: Socket;
  status: number;
  /** Close code of the first frame after the 101, when it was a close frame. */
  closeCode?: number;
}

function holdUpgrade(port: number, path: string, headers: Record<string, string | undefined>): Promise<HeldUpgrade> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no 101 and close frame for ${path} in time`));
    }, 5000);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(upgradeRequest(path, headers)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(buffer.subarray(0, end).toString())?.[1] ?? 0);
      const frame = buffer.subarray(end + 4);
      if (status === 101 && frame.length < 4) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      const closeCode = status === 101 && (frame[0] & 0x0f) === 0x8 ? frame.readUInt16BE(2) : undefined;
      resolve({ socket, status, closeCode });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------

describe('refused upgrades reset by the client at once (real process)', () => {
  let gateway: Gateway;
  let normal: OcppClient;
  // One charger holds the only slot, so every other identity is over capacity.
  before(async () => {
    gateway = await startProcess({ MAX_CONNECTIONS: '1' });
    normal = await OcppClient.connect(gateway.url, 'NORMAL-1');
  });
  after(async () => {
    normal?.terminate();
    await gateway?.server.stop();
  });

  const kinds: Array<{ name: string; request: () => string }> = [
    { name: 'a bad path', request: () => upgradeRequest('/not-ocpp/CP-1') },
    { name: 'a bad identity', request: () => upgradeRequest('/ocpp/CP:1') },
    { name: 'over capacity', request: () => upgradeRequest(`/ocpp/OVER-${randomBytes(4).toString('hex')}`) },
    { name: 'a bad Sec-WebSocket-Key (refused by ws)', request: () => upgradeRequest('/ocpp/KEY-1', { 'Sec-WebSocket-Key': 'short' }) },
    { name: 'a bad Sec-WebSocket-Version (refused by ws)', request: () => upgradeRequest('/ocpp/VERSION-1', { 'Sec-WebSocket-Version': '12' }) },
    { name: 'a bad path and a bad key', request: () => upgradeRequest('/not-ocpp/CP-1', { 'Sec-WebSocket-Key': undefined }) },
    { name: 'no Upgrade header (a plain request)', request: () => upgradeRequest('/ocpp/PLAIN-1', { Connection: undefined, Upgrade: undefined }) },
  ];
  for (const kind of kinds) {
    it(`500 upgrades with ${kind.name}, each reset at once: the process stays up and the charger beside them is answered`, async () => {
      await manyThenReset(gateway.server.port, 500, kind.request);
      const answer = await normal.call('Heartbeat', {});
      assert.equal(typeof expectResult(answer).currentTime, 'string');
      await assertUnharmed(gateway);
    });
  }

  it('the charger that held its slot through all of it is still the one connected', async () => {
    assert.equal(normal.isOpen, true);
    assert.equal(await metric(gateway, 'ocpp_connections'), 1);
    await assertUnharmed(gateway);
  });
});

describe('a refusal while draining, reset by the client at once (real process)', () => {
  it('500 upgrades read after SIGTERM, each reset at once: refused as draining, no uncaught error during the drain', async () => {
    // Ten chargers closed in ten waves over 20 s keep the process (and its admin API) up after SIGTERM.
    const gateway = await startProcess({ SHUTDOWN_DRAIN_MS: '20000' });
    const sockets: Socket[] = [];
    const chargers: OcppClient[] = [];
    try {
      for (let i = 0; i < 10; i++) chargers.push(await OcppClient.connect(gateway.url, `DRAIN-${i}`));
      // Connections accepted before the listener closes, each with a request under way (so it is not idle and
      // survives the close); the rest of each upgrade request is sent once draining has begun.
      const opened = (count: number) =>
        Promise.all(
          Array.from(
            { length: count },
            (_, j) =>
              new Promise<Socket>((resolve, reject) => {
                const socket = tcpConnect(gateway.server.port, '127.0.0.1');
                socket.once('error', reject);
                socket.once('connect', () => {
                  socket.off('error', reject);
                  socket.on('error', () => {});
                  socket.write(`GET /ocpp/DRAINING-${sockets.length + j} HTTP/1.1\r\n`, () => resolve(socket));
                });
              }),
          ),
        );
      // One more, opened first and answered in full last: it tells when the gateway has read past the others.
      const [last] = await opened(1);
      for (let i = 0; i < 500; i += 50) sockets.push(...(await opened(50)));
      gateway.server.child.kill('SIGTERM');
      await waitUntil(async () => !(await ready(gateway)), 5000, 'draining');
      const rest = upgradeRequest('/x').split('\r\n').slice(1).join('\r\n');
      await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.write(rest, () => (socket.resetAndDestroy(), resolve())))));
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        last.on('data', (c: Buffer) => (text += c.toString()));
        last.on('close', () => resolve(text));
        last.write(rest);
      });
      sockets.push(last);
      assert.match(answer, /^HTTP\/1\.1 503 [\s\S]*shutting down/);
      await assertUnharmed(gateway);
    } finally {
      for (const charger of chargers) charger.terminate();
      for (const socket of sockets) socket.destroy();
      await gateway.server.stop();
    }
  });
});

function ready(gateway: Gateway): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gateway.adminPort, path: '/readyz' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a charger that stops reading and floods pings (real process)', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await startProcess();
  });
  after(async () => {
    await gateway?.server.stop();
  });

  // The outbox holds at most 256 frames and 2 MiB; the rest is socket buffers (64 KiB above the kernel's) and
  // the garbage of the frames read (about 4 MiB in all when measured). Unbounded pongs grew by tens of MB.
  const RSS_BOUND_BYTES = 24 * 1024 * 1024;

  it('is closed with 1008, counted, and the process RSS grows by less than 24 MiB', async () => {
    const bystander = await OcppClient.connect(gateway.url, 'BYSTANDER-1');
    const flooder = await OcppClient.connect(gateway.url, 'FLOOD-1');
    expectResult(await flooder.call('Heartbeat', {}));
    const rssBefore = await metric(gateway, 'process_resident_memory_bytes');
    assert.ok(rssBefore !== undefined && rssBefore > 0);

    flooder.socket.pause();
    const payload = randomBytes(125);
    let sent = 0;
    let closedByGateway = false;
    // At most ~100 MB of pongs: far more than any socket buffer, so only a bounded outbox ends the loop early.
    while (!closedByGateway && sent < 800_000 && flooder.ws.readyState === flooder.ws.OPEN) {
      for (let i = 0; i < 2000; i++) flooder.ws.ping(payload);
      sent += 2000;
      await new Promise((r) => setImmediate(r));
      if (sent % 10_000 === 0) closedByGateway = (await metric(gateway, 'ocpp_backpressure_closes_total')) === 1;
    }
    assert.equal(closedByGateway, true, `the gateway did not close the charger after ${sent} pings`);
    const rssAfter = await metric(gateway, 'process_resident_memory_bytes');
    // Reading again lets the close frame through.
    flooder.socket.resume();
    const closed = await within(flooder.closed, 10_000, 'the flooder seeing the close');
    assert.equal(closed.code, 1008);
    // The gateway's session ends when the closing handshake completes there, a moment after the charger saw it.
    await waitUntil(async () => (await metric(gateway, 'ocpp_disconnects_total')) !== undefined, 5000, 'the session to end');
    assert.equal(await metric(gateway, 'ocpp_disconnects_total', { cause: 'outbox_full' }), 1);
    assert.ok(rssAfter! - rssBefore < RSS_BOUND_BYTES, `RSS grew by ${((rssAfter! - rssBefore) / 1048576).toFixed(1)} MiB`);

    expectResult(await bystander.call('Heartbeat', {}));
    bystander.terminate();
    await assertUnharmed(gateway);
  });
});

describe('a slow reader that pings (real process)', () => {
  it('gets its queued answer once it reads again: the answer is not held back behind pongs', async () => {
    // A large outbox, so the pongs wait in it without it filling up.
    const configDir = await mkdtemp(join(tmpdir(), 'gw-hostile-config-'));
    await writeFile(join(configDir, 'application.yaml'), 'outbox:\n  maxQueuedFrames: 200000\n  maxQueuedBytes: 67108864\n');
    const gateway = await startProcess({ CONFIG_DIR: configDir });
    try {
      const charger = await OcppClient.connect(gateway.url, 'SLOW-1');
      charger.socket.pause();
      const payload = randomBytes(125);
      let sent = 0;
      // Until frames wait in the outbox: the socket buffers are full.
      while (((await metric(gateway, 'ocpp_outbox_queued_frames')) ?? 0) === 0 && sent < 200_000) {
        for (let i = 0; i < 1000; i++) charger.ws.ping(payload);
        sent += 1000;
        await new Promise((r) => setImmediate(r));
      }
      const id = charger.sendCall('Heartbeat', {});
      await waitUntil(async () => (await metric(gateway, 'ocpp_messages_total', { direction: 'out', type: 'result', action: 'Heartbeat' })) === 1, 5000, 'the answer');
      charger.socket.resume();
      expectResult(await charger.nextFrame(10_000), id);
      assert.equal(charger.isOpen, true);
      charger.terminate();
      await assertUnharmed(gateway);
    } finally {
      await gateway.server.stop();
      await rm(configDir, { recursive: true, force: true });
    }
  });
});

describe('connections that hold a descriptor without a session (real process)', () => {
  it('no-subprotocol connections count against server.maxConnections while open: the next charger gets 503', async () => {
    const gateway = await startProcess({ MAX_CONNECTIONS: '3' });
    const held: HeldUpgrade[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await holdUpgrade(gateway.server.port, `/ocpp/NOPROTO-${i}`, { 'Sec-WebSocket-Protocol': 'ocpp9.9' }));
      assert.deepEqual(
        held.map((h) => [h.status, h.closeCode]),
        [
          [101, 1002],
          [101, 1002],
          [101, 1002],
        ],
      );
      const refused = await OcppClient.tryConnect(gateway.url, 'NEXT-1');
      assert.equal(refused.ok, false);
      assert.equal(refused.ok === false ? refused.refusal?.status : undefined, 503);
      assert.match(refused.ok === false ? (refused.refusal?.body ?? '') : '', /maximum of 3/);
      assert.equal(await metric(gateway, 'ocpp_connection_attempts_total', { outcome: 'no_subprotocol' }), 3);
      assert.equal(await metric(gateway, 'ocpp_connection_attempts_total', { outcome: 'over_capacity' }), 1);

      // Once they are gone, their places are free again.
      for (const h of held) h.socket.destroy();
      let client: OcppClient | undefined;
      await waitUntil(
        async () => {
          const outcome = await OcppClient.tryConnect(gateway.url, 'NEXT-2');
          if (outcome.ok) client = outcome.client;
          return outcome.ok;
        },
        5000,
        'a place after the no-subprotocol connections closed',
      );
      expectResult(await client!.call('BootNotification', bootPayload('ocpp1.6')));
      client!.terminate();
      await assertUnharmed(gateway);
    } finally {
      for (const h of held) h.socket.destroy();
      await gateway.server.stop();
    }
  });
});

describe('no-subprotocol connections reset at once (real process)', () => {
  it('500 of them, completed and then reset, give back every place they held: ten chargers then fill all ten', async () => {
    const gateway = await startProcess({ MAX_CONNECTIONS: '10' });
    const clients: OcppClient[] = [];
    try {
      await manyThenReset(gateway.server.port, 500, () => upgradeRequest('/ocpp/NOPROTO-1', { 'Sec-WebSocket-Protocol': 'ocpp9.9' }));
      for (let i = 0; i < 10; i++) {
        await waitUntil(
          async () => {
            const outcome = await OcppClient.tryConnect(gateway.url, `PLACE-${i}`);
            if (outcome.ok) clients.push(outcome.client);
            return outcome.ok;
          },
          10_000,
          `place ${i + 1} of 10`,
        );
      }
      for (const client of clients) expectResult(await client.call('Heartbeat', {}));
      assert.equal(await metric(gateway, 'ocpp_connections'), 10);
      await assertUnharmed(gateway);
    } finally {
      for (const client of clients) client.terminate();
      await gateway.server.stop();
    }
  });
});

describe('handshakes ws refuses itself (real process)', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await startProcess();
  });
  after(async () => {
    await gateway?.server.stop();
  });

  const cases: Array<{ name: string; headers: Record<string, string>; outcome: string; body: RegExp; header?: [string, string] }> = [
    { name: 'a malformed Sec-WebSocket-Key', headers: { 'Sec-WebSocket-Key': 'not-a-key' }, outcome: 'bad_key', body: /Sec-WebSocket-Key/ },
    {
      name: 'an unsupported Sec-WebSocket-Version',
      headers: { 'Sec-WebSocket-Version': '12' },
      outcome: 'bad_version',
      body: /Sec-WebSocket-Version/,
      header: ['sec-websocket-version', '13, 8'],
    },
    { name: 'a malformed Sec-WebSocket-Protocol', headers: { 'Sec-WebSocket-Protocol': 'ocpp1.6,,' }, outcome: 'bad_subprotocol_header', body: /Sec-WebSocket-Protocol/ },
  ];
  for (const c of cases) {
    it(`${c.name} → HTTP 400 with the reason, counted as ${c.outcome}`, async () => {
      const before = (await metric(gateway, 'ocpp_connection_attempts_total', { outcome: c.outcome })) ?? 0;
      const result = await rawUpgrade(gateway.server.port, '/ocpp/WSREFUSED-1', { 'Sec-WebSocket-Protocol': 'ocpp1.6', ...c.headers });
      assert.equal(result.status, 400, `body: ${result.body}`);
      assert.match(result.body, c.body);
      if (c.header) assert.equal(result.headers[c.header[0]], c.header[1]);
      assert.equal(await metric(gateway, 'ocpp_connection_attempts_total', { outcome: c.outcome }), before + 1);
      await assertUnharmed(gateway);
    });
  }
});

describe('unparseable frames (real process)', () => {
  it('are counted each and logged at warn once per problem, naming the charger and the problem', async () => {
    const gateway = await startProcess();
    try {
      const client = await OcppClient.connect(gateway.url, 'MALFORMED-1');
      const ids = [nextId(), nextId(), nextId()];
      for (const id of ids) client.sendRaw(JSON.stringify([2, id, 'Heartbeat']));
      for (const id of ids) expectCallError(await client.nextFrame(), id, 'ProtocolError');
      expectResult(await client.call('Heartbeat', {}));
      assert.equal(await metric(gateway, 'ocpp_malformed_frames_total', { problem: 'bad_arity' }), 3);
      client.terminate();
      await assertUnharmed(gateway);
      // Every line the process wrote has been read once its stdout has closed.
      const stdoutClosed = new Promise((resolve) => gateway.server.child.stdout!.once('close', resolve));
      await gateway.server.stop();
      await within(stdoutClosed, 10_000, 'the process stdout to close');
      const warnings = gateway.server.stdout
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return {};
          }
        })
        .filter((entry) => entry.level === 40 && entry.problem === 'bad_arity');
      assert.equal(warnings.length, 1, `warn lines: ${JSON.stringify(warnings)}`);
      assert.equal(warnings[0].chargePointId, 'MALFORMED-1');
    } finally {
      await gateway.server.stop();
    }
  });
});

describe('the last-resort process guard', () => {
  it('logs and counts an uncaught exception and an unhandled rejection, and the process carries on to exit 0', async () => {
    const modules = {
      guard: new URL('../src/observability/process-guard.js', import.meta.url).href,
      metrics: new URL('../src/observability/metrics.js', import.meta.url).href,
      logger: new URL('../src/observability/logger.js', import.meta.url).href,
    };
    const script = `
      import { guardProcess } from '${modules.guard}';
      import { createMetrics } from '${modules.metrics}';
      import { createLogger } from '${modules.logger}';
      const metrics = createMetrics();
      guardProcess(createLogger('info'), metrics.uncaughtErrors);
      setTimeout(() => { throw new Error('thrown from a timer'); });
      setTimeout(() => { Promise.reject(new Error('rejected with nobody listening')); });
      setTimeout(async () => {
        const { values } = await metrics.uncaughtErrors.get();
        console.log(JSON.stringify({ counted: Object.fromEntries(values.map((v) => [v.labels.kind, v.value])) }));
      }, 50);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 10_000, 'the guarded process');
    assert.equal(code, 0, `stderr: ${stderr}`);
    const entries = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>);
    assert.deepEqual(entries.at(-1), { counted: { uncaughtException: 1, unhandledRejection: 1 } });
    const logged = entries.filter((e) => e.level === 50).map((e) => [e.kind, e.err?.message]);
    assert.deepEqual(logged, [
      ['uncaughtException', 'thrown from a timer'],
      ['unhandledRejection', 'rejected with nobody listening'],
    ]);
  });
});
