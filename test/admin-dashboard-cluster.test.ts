/**
 * The dashboard's admin API across a cluster: two in-process gateways, each with its own NATS connection (shared
 * NATS server, a subject root of this run's own) and registry connection (shared Redis, a key prefix of this
 * run's own), each answering for itself as an instance. A charger held by instance B is recorded through
 * instance A's API, its frames (paged over the bus) and download read there, its stopped recording found there
 * after it left; the summary and the stream of either instance add up both, and name one that does not answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { ClusterChargerDirectory, serveChargerDirectory } from '../src/admin/cluster-charger-directory.js';
import { DashboardSampler } from '../src/admin/dashboard-sampler.js';
import { ClusterDashboard, serveDashboard } from '../src/admin/dashboard-source.js';
import { ClusterRecorderDirectory, LocalRecorderDirectory, serveRecorder } from '../src/admin/recorder-directory.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import type { Subscription } from '../src/bus/types.js';
import { RedisRegistry } from '../src/registry/redis-registry.js';
import { type GatewayHarness, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { connectTo, deleteStream, SHARED_NATS_URL, sharedNatsSkipReason, uniqueNames } from './helpers/nats-server.js';
import { dataTransferFrameOfSize, expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { deleteKeysUnder, SHARED_REDIS, sharedRedisSkipReason, uniquePrefix } from './helpers/redis-server.js';

const skip = (await sharedNatsSkipReason()) || (await sharedRedisSkipReason());

interface Instance {
  id: string;
  harness: GatewayHarness;
  bus: NatsBus;
  registry: RedisRegistry;
  responders: Subscription[];
  admin: AdminServer;
  api: string;
}

async function request(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON Lines
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

describe('dashboard admin API across the cluster', { skip }, () => {
  const { root, stream } = uniqueNames();
  const keyPrefix = uniquePrefix();
  const instances: Instance[] = [];
  const chargers: OcppClient[] = [];
  let natsAdmin: NatsConnection;
  let redisAdmin: Redis;
  let silentRegistry: RedisRegistry | undefined;

  before(async () => {
    natsAdmin = await connectTo(SHARED_NATS_URL);
    redisAdmin = new Redis(SHARED_REDIS);
    for (const id of ['pod-a', 'pod-b']) {
      const harness = await startGateway({ overrides: { admin: { dashboardIntervalMs: 250 } } });
      const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, stream: { name: stream } });
      const registry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix });
      await registry.registerInstance(id);
      const { sessions, recorder } = harness.gateway;
      const metrics = harness.gateway.metrics.registry;
      const local = new LocalRecorderDirectory(recorder, sessions, id);
      const sampler = new DashboardSampler(harness.gateway.metrics, id, 250);
      await sampler.start();
      const responders = [
        serveChargerDirectory({ bus, instanceId: id, sessions, subjectRoot: root, metrics, recorder }),
        serveRecorder({ bus, instanceId: id, local, subjectRoot: root, metrics }),
        serveDashboard({ bus, instanceId: id, sampler, subjectRoot: root }),
      ];
      const admin = await startAdminServer(harness.gateway, {
        host: '127.0.0.1',
        port: 0,
        chargers: new ClusterChargerDirectory({ registry, bus, instanceId: id, sessions, subjectRoot: root, metrics, recorder }),
        recorder: new ClusterRecorderDirectory({ registry, bus, instanceId: id, local, subjectRoot: root }),
        dashboard: new ClusterDashboard({ registry, bus, instanceId: id, sampler, subjectRoot: root }),
      });
      instances.push({ id, harness, bus, registry, responders, admin, api: `http://127.0.0.1:${admin.port}` });
    }
    for (const { bus } of instances) await bus.flush();
    const placement: Array<[number, string, string]> = [
      [1, 'CL-B1', 'ocpp1.6'],
      [1, 'CL-B2', 'ocpp2.0.1'],
      [0, 'CL-A1', 'ocpp1.6'],
    ];
    for (const [index, identity, protocol] of placement) {
      const instance = instances[index];
      chargers.push(await OcppClient.connect(instance.harness.url, identity, [protocol]));
      await waitUntil(() => instance.harness.gateway.sessions.get(identity) !== undefined, 5000, `${identity} to have a session`);
      // What the gateway's ownership claim does in cluster mode.
      await instance.registry.claim(identity, instance.id);
    }
  });

  after(async () => {
    await Promise.all(chargers.map((c) => c.close().catch(() => {})));
    for (const i of instances) {
      await i.admin.close();
      for (const r of i.responders) r.unsubscribe();
      await i.harness.stop();
      await i.bus.close();
      await i.registry.close();
    }
    await silentRegistry?.close();
    await deleteStream(natsAdmin, stream);
    await deleteKeysUnder(redisAdmin, keyPrefix);
    await natsAdmin.close();
    await redisAdmin.quit();
  });

  test("a charger of instance B is recorded through instance A's API; its stopped recording is found there after it left", async () => {
    const [a, b] = instances;
    const url = (api: string, id = 'CL-B1') => `${api}/api/v1/charge-points/${id}/recording`;
    const started = await request('PUT', url(a.api), { maxFrames: 100 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.instance, 'pod-b');
    assert.equal(started.body.active, true);
    assert.ok(b.harness.gateway.recorder.get('CL-B1')?.active, 'instance B records');
    assert.equal(a.harness.gateway.recorder.get('CL-B1'), undefined, 'instance A does not');

    const charger = chargers[0];
    expectResult(await charger.call('Heartbeat', {}));
    // Frames big enough that the download crosses the bus in several pages.
    for (let i = 0; i < 3; i++) {
      charger.sendRaw(dataTransferFrameOfSize(`big-${i}`, 60_000));
      await charger.nextFrame();
    }
    const viaA = await request('GET', url(a.api));
    const viaB = await request('GET', url(b.api));
    assert.equal(viaA.status, 200, JSON.stringify(viaA.body).slice(0, 300));
    assert.equal(viaA.body.instance, 'pod-b');
    assert.equal(viaA.body.frames, 8);
    assert.deepEqual(viaA.body.items, viaB.body.items, 'the same frames through either instance');
    const heartbeatId = JSON.parse(viaA.body.items[0].frame)[1];
    assert.deepEqual(
      viaA.body.items.map((f: any) => [f.direction, JSON.parse(f.frame)[1]]),
      [
        ['in', heartbeatId],
        ['out', heartbeatId],
        ['in', 'big-0'],
        ['out', 'big-0'],
        ['in', 'big-1'],
        ['out', 'big-1'],
        ['in', 'big-2'],
        ['out', 'big-2'],
      ],
    );
    const jsonl = await request('GET', `${url(a.api)}.jsonl`);
    assert.equal(jsonl.status, 200);
    assert.match(jsonl.headers.get('content-disposition') ?? '', /filename="CL-B1-frames\.jsonl"/);
    assert.deepEqual(
      jsonl.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      viaB.body.items,
    );
    const detail = await request('GET', `${a.api}/api/v1/charge-points/CL-B1`);
    assert.equal(detail.body.instance, 'pod-b');
    assert.equal(detail.body.recording.frames, 8);

    await charger.close();
    await b.registry.release('CL-B1', (await b.registry.owner('CL-B1'))?.epoch ?? 0);
    const stopped = await request('DELETE', url(a.api));
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.equal(stopped.body.active, false);
    assert.equal(stopped.body.instance, 'pod-b');
    const kept = await request('GET', url(a.api));
    assert.equal(kept.status, 200);
    assert.equal(kept.body.items.length, 8, 'downloadable after the charger left');

    const offline = await request('PUT', url(a.api, 'NOBODY'), {});
    assert.equal(offline.status, 404);
    assert.equal(offline.body.error.code, 'DEVICE_OFFLINE');
    const none = await request('GET', url(a.api, 'NOBODY'));
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'NOT_RECORDING');
  });

  test('the summary and the stream of either instance list both instances and add them up', async () => {
    const expected = [
      ['pod-a', { 'ocpp1.6': 1, 'ocpp2.0.1': 0 }],
      ['pod-b', { 'ocpp1.6': 0, 'ocpp2.0.1': 1 }],
    ];
    const settled = (body: any) =>
      JSON.stringify(body.instances.map((i: any) => [i.instance, i.connected])) === JSON.stringify(expected) &&
      body.history.length > 0 &&
      JSON.stringify(body.history[body.history.length - 1].connected) === JSON.stringify({ 'ocpp1.6': 1, 'ocpp2.0.1': 1 });
    for (const instance of instances) {
      // The charger that left in the test before is gone from each instance's next sample, and from the history's
      // next slot that both instances have sampled in. The newest slot may hold one instance's sample only, until the
      // other's arrives: the summary checked is the one that showed both, not a later one that may have begun a slot.
      let res: Awaited<ReturnType<typeof request>> | undefined;
      await waitUntil(
        async () => {
          res = await request('GET', `${instance.api}/api/v1/dashboard/summary`);
          return settled(res.body);
        },
        5000,
        `a settled summary on ${instance.id}`,
      );
      if (res === undefined) throw new Error('no summary');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.mode, 'cluster');
      assert.deepEqual(
        res.body.instances.map((i: any) => [i.instance, i.connected]),
        expected,
      );
      assert.deepEqual(res.body.totals.connected, { 'ocpp1.6': 1, 'ocpp2.0.1': 1 });
      assert.deepEqual(res.body.missingInstances, []);
      assert.deepEqual(res.body.history[res.body.history.length - 1].connected, { 'ocpp1.6': 1, 'ocpp2.0.1': 1 });
    }
    // The charger of pod-b that left is counted in pod-b's cumulative closes.
    const summary = await request('GET', `${instances[0].api}/api/v1/dashboard/summary`);
    assert.equal(summary.body.instances[1].closes.other.charger, 1);
    assert.equal(summary.body.totals.closes.other.charger, 1);

    silentRegistry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix });
    await silentRegistry.registerInstance('pod-silent');
    const withSilent = await request('GET', `${instances[1].api}/api/v1/dashboard/summary`);
    assert.deepEqual(withSilent.body.missingInstances, ['pod-silent']);
    assert.deepEqual(
      withSilent.body.instances.map((i: any) => i.instance),
      ['pod-a', 'pod-b'],
    );

    const controller = new AbortController();
    const res = await fetch(`${instances[0].api}/api/v1/dashboard/stream`, { signal: controller.signal });
    try {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      const decoder = new TextDecoder();
      while (!text.includes('event: stats')) text += decoder.decode((await reader.read()).value, { stream: true });
      while (!/event: stats\ndata: .*\n\n/.test(text)) text += decoder.decode((await reader.read()).value, { stream: true });
      const data = JSON.parse(/event: stats\ndata: (.*)\n\n/.exec(text)?.[1] as string);
      assert.equal(data.mode, 'cluster');
      assert.deepEqual(data.totals.connected, { 'ocpp1.6': 1, 'ocpp2.0.1': 1 });
      assert.deepEqual(data.missingInstances, ['pod-silent']);
    } finally {
      controller.abort();
    }
  });
});
