/**
 * Cluster mode under faults, through real processes: three `node dist/src/main.js` sharing a nats-server (JetStream
 * storage in a temp dir, so it survives its own restart) and a redis-server (append-only file synced on every write,
 * as production runs it), both of this test's own. Chargers are real WebSocket clients behaving like compliant 1.6
 * and 2.0.1 firmware running charging sessions: a CALL answered with a CALLERROR is sent again after a short delay
 * with the same message id and payload, and a dropped socket is replaced by a connection to the next instance
 * (round-robin) where the same CALL is sent again.
 *
 * While they charge, one instance is killed with SIGKILL, then NATS is killed and restarted, then Redis. Afterwards the
 * whole stream is read back and checked against what the chargers sent and were told.
 *
 * Without the nats-server or redis-server binaries the tests are skipped with the reason; with CI=true they fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { bootNotification, meterValues16, meterValues201, startTransaction16, statusNotification, stopTransaction16, transactionEvent201 } from '../src/sim/messages.js';
import type { Frame } from '../src/sim/ocpp-j.js';
import { metricSample, readMetrics } from './helpers/backend-http.js';
import { type ServerProcess, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { connectTo, natsServerBinarySkipReason, OwnNatsServer, readStream } from './helpers/nats-server.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';

const skip = (await natsServerBinarySkipReason()) || (await ownRedisSkipReason());
const STREAM = 'OCPP_EVENTS';
const OWNERSHIP_TTL_MS = 6000;
/** Chargers per OCPP version. */
const CHARGERS_PER_VERSION = 20;
/** Pause between two CALLs of one charger, and before a CALL answered with a CALLERROR is sent again. */
const CALL_PAUSE_MS = 150;
const RETRY_PAUSE_MS = 250;

// biome-ignore lint/suspicious/noExplicitAny: the test reads the fields of the JSON it asserts on
type Json = any;

interface Instance {
  podId: string;
  proc: ServerProcess;
  admin: string;
  chargers: string;
}

interface SentCall {
  action: string;
  messageId: string;
  /** What identifies the CALL in the stream: its action and its payload as sent (each payload is unique per charger). */
  key: string;
  acknowledged: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

function callKey(action: string, payload: unknown): string {
  return `${action}\n${JSON.stringify(payload)}`;
}

/**
 * One charger's firmware: a queue of CALLs sent one at a time, each until it gets a CALLRESULT. Everything it sent
 * and was told is kept for the checks.
 */
class Firmware {
  readonly calls: SentCall[] = [];
  readonly callErrors: string[] = [];
  /** Instance index of each connection, in order. */
  readonly connections: number[] = [];
  /** CALLRESULTs received on each connection (same positions as `connections`). */
  readonly acknowledgedOn: number[] = [];
  readonly commandsReceived: string[] = [];
  private client: OcppClient | undefined;
  private nextInstance: number;
  private sequence = 0;
  private meterWh = 0;
  stopRequested = false;
  done: Promise<void> | undefined;

  constructor(
    readonly identity: string,
    readonly version: 'ocpp1.6' | 'ocpp2.0.1',
    private readonly urls: () => string[],
    firstInstance: number,
  ) {
    this.nextInstance = firstInstance;
  }

  get acknowledged(): number {
    return this.calls.filter((c) => c.acknowledged).length;
  }

  get connectedTo(): number | undefined {
    return this.client?.isOpen ? this.connections.at(-1) : undefined;
  }

  start(): void {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    await this.send('BootNotification', bootNotification(this.version, this.identity));
    await this.send('StatusNotification', statusNotification(this.version, 1, 'Available'));
    for (let session = 0; !this.stopRequested; session++) {
      if (this.version === 'ocpp1.6') await this.session16();
      else await this.session201(session);
    }
    this.client?.terminate();
  }

  private async session16(): Promise<void> {
    await this.send('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: new Date().toISOString() });
    const started = await this.send('StartTransaction', startTransaction16(1, 'TAG-1', this.meterWh));
    const transactionId = started.transactionId as number;
    await this.send('StatusNotification', statusNotification(this.version, 1, 'Charging'));
    for (let i = 0; i < 3; i++) {
      this.meterWh += 100;
      await this.send('MeterValues', meterValues16(1, transactionId, this.meterWh));
    }
    this.meterWh += 100;
    await this.send('StopTransaction', stopTransaction16(transactionId, 'TAG-1', this.meterWh));
    await this.send('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: new Date().toISOString() });
    await this.send('StatusNotification', statusNotification(this.version, 1, 'Available'));
  }

  private async session201(session: number): Promise<void> {
    const transactionId = `${this.identity}-tx${session}`;
    await this.send('StatusNotification', statusNotification(this.version, 1, 'Charging'));
    let seqNo = 0;
    await this.send('TransactionEvent', transactionEvent201('Started', seqNo++, transactionId, 1, 'TAG-1', this.meterWh));
    for (let i = 0; i < 3; i++) {
      this.meterWh += 100;
      await this.send('TransactionEvent', transactionEvent201('Updated', seqNo++, transactionId, 1, 'TAG-1', this.meterWh));
    }
    this.meterWh += 100;
    await this.send('MeterValues', meterValues201(1, this.meterWh));
    await this.send('TransactionEvent', transactionEvent201('Ended', seqNo++, transactionId, 1, 'TAG-1', this.meterWh));
    await this.send('StatusNotification', statusNotification(this.version, 1, 'Available'));
  }

  /** Sends one CALL until it gets a CALLRESULT: the same message id and payload every time. */
  private async send(action: string, payload: Record<string, unknown>): Promise<Json> {
    const call: SentCall = { action, messageId: `${this.identity}-${++this.sequence}`, key: callKey(action, payload), acknowledged: false };
    this.calls.push(call);
    for (;;) {
      const client = await this.connected();
      let frame: Frame;
      try {
        frame = await client.call(action, payload, { messageId: call.messageId, timeoutMs: 15_000 });
      } catch {
        // Closed, or no answer: a new connection, and the CALL again.
        client.terminate();
        this.client = undefined;
        continue;
      }
      if (frame[0] === 3) {
        call.acknowledged = true;
        this.acknowledgedOn[this.acknowledgedOn.length - 1]++;
        await sleep(CALL_PAUSE_MS);
        return frame[2];
      }
      this.callErrors.push(String(frame[2]));
      await sleep(RETRY_PAUSE_MS);
    }
  }

  private async connected(): Promise<OcppClient> {
    if (this.client?.isOpen) return this.client;
    this.client?.terminate();
    for (;;) {
      const urls = this.urls();
      const instance = this.nextInstance;
      this.nextInstance = (this.nextInstance + 1) % urls.length;
      const outcome = await OcppClient.tryConnect(urls[instance], this.identity, [this.version], {
        autoAnswer: (action) => {
          this.commandsReceived.push(action);
          return { status: 'Accepted' };
        },
      });
      if (outcome.ok) {
        this.client = outcome.client;
        this.connections.push(instance);
        this.acknowledgedOn.push(0);
        return outcome.client;
      }
      await sleep(200);
    }
  }
}

describe('cluster mode under faults: an instance killed, NATS and Redis restarted while chargers charge', { skip }, () => {
  let nats: OwnNatsServer;
  let redisServer: OwnRedis;
  let nc: NatsConnection;
  const instances: Instance[] = [];
  const chargers: Firmware[] = [];

  before(async () => {
    nats = await OwnNatsServer.start();
    redisServer = await OwnRedis.start({ persistent: true });
    nc = await connectTo(nats.url);
    for (const podId of ['pod-A', 'pod-B', 'pod-C']) {
      const proc = await startServerProcess({
        env: {
          NATS_URL: nats.url,
          REDIS_URL: `redis://127.0.0.1:${redisServer.port}`,
          POD_ID: podId,
          OWNERSHIP_TTL_MS: String(OWNERSHIP_TTL_MS),
          NATS_ACK_TIMEOUT_MS: '2000',
        },
      });
      instances.push({ podId, proc, admin: `http://127.0.0.1:${proc.adminPort}`, chargers: `${proc.url}/ocpp` });
    }
  });

  after(async () => {
    for (const charger of chargers) charger.stopRequested = true;
    await Promise.all(instances.map((i) => i.proc.stop()));
    await nc?.close();
    await redisServer?.stop();
    await nats?.dispose();
  });

  /** Resolves once every charger has had `more` CALLRESULTs beyond `marks` (its counts when the marks were taken). */
  async function progress(what: string, more = 3): Promise<void> {
    const marks = chargers.map((c) => c.acknowledged);
    await waitUntil(() => chargers.every((c, i) => c.acknowledged >= marks[i] + more), 60_000, `every charger to progress ${what}`);
  }

  /** The instance's gateway_ownership_lapses_total, read from its /metrics (the series must be there). */
  async function lapses(instance: Instance): Promise<number> {
    const value = metricSample(await readMetrics(instance.admin), 'gateway_ownership_lapses_total', {}, true);
    assert.ok(value !== undefined, `${instance.podId} exports gateway_ownership_lapses_total`);
    return value;
  }

  async function readyz(instance: Instance): Promise<{ status: number; body: Json }> {
    return getJson(`${instance.admin}/readyz`);
  }

  /** Polls the survivors' /readyz until one answers 503 and returns that answer. */
  async function notReadyAnswer(survivors: Instance[]): Promise<{ status: number; body: Json }> {
    let seen: { status: number; body: Json } | undefined;
    await waitUntil(
      async () => {
        for (const instance of survivors) {
          const answer = await readyz(instance).catch(() => undefined);
          if (answer?.status === 503) seen = answer;
        }
        return seen !== undefined;
      },
      15_000,
      '/readyz 503',
    );
    return seen as { status: number; body: Json };
  }

  test("no acknowledged event lost, none twice, in order per charger; the dead instance's chargers reachable again", async () => {
    const urls = () => instances.map((i) => i.chargers);
    for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      for (let n = 0; n < CHARGERS_PER_VERSION; n++) {
        chargers.push(new Firmware(`FLT-${version === 'ocpp1.6' ? '16' : '201'}-${n}`, version, urls, chargers.length % instances.length));
      }
    }
    for (const charger of chargers) charger.start();
    await progress('before the faults', 4);

    // (1) pod-C killed: its chargers reconnect to the others and take commands there at once.
    const [podA, podB, podC] = instances;
    const onC = chargers.filter((c) => c.connectedTo === 2);
    assert.ok(onC.length > 0, 'pod-C holds chargers when it is killed');
    const connectionsBefore = new Map(onC.map((c) => [c, c.connections.length]));
    podC.proc.child.kill('SIGKILL');
    await waitUntil(
      () => onC.every((c) => c.connections.length > (connectionsBefore.get(c) ?? 0) && (c.acknowledgedOn.at(-1) ?? 0) > 0 && c.connectedTo !== 2),
      30_000,
      "pod-C's chargers to reconnect elsewhere and be answered there",
    );
    for (const charger of onC) {
      const payload = charger.version === 'ocpp1.6' ? { connectorId: 0, type: 'Operative' } : { operationalStatus: 'Operative' };
      const result = await postJson(`${podA.admin}/api/v1/charge-points/${charger.identity}/calls`, { action: 'ChangeAvailability', payload });
      assert.equal(result.status, 200, `command to ${charger.identity}: ${JSON.stringify(result.body)}`);
      assert.equal(result.body.status, 'completed');
      assert.deepEqual(result.body.response, { status: 'Accepted' });
    }
    assert.deepEqual(
      onC.map((c) => [c.identity, c.commandsReceived]),
      onC.map((c) => [c.identity, ['ChangeAvailability']]),
    );
    const survivors = [podA, podB];
    await progress('after pod-C died');

    // (2) NATS stalls for longer than the acknowledgement timeout: the CALLs waiting get InternalError, yet the
    // server stores their events when it resumes; the chargers' retries must not store them again.
    const connectionCounts = () => chargers.map((c) => c.connections.length);
    const errorsBeforeStall = chargers.reduce((n, c) => n + c.callErrors.length, 0);
    await nats.pause();
    await sleep(2500);
    nats.resume();
    await progress('after NATS stalled');
    assert.ok(chargers.reduce((n, c) => n + c.callErrors.length, 0) > errorsBeforeStall, 'CALLs got CALLERRORs while NATS stalled');

    // (3) NATS killed and restarted: chargers stay connected, CALLs get InternalError meanwhile, /readyz says so.
    const beforeNats = connectionCounts();
    const errorsBeforeNats = chargers.reduce((n, c) => n + c.callErrors.length, 0);
    await nats.kill();
    const natsDown = await notReadyAnswer(survivors);
    assert.deepEqual(natsDown.body, { status: 'not_ready', dependencies: { nats: 'down', redis: 'up', ownership: 'valid' } });
    await sleep(1500);
    await nats.launch();
    for (const instance of survivors) await waitUntil(async () => (await readyz(instance)).status === 200, 30_000, `${instance.podId} ready after NATS is back`);
    await progress('after NATS came back');
    assert.ok(chargers.reduce((n, c) => n + c.callErrors.length, 0) > errorsBeforeNats, 'CALLs got CALLERRORs while NATS was away');
    assert.deepEqual(connectionCounts(), beforeNats, 'no charger lost its connection while NATS restarted');

    // (4) Redis killed and restarted: the same.
    const beforeRedis = connectionCounts();
    const redisKilledAt = Date.now();
    await redisServer.kill();
    const redisDown = await notReadyAnswer(survivors);
    assert.deepEqual(redisDown.body, { status: 'not_ready', dependencies: { nats: 'up', redis: 'down', ownership: 'valid' } });
    await sleep(1500);
    await redisServer.restart();
    for (const instance of survivors) await waitUntil(async () => (await readyz(instance)).status === 200, 30_000, `${instance.podId} ready after Redis is back`);
    await progress('after Redis came back');
    // An instance whose renewals all failed would lapse one TTL after its last renewal got through, which may be
    // well after Redis is back: only once a whole TTL has passed since the kill does "no lapse" mean anything.
    await sleep(Math.max(0, redisKilledAt + OWNERSHIP_TTL_MS + 500 - Date.now()));
    for (const instance of survivors) assert.equal(await lapses(instance), 0, `${instance.podId} kept its registration through the Redis restart`);
    assert.deepEqual(connectionCounts(), beforeRedis, 'no charger lost its connection while Redis restarted');

    // Commands travel between the instances again: through the admin API of one to a charger held by the other.
    for (const [via, holderIndex] of [
      [podB, 0],
      [podA, 1],
    ] as const) {
      const charger = chargers.find((c) => c.connectedTo === holderIndex && c.version === 'ocpp1.6') as Firmware;
      const received = charger.commandsReceived.length;
      const result = await postJson(`${via.admin}/api/v1/charge-points/${charger.identity}/calls`, {
        action: 'ChangeAvailability',
        payload: { connectorId: 0, type: 'Operative' },
      });
      assert.equal(result.status, 200, `command via ${via.podId} to ${charger.identity}: ${JSON.stringify(result.body)}`);
      assert.deepEqual(result.body.response, { status: 'Accepted' });
      assert.deepEqual(charger.commandsReceived.slice(received), ['ChangeAvailability']);
    }

    // The chargers finish their current sessions.
    for (const charger of chargers) charger.stopRequested = true;
    await Promise.all(chargers.map((c) => c.done));

    // Every CALLERROR a charger got said the gateway could not take the message yet.
    const errorCodes = new Set(chargers.flatMap((c) => c.callErrors));
    assert.deepEqual([...errorCodes], ['InternalError']);

    // The whole stream, in stream order.
    const stored = await readStream(nc, STREAM);
    const byCharger = new Map<string, Json[]>();
    for (const m of stored) {
      const event = m.data;
      if (event.payload?.ocpp?.request === undefined) continue;
      let list = byCharger.get(event.chargePointId);
      if (list === undefined) byCharger.set(event.chargePointId, (list = []));
      list.push(event);
    }
    assert.deepEqual([...byCharger.keys()].sort(), chargers.map((c) => c.identity).sort(), 'every charger has CALL events in the stream');

    for (const charger of chargers) {
      const indexOfKey = new Map(charger.calls.map((c, i) => [c.key, i]));
      assert.equal(indexOfKey.size, charger.calls.length, `${charger.identity} sent no two CALLs alike`);
      const events = byCharger.get(charger.identity) ?? [];
      // Which CALL each event reports, and its event types per CALL.
      const typesPerCall = new Map<number, string[]>();
      const callOrder: number[] = [];
      for (const event of events) {
        const index = indexOfKey.get(callKey(event.payload.ocpp.action, event.payload.ocpp.request));
        assert.ok(index !== undefined, `${charger.identity}: an event for a CALL it never sent: ${JSON.stringify(event).slice(0, 300)}`);
        callOrder.push(index);
        const types = typesPerCall.get(index) ?? [];
        types.push(event.eventType);
        typesPerCall.set(index, types);
      }
      // None twice: one CALL never yields two events of one type (a retry stored again would).
      for (const [index, types] of typesPerCall) {
        assert.deepEqual(
          types,
          [...new Set(types)],
          `${charger.identity}: CALL ${charger.calls[index].messageId} (${charger.calls[index].action}) stored twice: ${types.join(', ')}`,
        );
      }
      // In order: the CALLs' events appear in the order the charger sent the CALLs.
      assert.deepEqual(
        callOrder,
        [...callOrder].sort((a, b) => a - b),
        `${charger.identity}: events out of the order of the CALLs`,
      );
      // Nothing lost: every CALL the charger got a CALLRESULT for has its events in the stream.
      const missing = charger.calls.filter((c, i) => c.acknowledged && !typesPerCall.has(i)).map((c) => `${c.messageId} ${c.action}`);
      assert.deepEqual(missing, [], `${charger.identity}: acknowledged CALLs without events`);
    }
  });

  test('a 1.6 StartTransaction stored after its InternalError, retried on another instance: one transaction, the one stored', async () => {
    const [podA, podB] = instances;
    const identity = 'FLT-START';
    const start = startTransaction16(1, 'TAG-9', 5000);
    const onA = await OcppClient.connect(podA.chargers, identity);
    await nats.pause();
    let first: Frame;
    try {
      first = await onA.call('StartTransaction', start, { messageId: 'start-1', timeoutMs: 20_000 });
    } finally {
      nats.resume();
    }
    assert.deepEqual([first[0], first[2]], [4, 'InternalError']);
    const startedEvents = async () => (await readStream(nc, STREAM, `gateway.events.transaction.started.${identity}`)).map((m) => m.data.payload.transactionId as string);
    // The server stores what it was sent before it stalled.
    await waitUntil(async () => (await startedEvents()).length === 1, 15_000, 'the first attempt stored');
    const storedId = (await startedEvents())[0];
    await onA.close();

    const onB = await OcppClient.connect(podB.chargers, identity);
    try {
      const retry = await onB.call('StartTransaction', start, { messageId: 'start-1', timeoutMs: 20_000 });
      assert.equal(retry[0], 3, JSON.stringify(retry));
      assert.equal(String((retry[2] as Json).transactionId), storedId, 'the retry is given the transactionId the stream already holds');
      assert.deepEqual(await startedEvents(), [storedId]);
    } finally {
      onB.terminate();
    }
  });
});
