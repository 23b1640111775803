/**
 * The charger listing of cluster mode: three in-process gateways, each with its own NATS connection (shared
 * NATS server, a subject root of this run's own) and registry connection (shared Redis, a key prefix of this
 * run's own), each answering for its chargers as an instance. Real chargers connect over WebSocket; the test
 * records their ownership in the registry as the gateway's claim would. The admin API of any instance lists
 * every charger with its instance, pages through them, shows a charger held elsewhere, and names an instance
 * that does not answer instead of waiting for it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { ClusterChargerDirectory, instanceChargePointsSubject, serveChargerDirectory } from '../src/admin/cluster-charger-directory.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import type { Subscription } from '../src/bus/types.js';
import { RedisRegistry } from '../src/registry/redis-registry.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { connectTo, deleteStream, SHARED_NATS_URL, sharedNatsSkipReason, uniqueNames } from './helpers/nats-server.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { deleteKeysUnder, SHARED_REDIS, sharedRedisSkipReason, uniquePrefix } from './helpers/redis-server.js';

const skip = (await sharedNatsSkipReason()) || (await sharedRedisSkipReason());

interface Instance {
  id: string;
  harness: GatewayHarness;
  bus: NatsBus;
  registry: RedisRegistry;
  responder: Subscription;
  admin: AdminServer;
  api: string;
}

/** Which instance each charger connects to; pod ids with a dot and a space need the subject-token encoding. */
const PLACEMENT: Record<string, string[]> = {
  'pod.a': ['CP-03', 'CP-06', 'CP.01'],
  'pod b': ['CP-02', 'CP-05'],
  'pod-c': ['CP-04', 'CP-01'],
};
/** Every charger in identity order (`-` sorts before `.`), with its instance. */
const ALL: Array<[string, string]> = [
  ['CP-01', 'pod-c'],
  ['CP-02', 'pod b'],
  ['CP-03', 'pod.a'],
  ['CP-04', 'pod-c'],
  ['CP-05', 'pod b'],
  ['CP-06', 'pod.a'],
  ['CP.01', 'pod.a'],
];

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe('charger listing across the cluster', { skip }, () => {
  const { root, stream } = uniqueNames();
  const keyPrefix = uniquePrefix();
  const instances: Instance[] = [];
  const chargers: OcppClient[] = [];
  const extraRegistries: RedisRegistry[] = [];
  const extraBuses: NatsBus[] = [];
  let natsAdmin: NatsConnection;
  let redisAdmin: Redis;

  before(async () => {
    natsAdmin = await connectTo(SHARED_NATS_URL);
    redisAdmin = new Redis(SHARED_REDIS);
    for (const id of Object.keys(PLACEMENT)) {
      const harness = await startGateway();
      const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, stream: { name: stream } });
      const registry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix });
      await registry.registerInstance(id);
      const sessions = harness.gateway.sessions;
      const metrics = harness.gateway.metrics.registry;
      const responder = serveChargerDirectory({ bus, instanceId: id, sessions, subjectRoot: root, metrics });
      const directory = new ClusterChargerDirectory({ registry, bus, instanceId: id, sessions, subjectRoot: root, timeoutMs: 1000, metrics });
      const admin = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0, chargers: directory });
      instances.push({ id, harness, bus, registry, responder, admin, api: `http://127.0.0.1:${admin.port}` });
    }
    for (const bus of instances.map((i) => i.bus)) await bus.flush();
    for (const instance of instances) {
      for (const identity of PLACEMENT[instance.id]) {
        const charger = await OcppClient.connect(instance.harness.url, identity);
        chargers.push(charger);
        await waitUntil(() => instance.harness.gateway.sessions.get(identity) !== undefined, 5000, `${identity} to have a session`);
        // What the gateway's ownership claim does in cluster mode.
        await instance.registry.claim(identity, instance.id);
      }
    }
  });

  after(async () => {
    await Promise.all(chargers.map((c) => c.close().catch(() => {})));
    for (const i of instances) {
      await i.admin.close();
      i.responder.unsubscribe();
      await i.harness.stop();
      await i.bus.close();
      await i.registry.close();
    }
    await Promise.all(extraBuses.map((b) => b.close()));
    await Promise.all(extraRegistries.map((r) => r.close()));
    await deleteStream(natsAdmin, stream);
    await deleteKeysUnder(redisAdmin, keyPrefix);
    await natsAdmin.close();
    await redisAdmin.quit();
  });

  test('the listing on every instance shows every charger of the cluster with its instance, sorted by identity', async () => {
    for (const instance of instances) {
      const res = await getJson(`${instance.api}/api/v1/charge-points`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.items.map((c: any) => [c.identity, c.instance]),
        ALL,
        `listing on ${instance.id}`,
      );
      assert.equal(res.body.total, 7);
      assert.equal(res.body.nextCursor, undefined);
      assert.equal(res.body.partial, undefined, 'every instance answered');
      for (const c of res.body.items) {
        assert.equal(c.protocol, 'ocpp1.6');
        assert.equal(c.state, 'open');
      }
    }
  });

  test('pages of the cluster listing follow the same cursor contract as on one instance', async () => {
    const api = instances[1].api;
    const pages: Array<Array<[string, string]>> = [];
    let cursor: string | undefined;
    for (;;) {
      const res = await getJson(`${api}/api/v1/charge-points?limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      pages.push(res.body.items.map((c: any) => [c.identity, c.instance]));
      cursor = res.body.nextCursor;
      if (cursor === undefined) break;
      assert.ok(pages.length < 10, 'the pages end');
    }
    assert.deepEqual(pages, [ALL.slice(0, 3), ALL.slice(3, 6), ALL.slice(6)]);
  });

  test('the detail of a charger held by another instance comes from that instance', async () => {
    const charger = chargers[PLACEMENT['pod.a'].length + 1]; // CP-05 on 'pod b'
    expectResult(await charger.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X5' }));
    expectResult(await charger.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: new Date().toISOString() }));

    const res = await getJson(`${instances[0].api}/api/v1/charge-points/CP-05`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identity, 'CP-05');
    assert.equal(res.body.instance, 'pod b');
    assert.equal(res.body.boot.model, 'X5');
    assert.deepEqual(
      res.body.connectors.map((c: any) => [c.connectorId, c.status]),
      [[1, 'Charging']],
    );

    const own = await getJson(`${instances[0].api}/api/v1/charge-points/${encodeURIComponent('CP.01')}`);
    assert.equal(own.status, 200);
    assert.equal(own.body.instance, 'pod.a');

    const nobody = await getJson(`${instances[2].api}/api/v1/charge-points/NOBODY`);
    assert.equal(nobody.status, 404);
    assert.equal(nobody.body.error.code, 'DEVICE_OFFLINE');
  });

  test('an instance that does not answer in time is named in a partial listing, and its charger detail is 503', async () => {
    // A live instance whose responder takes the request and never answers.
    const silentRegistry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix });
    extraRegistries.push(silentRegistry);
    await silentRegistry.registerInstance('pod-silent');
    await silentRegistry.claim('CP-99', 'pod-silent');
    const silentBus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, stream: { name: stream } });
    extraBuses.push(silentBus);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hanging = silentBus.respond(instanceChargePointsSubject('pod-silent', root), () => held.then(() => ({ instance: 'pod-silent', total: 0, items: [] })));
    await silentBus.flush();
    const unansweredBefore = await metricValue(instances[2].harness.gateway, 'admin_cluster_unanswered_total');
    try {
      const res = await getJson(`${instances[2].api}/api/v1/charge-points`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.partial, true);
      assert.deepEqual(res.body.missingInstances, ['pod-silent']);
      assert.deepEqual(
        res.body.items.map((c: any) => [c.identity, c.instance]),
        ALL,
        'the chargers of the instances that answered are all there',
      );
      assert.equal(res.body.total, 7);

      const detail = await getJson(`${instances[2].api}/api/v1/charge-points/CP-99`);
      assert.equal(detail.status, 503, JSON.stringify(detail.body));
      assert.equal(detail.body.error.code, 'UNAVAILABLE');
      assert.equal(detail.body.error.instance, 'pod-silent');
      assert.equal(await metricValue(instances[2].harness.gateway, 'admin_cluster_unanswered_total', { lookup: 'page' }), 1);
      assert.equal(await metricValue(instances[2].harness.gateway, 'admin_cluster_unanswered_total'), unansweredBefore + 2);
    } finally {
      release();
      hanging.unsubscribe();
    }
  });

  test('a malformed request on an instance subject is refused by its responder, which keeps answering', async () => {
    const subject = instanceChargePointsSubject('pod-c', root);
    const refusalsBefore = await metricValue(instances[2].harness.gateway, 'gateway_charger_directory_refusals_total');
    await assert.rejects(instances[0].bus.request(subject, { limit: 'all' }, 2000), /limit must be an integer/);
    await assert.rejects(instances[0].bus.request(subject, 'hello', 2000), /JSON object/);
    assert.equal(await metricValue(instances[2].harness.gateway, 'gateway_charger_directory_refusals_total'), refusalsBefore + 2);
    const answer = (await instances[0].bus.request(subject, { limit: 1 }, 2000)) as any;
    assert.deepEqual(
      answer.items.map((c: any) => [c.identity, c.instance]),
      [['CP-01', 'pod-c']],
    );
  });
});
