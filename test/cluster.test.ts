/**
 * Cluster mode through real processes: three `node dist/src/main.js` with distinct POD_IDs against a nats-server
 * (JetStream) and a redis-server of this test's own, on free ports. Chargers are real WebSocket clients; what the
 * cluster stored is read back from the JetStream stream and from Redis directly.
 *
 * Without the nats-server or redis-server binaries the tests are skipped with the reason; with CI=true they fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { encodeSubjectToken } from '../src/bus/subject-token.js';
import { SseStream } from './helpers/backend-http.js';
import { freePort, handWrittenUpgrade, runServerProcessToExit, type ServerProcess, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { connectTo, natsServerBinarySkipReason, OwnNatsServer, readStream } from './helpers/nats-server.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';

const skip = (await natsServerBinarySkipReason()) || (await ownRedisSkipReason());
const STREAM = 'OCPP_EVENTS';

interface Instance {
  podId: string;
  proc: ServerProcess;
  admin: string;
  chargers: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read the fields of the JSON answers they assert on
type Json = any;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function getJson(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** One sample of a Prometheus counter from an instance's /metrics (0 when the series does not exist yet). */
async function metric(instance: Instance, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${instance.admin}/metrics`)).text();
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** Who holds `identity` in Redis (the registry's `conn:{identity}` hash), or null. */
async function holder(redis: Redis, identity: string): Promise<{ instance: string; epoch: number } | null> {
  const hash = await redis.hgetall(`conn:{${identity}}`);
  if (hash.instance === undefined) return null;
  return { instance: hash.instance, epoch: Number(hash.epoch) };
}

async function natsRequest(nc: NatsConnection, subject: string, body: unknown): Promise<Json> {
  const reply = await nc.request(subject, encoder.encode(JSON.stringify(body)), { timeout: 10_000 });
  return JSON.parse(decoder.decode(reply.data));
}

/** Presence events of one charger in the stream, in stream order. */
async function presence(nc: NatsConnection, identity: string): Promise<Array<{ eventType: string; gatewayId: string; epoch: number; code?: number }>> {
  const stored = await readStream(nc, STREAM, `gateway.events.charge_point.*.${encodeSubjectToken(identity)}`);
  return stored
    .filter((m) => m.data.eventType === 'charge_point.connected' || m.data.eventType === 'charge_point.disconnected')
    .map((m) => ({
      eventType: m.data.eventType,
      gatewayId: m.data.gatewayId,
      epoch: m.data.payload.epoch,
      ...(m.data.eventType === 'charge_point.disconnected' ? { code: m.data.payload.code } : {}),
    }));
}

const CHANGE_AVAILABILITY = { action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Operative' } };

describe('cluster mode: three gateway processes sharing one NATS and one Redis', { skip }, () => {
  let nats: OwnNatsServer;
  let redisServer: OwnRedis;
  let redis: Redis;
  let nc: NatsConnection;
  const instances: Record<'A' | 'B' | 'C', Instance> = {} as never;
  const clients: OcppClient[] = [];

  const clusterEnv = () => ({ NATS_URL: nats.url, REDIS_URL: `redis://127.0.0.1:${redisServer.port}` });

  async function connect(instance: Instance, identity: string, answers: string[] = []): Promise<OcppClient> {
    const client = await OcppClient.connect(instance.chargers, identity, ['ocpp1.6'], {
      autoAnswer: (action) => {
        answers.push(action);
        return { status: 'Accepted' };
      },
    });
    clients.push(client);
    return client;
  }

  before(async () => {
    nats = await OwnNatsServer.start();
    redisServer = await OwnRedis.start();
    redis = redisServer.client();
    // The test kills Redis on purpose; its own client reconnects quietly.
    redis.on('error', () => {});
    nc = await connectTo(nats.url);
    for (const podId of ['A', 'B', 'C'] as const) {
      const proc = await startServerProcess({
        // A short acknowledgement timeout keeps the stalled-stream test short.
        // pod-B's short ownership TTL lets the Redis outage below outlast it within the test.
        env: {
          ...clusterEnv(),
          POD_ID: `pod-${podId}`,
          NATS_ACK_TIMEOUT_MS: '1000',
          ...(podId === 'B' ? { OWNERSHIP_TTL_MS: '3000' } : {}),
        },
      });
      instances[podId] = { podId: `pod-${podId}`, proc, admin: `http://127.0.0.1:${proc.adminPort}`, chargers: `${proc.url}/ocpp` };
    }
  });

  after(async () => {
    for (const client of clients) client.terminate();
    await Promise.all(Object.values(instances).map((i) => i.proc.stop()));
    await nc?.close();
    redis?.disconnect();
    await redisServer?.stop();
    await nats?.dispose();
  });

  test('/readyz lists NATS, Redis and the ownership registration', async () => {
    const ready = await getJson(`${instances.A.admin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', dependencies: { nats: 'up', redis: 'up', ownership: 'valid' } });
  });

  test('a command sent to instance A reaches the charger on instance C, over HTTP and over NATS', async () => {
    const answered: string[] = [];
    await connect(instances.C, 'CL-ON-C', answered);
    await waitUntil(async () => (await holder(redis, 'CL-ON-C'))?.instance === 'pod-C', 10_000, 'CL-ON-C claimed by pod-C');

    const viaHttp = await postJson(`${instances.A.admin}/api/v1/charge-points/CL-ON-C/calls`, { ...CHANGE_AVAILABILITY, commandId: 'cmd-http' });
    assert.equal(viaHttp.status, 200);
    assert.equal(viaHttp.body.status, 'completed');
    assert.equal(viaHttp.body.commandId, 'cmd-http');
    assert.equal(viaHttp.body.chargePointId, 'CL-ON-C');
    assert.deepEqual(viaHttp.body.response, { status: 'Accepted' });

    const viaChargerSubject = await natsRequest(nc, `gateway.commands.${encodeSubjectToken('CL-ON-C')}`, { ...CHANGE_AVAILABILITY, commandId: 'cmd-nats' });
    assert.equal(viaChargerSubject.status, 'completed');
    assert.equal(viaChargerSubject.commandId, 'cmd-nats');
    assert.deepEqual(viaChargerSubject.response, { status: 'Accepted' });

    const viaSharedSubject = await natsRequest(nc, 'gateway.commands', { ...CHANGE_AVAILABILITY, chargePointId: 'CL-ON-C', commandId: 'cmd-shared' });
    assert.equal(viaSharedSubject.status, 'completed');
    assert.deepEqual(viaSharedSubject.response, { status: 'Accepted' });

    assert.deepEqual(answered, ['ChangeAvailability', 'ChangeAvailability', 'ChangeAvailability']);
  });

  test('a command to a charger connected nowhere is DEVICE_OFFLINE, over HTTP and over NATS', async () => {
    const viaHttp = await postJson(`${instances.A.admin}/api/v1/charge-points/CL-NOWHERE/calls`, CHANGE_AVAILABILITY);
    assert.equal(viaHttp.status, 404);
    assert.equal(viaHttp.body.error.code, 'DEVICE_OFFLINE');
    assert.equal(viaHttp.body.error.message, 'charge point CL-NOWHERE is not connected to any gateway instance');

    const viaNats = await natsRequest(nc, `gateway.commands.${encodeSubjectToken('CL-NOWHERE')}`, CHANGE_AVAILABILITY);
    assert.equal(viaNats.status, 'rejected');
    assert.equal(viaNats.error.code, 'DEVICE_OFFLINE');
  });

  test('a charger moving from A to B: A closes the old socket with 4000, B owns it, presence is ordered in the stream', async () => {
    const onA = await connect(instances.A, 'CL-MOVE');
    await waitUntil(async () => (await holder(redis, 'CL-MOVE'))?.instance === 'pod-A', 10_000, 'CL-MOVE claimed by pod-A');
    const epochA = (await holder(redis, 'CL-MOVE'))?.epoch as number;

    const answeredOnB: string[] = [];
    await connect(instances.B, 'CL-MOVE', answeredOnB);
    const closedOnA = await onA.closed;
    assert.equal(closedOnA.code, 4000);
    await waitUntil(async () => (await holder(redis, 'CL-MOVE'))?.instance === 'pod-B', 10_000, 'CL-MOVE claimed by pod-B');
    const epochB = (await holder(redis, 'CL-MOVE'))?.epoch as number;
    assert.ok(epochB > epochA, `B's epoch ${epochB} is above A's ${epochA}`);

    // A's close has been handled and its conditional release refused: B still holds the identity.
    await waitUntil(async () => (await metric(instances.A, 'gateway_ownership_releases_total', { outcome: 'not_held' })) === 1, 10_000, "A's release");
    assert.deepEqual(await holder(redis, 'CL-MOVE'), { instance: 'pod-B', epoch: epochB });

    const command = await postJson(`${instances.A.admin}/api/v1/charge-points/CL-MOVE/calls`, CHANGE_AVAILABILITY);
    assert.equal(command.status, 200);
    assert.deepEqual(command.body.response, { status: 'Accepted' });
    assert.deepEqual(answeredOnB, ['ChangeAvailability']);

    await waitUntil(async () => (await presence(nc, 'CL-MOVE')).length === 3, 10_000, 'three presence events of CL-MOVE');
    assert.deepEqual(await presence(nc, 'CL-MOVE'), [
      { eventType: 'charge_point.connected', gatewayId: 'pod-A', epoch: epochA },
      { eventType: 'charge_point.disconnected', gatewayId: 'pod-A', epoch: epochA, code: 4000 },
      { eventType: 'charge_point.connected', gatewayId: 'pod-B', epoch: epochB },
    ]);
  });

  test('an event-policy CALL is answered only once its event is in the stream', async () => {
    const charger = await connect(instances.B, 'CL-EVENTS');
    for (const status of ['Available', 'Preparing', 'Charging']) {
      const timestamp = new Date().toISOString();
      const answer = await charger.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp });
      assert.equal(answer[0], 3, `CALLRESULT for ${status}: ${JSON.stringify(answer)}`);
      const stored = await readStream(nc, STREAM, `gateway.events.connector.status_changed.${encodeSubjectToken('CL-EVENTS')}`);
      const found = stored.filter((m) => m.data.payload.status === status && m.data.payload.timestamp === timestamp);
      assert.equal(found.length, 1, `the ${status} event is stored when its CALLRESULT arrives`);
    }
  });

  test("any instance's admin API shows the whole cluster: the listing with each charger's instance, a detail held elsewhere", async () => {
    const listed = await getJson(`${instances.A.admin}/api/v1/charge-points?limit=100`);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((c: Json) => [c.identity, c.instance]),
      [
        ['CL-EVENTS', 'pod-B'],
        ['CL-MOVE', 'pod-B'],
        ['CL-ON-C', 'pod-C'],
      ],
    );
    const detail = await getJson(`${instances.A.admin}/api/v1/charge-points/CL-EVENTS`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.instance, 'pod-B');
    assert.deepEqual(
      detail.body.connectors.map((c: Json) => c.status),
      ['Charging'],
    );
  });

  test("the event stream on any instance carries every instance's events and resumes after Last-Event-ID", async () => {
    const stored = await readStream(nc, STREAM, `gateway.events.connector.status_changed.${encodeSubjectToken('CL-EVENTS')}`);
    assert.equal(stored.length, 3);
    // Resume on instance C, which holds none of CL-EVENTS's sockets, right after the first of its three statuses.
    const stream = await SseStream.open(instances.C.admin, { chargePointId: 'CL-EVENTS', eventType: 'connector.status_changed' }, 5000, {
      'Last-Event-ID': String(stored[0].seq),
    });
    try {
      await stream.waitFor((e) => e.payload.status === 'Charging', 10_000, 'the third status');
      assert.deepEqual(
        stream.events.map((e) => [Number(e.id), e.data.payload.status]),
        [
          [stored[1].seq, 'Preparing'],
          [stored[2].seq, 'Charging'],
        ],
      );
    } finally {
      await stream.close();
    }
  });

  test('1.6 transactionIds are unique across the instances', async () => {
    const ids: number[] = [];
    for (const [instance, identity] of [
      [instances.A, 'CL-TX-A'],
      [instances.C, 'CL-TX-C'],
    ] as const) {
      const charger = await connect(instance, identity);
      for (let meterStart = 0; meterStart < 3; meterStart++) {
        const answer = await charger.call('StartTransaction', { connectorId: 1, idTag: 'TAG', meterStart, timestamp: new Date().toISOString() });
        assert.equal(answer[0], 3, JSON.stringify(answer));
        ids.push((answer[2] as Json).transactionId);
      }
    }
    assert.equal(new Set(ids).size, 6, `six distinct ids: ${ids.join(', ')}`);
  });

  test('a backend-policy CALL is a NATS request on gateway.requests.{action}; the answer goes to the charger', async () => {
    const asked: Json[] = [];
    const sub = nc.subscribe('gateway.requests.BootNotification', {
      callback: (_err, msg) => {
        asked.push(JSON.parse(decoder.decode(msg.data)));
        msg.respond(encoder.encode(JSON.stringify({ status: 'Pending', currentTime: new Date().toISOString(), interval: 42 })));
      },
    });
    try {
      await nc.flush();
      const charger = await connect(instances.A, 'CL-BOOT');
      const answer = await charger.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' });
      assert.equal(answer[0], 3);
      const payload = answer[2] as Json;
      assert.equal(payload.status, 'Pending');
      assert.equal(payload.interval, 42);
      assert.equal(asked.length, 1);
      assert.deepEqual(
        { chargePointId: asked[0].chargePointId, gatewayId: asked[0].gatewayId, action: asked[0].action, payload: asked[0].payload },
        { chargePointId: 'CL-BOOT', gatewayId: 'pod-A', action: 'BootNotification', payload: { chargePointVendor: 'Acme', chargePointModel: 'X1' } },
      );
    } finally {
      sub.unsubscribe();
    }
  });

  test('refuses to start with one line: POD_ID missing, POD_ID of a live instance, only one of NATS_URL and REDIS_URL', async () => {
    const cases: Array<{ env: Record<string, string>; line: string }> = [
      { env: { ...clusterEnv() }, line: 'gateway: invalid configuration at instance.id (POD_ID): cluster mode needs POD_ID, unique among the live instances' },
      {
        env: { ...clusterEnv(), POD_ID: 'pod-A' },
        line: 'gateway: invalid configuration at instance.id (POD_ID): instance id "pod-A" is held by another live gateway instance; every instance needs its own POD_ID',
      },
      {
        // REDIS_ADDR (host:port) reaches the same Redis, which knows pod-A.
        env: { NATS_URL: nats.url, REDIS_ADDR: `127.0.0.1:${redisServer.port}`, POD_ID: 'pod-A' },
        line: 'gateway: invalid configuration at instance.id (POD_ID): instance id "pod-A" is held by another live gateway instance; every instance needs its own POD_ID',
      },
      {
        env: { NATS_URL: nats.url, POD_ID: 'pod-X' },
        line: 'gateway: invalid configuration at cluster.redisUrl (REDIS_URL): cluster mode needs both NATS_URL and REDIS_URL (or neither, for the embedded mode)',
      },
      {
        env: { REDIS_URL: `redis://127.0.0.1:${redisServer.port}`, POD_ID: 'pod-X' },
        line: 'gateway: invalid configuration at cluster.natsUrl (NATS_URL): cluster mode needs both NATS_URL and REDIS_URL (or neither, for the embedded mode)',
      },
    ];
    for (const { env, line } of cases) {
      const run = await runServerProcessToExit({ env: { ...env, SERVER_PORT: String(await freePort()) } });
      assert.equal(run.code, 2, `exit code for ${JSON.stringify(env)}; stderr: ${run.stderr}`);
      assert.equal(run.stderr, `${line}\n`);
    }
  });

  test('refuses to start with one line when NATS cannot be reached, and gives its POD_ID back at once', async () => {
    const nobody = await freePort();
    const run = await runServerProcessToExit({
      env: { ...clusterEnv(), NATS_URL: `nats://127.0.0.1:${nobody}`, POD_ID: 'pod-N', SERVER_PORT: String(await freePort()) },
    });
    assert.equal(run.code, 1, `stderr: ${run.stderr}`);
    assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
    assert.match(run.stderr, /^gateway: cannot join the cluster: NATS \(NATS_URL\) cannot be reached or its events stream set up: /);
    assert.equal(await redis.hexists('instances:{registry}', 'pod-N'), 0);
  });

  test('a connection on B that ends before it shows life claims nothing and leaves the charger on A open', async () => {
    // A handshake the charger had given up on, handed over by B's kernel after the charger's live connection on A
    // (a reconnect storm behind a load balancer): answered, pinged, then ended by the charger's queued FIN.
    const onA = await connect(instances.A, 'CL-GAVEUP');
    await waitUntil(async () => (await holder(redis, 'CL-GAVEUP'))?.instance === 'pod-A', 10_000, 'CL-GAVEUP claimed by pod-A');
    const heldByA = await holder(redis, 'CL-GAVEUP');
    const abandonedBefore = await metric(instances.B, 'ocpp_takeover_waits_total', { outcome: 'abandoned' });
    const gaveUp = await handWrittenUpgrade(Number(new URL(instances.B.chargers).port), '/ocpp/CL-GAVEUP');
    await waitUntil(() => gaveUp.received().includes(Buffer.from([0x89, 0x00])), 10_000, 'the 101 and a ping on the connection to B');
    assert.match(gaveUp.received().toString('latin1'), /^HTTP\/1\.1 101/);
    gaveUp.socket.end();
    await waitUntil(
      async () => (await metric(instances.B, 'ocpp_takeover_waits_total', { outcome: 'abandoned' })) === abandonedBefore + 1,
      10_000,
      'the connection to B to end while it waited',
    );
    gaveUp.socket.destroy();
    assert.deepEqual(await holder(redis, 'CL-GAVEUP'), heldByA);
    assert.equal(onA.isOpen, true);
    expectResult(await onA.call('Heartbeat', {}));
    assert.deepEqual(
      (await presence(nc, 'CL-GAVEUP')).map((e) => [e.eventType, e.gatewayId]),
      [['charge_point.connected', 'pod-A']],
    );
    await onA.close();
  });

  test('CALLs sent while the claim is pending wait for it: connected is stored before their events', async () => {
    redisServer.pause();
    let charger: OcppClient;
    let messageId: string;
    try {
      charger = await connect(instances.A, 'CL-HELD');
      messageId = charger.sendCall('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: new Date().toISOString() });
      assert.equal(await charger.quietFor(300), true, 'no answer while the claim waits for Redis');
    } finally {
      redisServer.resume();
    }
    const answer = await charger.nextFrame(5000);
    assert.deepEqual([answer[0], answer[1]], [3, messageId]);
    const stored = await readStream(nc, STREAM, `gateway.events.*.*.${encodeSubjectToken('CL-HELD')}`);
    assert.deepEqual(
      stored.map((m) => m.data.eventType),
      ['charge_point.connected', 'connector.status_changed'],
    );
  });

  test('an event-policy CALL the stream cannot acknowledge in time gets InternalError, not a CALLRESULT', async () => {
    const charger = await connect(instances.B, 'CL-STALLED');
    await waitUntil(async () => (await holder(redis, 'CL-STALLED'))?.instance === 'pod-B', 10_000, 'CL-STALLED claimed by pod-B');
    await nats.pause();
    try {
      const answer = await charger.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: new Date().toISOString() });
      assert.equal(answer[0], 4, `a CALLERROR: ${JSON.stringify(answer)}`);
      assert.equal(answer[2], 'InternalError');
    } finally {
      nats.resume();
    }
  });

  test('a command for a charger whose instance died is DEVICE_OFFLINE at once, though Redis still names that instance', async () => {
    assert.equal((await holder(redis, 'CL-ON-C'))?.instance, 'pod-C');
    instances.C.proc.child.kill('SIGKILL');
    await waitUntil(() => instances.C.proc.child.exitCode !== null || instances.C.proc.child.signalCode !== null, 10_000, 'pod-C killed');
    assert.equal((await holder(redis, 'CL-ON-C'))?.instance, 'pod-C');
    // NATS drops pod-C's subscriptions once it sees its connection gone; until then a request could still time out.
    let last: { status: number; body: Json } = { status: 0, body: undefined };
    await waitUntil(
      async () => {
        last = await postJson(`${instances.A.admin}/api/v1/charge-points/CL-ON-C/calls`, { ...CHANGE_AVAILABILITY, timeoutMs: 1000 });
        return last.status !== 504;
      },
      15_000,
      'NATS to notice pod-C is gone',
    );
    assert.equal(last.status, 404);
    assert.equal(last.body.error.code, 'DEVICE_OFFLINE');
    assert.equal(last.body.error.message, 'charge point CL-ON-C was held by gateway instance pod-C, which no longer answers');
  });

  test('a claim found taken over at the next refresh closes its session with 4000', async () => {
    const charger = await connect(instances.B, 'CL-TAKEN');
    await waitUntil(async () => (await holder(redis, 'CL-TAKEN'))?.instance === 'pod-B', 10_000, 'CL-TAKEN claimed by pod-B');
    const epoch = (await holder(redis, 'CL-TAKEN'))?.epoch as number;
    // What a newer claim elsewhere leaves behind, without the eviction request reaching pod-B.
    await redis.hset('conn:{CL-TAKEN}', 'instance', 'pod-Z', 'epoch', String(epoch + 1));
    assert.equal((await charger.closed).code, 4000);
    assert.deepEqual(await holder(redis, 'CL-TAKEN'), { instance: 'pod-Z', epoch: epoch + 1 });
  });

  let lapsing: OcppClient;

  test('Redis going away makes /readyz 503 and says which dependency is down', async () => {
    lapsing = await connect(instances.B, 'CL-LAPSE');
    await waitUntil(async () => (await holder(redis, 'CL-LAPSE'))?.instance === 'pod-B', 10_000, 'CL-LAPSE claimed by pod-B');
    // Redis holds the claim before pod-B has read Redis's answer; a CALL is answered only once it has (CALLs wait
    // for the claim), so Redis is not killed while that answer is still on its way (which would close with 1013).
    expectResult(await lapsing.call('Heartbeat', {}));
    await redisServer.kill();
    let last: { status: number; body: Json } = { status: 0, body: undefined };
    await waitUntil(
      async () => {
        last = await getJson(`${instances.A.admin}/readyz`);
        return last.status === 503;
      },
      10_000,
      '/readyz 503 after Redis went away',
    );
    assert.deepEqual(last.body, { status: 'not_ready', dependencies: { nats: 'up', redis: 'down', ownership: 'valid' } });
  });

  test('while Redis is away a new charger cannot be claimed: its socket is closed with 1013 and counted', async () => {
    const charger = await connect(instances.A, 'CL-UNCLAIMED');
    assert.equal((await charger.closed).code, 1013);
    assert.equal(await metric(instances.A, 'gateway_ownership_claim_failures_total'), 1);
  });

  test('cut off from Redis for longer than its TTL, an instance closes its chargers with 1012 and refuses new ones', async () => {
    assert.equal((await lapsing.closed).code, 1012);
    assert.equal(await metric(instances.B, 'gateway_ownership_lapses_total'), 1);
    const refused = await OcppClient.tryConnect(instances.B.chargers, 'CL-REFUSED');
    assert.equal(refused.ok, false);
    assert.equal(refused.ok === false ? refused.refusal?.status : undefined, 503);
    assert.deepEqual(await getJson(`${instances.B.admin}/readyz`), {
      status: 503,
      body: { status: 'not_ready', dependencies: { nats: 'up', redis: 'down', ownership: 'lost' } },
    });
  });

  test('once Redis is back the instance registers again and takes chargers', async () => {
    await redisServer.restart();
    await waitUntil(async () => (await getJson(`${instances.B.admin}/readyz`)).status === 200, 15_000, 'pod-B ready again');
    await connect(instances.B, 'CL-BACK');
    await waitUntil(async () => (await holder(redis, 'CL-BACK'))?.instance === 'pod-B', 10_000, 'CL-BACK claimed by pod-B');
  });
});
