/**
 * The simulator through real sockets: a load run against the baseline responder (a real child
 * process), the client class answering a central system's CALLs, and closes and failures being
 * counted by code and reason. No timing assertions: only outcomes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import { CallError, CallTimeoutError, NO_REPLY, runSimulation, SimulatedCharger } from '../src/sim/index.js';
import { startResponder, stopChild } from './helpers/responder.js';

/** A tiny central system: `onConnection` gets every accepted socket. */
async function tinyServer(
  onConnection: (ws: WebSocket, identity: string) => void,
  options: { verifyClient?: (info: { req: import('node:http').IncomingMessage }) => boolean; protocols?: string[] } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const protocols = options.protocols ?? ['ocpp1.6', 'ocpp2.0.1'];
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    verifyClient: options.verifyClient,
    handleProtocols: (offered) => [...offered].find((p) => protocols.includes(p)) ?? false,
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws, req) => onConnection(ws, decodeURIComponent(req.url!.split('/').pop()!)));
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Answers every CALL of a charger like a permissive central system. */
function answerEverything(ws: WebSocket): void {
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as unknown[];
    if (frame[0] !== 2) return;
    const action = frame[2];
    const payload = action === 'BootNotification' ? { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 } : {};
    ws.send(JSON.stringify([3, frame[1], payload]));
  });
}

describe('load run against the baseline responder', () => {
  let responder: { child: ChildProcess; port: number };
  before(async () => {
    responder = await startResponder();
  });
  after(async () => {
    if (responder) await stopChild(responder.child);
  });

  it('connects every charger and gets every CALL answered, over two workers, both versions', async () => {
    const report = await runSimulation({
      url: `ws://127.0.0.1:${responder.port}/ocpp`,
      chargers: 200,
      protocol: 'mix',
      durationSec: 10,
      drainSec: 5,
      callsPerMinute: 30,
      heartbeatsBetweenSessions: 1,
      meterValuesPerSession: 2,
      workers: 2,
      serverPid: responder.child.pid,
    });
    assert.deepEqual(report.failures, []);
    assert.equal(report.passed, true);
    assert.equal(report.workers, 2);
    const c = report.connections;
    assert.equal(c.everConnected, 200);
    assert.equal(c.openAtEnd, 200);
    assert.equal(c.booted, 200);
    assert.equal(c.failed, 0);
    assert.equal(c.unexpectedCloses, 0);
    const k = report.calls;
    assert.ok(k.sent > 200 * 4, `only ${k.sent} calls`); // boot + three statuses each, then the paced load
    assert.equal(k.answered, k.sent);
    assert.equal(k.callErrors + k.timedOut + k.abortedByClose + k.unansweredAtEnd, 0);
    assert.equal(k.latency.count, k.sent);
    assert.ok(k.steadyLatency.count > 0 && k.steadyLatency.count < k.sent); // the ramp's calls are left out
    // Both versions ran their sessions.
    for (const action of ['BootNotification', 'StatusNotification', 'Heartbeat', 'Authorize', 'StartTransaction', 'MeterValues', 'TransactionEvent']) {
      assert.ok((k.byAction[action] ?? 0) > 0, `no ${action} sent`);
    }
    assert.ok(report.server && report.server.rssLoadedMB > 0);
    assert.equal(report.simulator.workers.length, 2);
  });
});

describe('SimulatedCharger', () => {
  it('answers central-system CALLs from its table, with NotImplemented for unknown actions', async (t) => {
    let server!: WebSocket;
    let serverReady!: () => void;
    const connected = new Promise<void>((resolve) => (serverReady = resolve));
    const tiny = await tinyServer((ws) => {
      server = ws;
      serverReady();
    });
    t.after(() => tiny.close()); // also when an assertion fails half-way
    const charger = new SimulatedCharger({ url: tiny.url, identity: 'CP 1/ä', protocols: ['ocpp2.0.1'] });
    assert.equal(await charger.connect(), 'ocpp2.0.1');
    await connected;

    /** Sends a CALL from the server side and resolves with the charger's reply frame. */
    const ask = (id: string, action: string, payload: unknown): Promise<unknown[]> =>
      new Promise((resolve) => {
        const onMessage = (data: Buffer): void => {
          const frame = JSON.parse(data.toString()) as unknown[];
          if (frame[1] === id) {
            server.off('message', onMessage);
            resolve(frame);
          }
        };
        server.on('message', onMessage);
        server.send(JSON.stringify([2, id, action, payload]));
      });

    assert.deepEqual(await ask('a1', 'Reset', { type: 'Immediate' }), [3, 'a1', { status: 'Accepted' }]);
    const vars = await ask('a2', 'GetVariables', {
      getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }],
    });
    assert.equal((vars[2] as { getVariableResult: Array<{ attributeValue: string }> }).getVariableResult[0].attributeValue, '300');
    const unknown = await ask('a3', 'FooBar', {});
    assert.equal(unknown[0], 4);
    assert.equal(unknown[2], 'NotImplemented');
    assert.deepEqual(unknown[4], {});

    // A handler of the test's own replaces the table, may refuse with a CALLERROR, or stay silent.
    charger.onCall((action, payload) => {
      if (action === 'DataTransfer') return { status: 'Accepted', data: String(payload.data).toUpperCase() };
      if (action === 'Reset') throw new CallError('SecurityError', 'not now');
      return NO_REPLY;
    });
    assert.deepEqual(await ask('b1', 'DataTransfer', { vendorId: 'x', data: 'hi' }), [3, 'b1', { status: 'Accepted', data: 'HI' }]);
    assert.deepEqual(await ask('b2', 'Reset', { type: 'Immediate' }), [4, 'b2', 'SecurityError', 'not now', {}]);
    server.send(JSON.stringify([2, 'b3', 'ClearCache', {}]));
    const seen = await charger.waitForMessage((f) => f[1] === 'b3');
    assert.equal(seen[2], 'ClearCache');

    // Its own CALLs: a CALLRESULT resolves, a CALLERROR rejects with the code, silence times out.
    server.on('message', (data: Buffer) => {
      let frame: unknown[];
      try {
        frame = JSON.parse(data.toString()) as unknown[];
      } catch {
        return; // the hand-made frame below
      }
      if (frame[0] !== 2) return;
      if (frame[2] === 'Heartbeat') server.send(JSON.stringify([3, frame[1], { currentTime: 'now' }]));
      if (frame[2] === 'Authorize') server.send(JSON.stringify([4, frame[1], 'FormatViolation', 'bad idToken', {}]));
    });
    assert.deepEqual(await charger.call('Heartbeat', {}), { currentTime: 'now' });
    await assert.rejects(charger.call('Authorize', {}), (e: unknown) => e instanceof CallError && e.code === 'FormatViolation');
    await assert.rejects(charger.call('StatusNotification', {}, { timeoutMs: 200 }), CallTimeoutError);

    // A hand-made frame goes out as it is.
    const raw = new Promise<string>((resolve) => server.once('message', (d: Buffer) => resolve(d.toString())));
    charger.sendRaw('[2,"x"');
    assert.equal(await raw, '[2,"x"');

    // The server closes: the charger sees the code and the reason.
    const closed = charger.waitForClose();
    server.close(4001, 'bye');
    assert.deepEqual(await closed, { code: 4001, reason: 'bye', byUs: false });
  });

  it('keeps one CALL outstanding at a time, answering later calls in order', async (t) => {
    const outstanding: number[] = [];
    let maxOutstanding = 0;
    const tiny = await tinyServer((ws) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as unknown[];
        outstanding.push(1);
        maxOutstanding = Math.max(maxOutstanding, outstanding.length);
        setTimeout(() => {
          outstanding.pop();
          ws.send(JSON.stringify([3, frame[1], { n: (frame[3] as { n: number }).n }]));
        }, 5);
      });
    });
    t.after(() => tiny.close());
    const charger = new SimulatedCharger({ url: tiny.url, identity: 'ORDER1' });
    await charger.connect();
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => charger.call('DataTransfer', { n })));
    assert.deepEqual(
      results.map((r) => (r as { n: number }).n),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal(maxOutstanding, 1);
    await charger.close();
  });
});

describe('central-system CALLs during a load run', () => {
  it('answers them and acts on TriggerMessage and RemoteStartTransaction like a charger', async (t) => {
    const triggered = new Map<string, string[]>(); // identity -> actions received after the commands
    const replies: unknown[][] = [];
    const tiny = await tinyServer((ws, identity) => {
      let commanded = false;
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as unknown[];
        if (frame[0] !== 2) {
          replies.push(frame);
          return;
        }
        if (commanded) triggered.get(identity)!.push(frame[2] as string);
        const payload =
          frame[2] === 'BootNotification'
            ? { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }
            : frame[2] === 'StartTransaction'
              ? { transactionId: 7, idTagInfo: { status: 'Accepted' } }
              : frame[2] === 'Authorize'
                ? { idTagInfo: { status: 'Accepted' } }
                : {};
        ws.send(JSON.stringify([3, frame[1], payload]));
        if (frame[2] === 'StatusNotification' && !commanded) {
          commanded = true;
          triggered.set(identity, []);
          ws.send(JSON.stringify([2, 'c1', 'TriggerMessage', { requestedMessage: 'MeterValues', connectorId: 1 }]));
          ws.send(JSON.stringify([2, 'c2', 'RemoteStartTransaction', { idTag: 'REMOTE1', connectorId: 1 }]));
          ws.send(JSON.stringify([2, 'c3', 'NoSuchAction', {}]));
        }
      });
    });
    t.after(() => tiny.close());
    // A slow pace: what the chargers send after the commands comes from the commands, not the pace.
    const report = await runSimulation({ url: tiny.url, chargers: 4, workers: 0, callsPerMinute: 1, heartbeatsBetweenSessions: 5, durationSec: 3, drainSec: 2 });
    assert.equal(report.centralSystem.callsReceived, 12);
    assert.equal(report.centralSystem.answered, 8);
    assert.deepEqual(report.centralSystem.callErrorsByCode, { NotImplemented: 4 });
    assert.equal(replies.filter((f) => f[0] === 3 && (f[2] as { status?: string }).status === 'Accepted').length, 8);
    for (const [identity, actions] of triggered) {
      assert.ok(actions.includes('MeterValues'), `${identity} did not send the triggered MeterValues: ${actions.join()}`);
      assert.ok(actions.includes('Authorize'), `${identity} did not start the remote session: ${actions.join()}`);
    }
  });
});

describe('closes and failures are counted', () => {
  it('counts unexpected closes by close code', async (t) => {
    const tiny = await tinyServer((ws) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as unknown[];
        ws.send(JSON.stringify([3, frame[1], { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }]));
        ws.close(4000, 'go away');
      });
    });
    t.after(() => tiny.close());
    const report = await runSimulation({ url: tiny.url, chargers: 6, workers: 0, reconnect: false, durationSec: 1.5, drainSec: 1 });
    assert.equal(report.connections.everConnected, 6);
    assert.equal(report.connections.unexpectedCloses, 6);
    assert.deepEqual(report.connections.unexpectedClosesByCode, { '4000': 6 });
    assert.equal(report.connections.openAtEnd, 0);
    assert.equal(report.passed, false);
  });

  it('reconnects dropped chargers and counts each reconnect', async (t) => {
    const seen = new Set<string>();
    const tiny = await tinyServer((ws, identity) => {
      if (!seen.has(identity)) {
        seen.add(identity);
        setTimeout(() => ws.terminate(), 50); // drop the first connection of each charger
      }
      answerEverything(ws);
    });
    t.after(() => tiny.close());
    const report = await runSimulation({
      url: tiny.url,
      chargers: 5,
      workers: 0,
      durationSec: 3,
      drainSec: 2,
      reconnectBaseSec: 0.1,
      reconnectMaxSec: 0.2,
    });
    assert.equal(report.connections.unexpectedClosesByCode['1006'], 5);
    assert.ok(report.connections.reconnects >= 5);
    assert.equal(report.connections.openAtEnd, 5);
    assert.equal(report.connections.booted, 5);
  });

  it('names why connections failed: HTTP status, refused subprotocol', async (t) => {
    const auth = await tinyServer(answerEverything, {
      verifyClient: ({ req }) => req.headers.authorization === 'Basic ' + Buffer.from(`${decodeURIComponent(req.url!.split('/').pop()!)}:right`).toString('base64'),
    });
    t.after(() => auth.close());
    const ok = await runSimulation({ url: auth.url, chargers: 2, workers: 0, password: 'right', durationSec: 0.5, drainSec: 1 });
    assert.equal(ok.connections.everConnected, 2);
    const refused = await runSimulation({ url: auth.url, chargers: 2, workers: 0, password: 'wrong', reconnect: false, durationSec: 0.5, drainSec: 1 });
    assert.deepEqual(refused.connections.failedByReason, { 'http-401': 2 });

    const only16 = await tinyServer(answerEverything, { protocols: ['ocpp1.6'] });
    t.after(() => only16.close());
    const wrongVersion = await runSimulation({ url: only16.url, chargers: 2, protocol: '2.0.1', workers: 0, reconnect: false, durationSec: 0.5, drainSec: 1 });
    assert.deepEqual(wrongVersion.connections.failedByReason, { 'no-subprotocol': 2 });
  });
});
