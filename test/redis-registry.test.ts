/**
 * The ownership registry against a real Redis (the shared one at 127.0.0.1:6379 under a key prefix of each
 * test's own, or a private redis-server where commands are counted), and its in-process twin on the same contract.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { MemoryRegistry, MemoryRegistryStore } from '../src/registry/memory-registry.js';
import { RedisRegistry, type RedisRegistryOptions } from '../src/registry/redis-registry.js';
import { RefreshScheduler } from '../src/registry/refresh-scheduler.js';
import type { Ownership } from '../src/registry/types.js';
import { registryContract } from './helpers/redis-registry-contract.js';
import {
  callsBetween,
  commandCalls,
  deleteKeysUnder,
  keysUnder,
  OwnRedis,
  ownRedisSkipReason,
  SHARED_REDIS,
  sharedRedisSkipReason,
  uniquePrefix,
  waitUntil,
} from './helpers/redis-server.js';

const sharedSkip = await sharedRedisSkipReason();
const ownSkip = await ownRedisSkipReason();

let sharedAdmin: Redis | undefined;
async function admin(): Promise<Redis> {
  if (sharedAdmin === undefined) {
    const { Redis } = await import('ioredis');
    sharedAdmin = new Redis(SHARED_REDIS);
  }
  return sharedAdmin;
}
after(async () => {
  await sharedAdmin?.quit();
});

registryContract('in-process', false, () => {
  const store = new MemoryRegistryStore();
  return {
    make: async (options) => new MemoryRegistry({ store, ttlMs: options?.ttlMs }),
    cleanup: async () => {},
  };
});

registryContract('Redis', sharedSkip, () => {
  const keyPrefix = uniquePrefix();
  return {
    make: (options) => RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix, ttlMs: options?.ttlMs }),
    cleanup: async () => deleteKeysUnder(await admin(), keyPrefix),
  };
});

/** The hash tag Redis Cluster hashes: the text between the first `{` and the next `}`, if not empty. */
function clusterHashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('Redis registry: keys and conditional writes', { skip: sharedSkip }, () => {
  let keyPrefix: string;
  const made: RedisRegistry[] = [];
  const connect = async (options: Partial<RedisRegistryOptions> = {}) => {
    const registry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix, ...options });
    made.push(registry);
    return registry;
  };
  before(() => {
    keyPrefix = uniquePrefix();
  });
  afterEach(async () => {
    await Promise.all(made.splice(0).map((r) => r.close()));
    await deleteKeysUnder(await admin(), keyPrefix);
  });

  it('stores a claim as conn:{escaped identity} naming instance and epoch, living the TTL', async () => {
    const registry = await connect({ ttlMs: 20_000 });
    const { epoch } = await registry.claim('CP{7} x', 'pod-a');
    const key = `${keyPrefix}conn:{CP%7B7%7D%20x}`;
    const client = await admin();
    assert.deepEqual(await client.hgetall(key), { instance: 'pod-a', epoch: String(epoch) });
    const ttl = await client.pttl(key);
    assert.ok(ttl > 0 && ttl <= 20_000, `PTTL ${ttl}`);
    assert.equal(await client.get(`${keyPrefix}epoch:{CP%7B7%7D%20x}`), String(epoch));
  });

  it('maps identities with braces, spaces, stars, percent signs and non-ASCII to distinct keys with their own hash tag', async () => {
    const identities = ['a{b', 'a}b', '{', '}', '{}', 'a b', 'a*', '*', '%', 'a%7Bb', 'é', 'e\u0301', '充电桩-1', '🔌', 'plain'];
    const registry = await connect();
    const epochs: number[] = [];
    for (const [i, identity] of identities.entries()) epochs.push((await registry.claim(identity, `pod-${i}`)).epoch);
    assert.deepEqual(
      await registry.owners(identities),
      identities.map((_, i) => ({ instanceId: `pod-${i}`, epoch: epochs[i] })),
    );
    const client = await admin();
    const connKeys = (await keysUnder(client, keyPrefix)).filter((k) => k.startsWith(`${keyPrefix}conn:`));
    assert.equal(connKeys.length, identities.length);
    const tags = connKeys.map(clusterHashTag);
    assert.equal(new Set(tags).size, identities.length, 'one hash tag per identity');
    for (const key of connKeys) {
      const tag = clusterHashTag(key);
      assert.equal(key, `${keyPrefix}conn:{${tag}}`, 'the tag is everything between the braces');
      assert.match(tag, /^[\x21-\x7e]+$/, 'printable ASCII only');
      assert.equal(await client.exists(`${keyPrefix}epoch:{${tag}}`), 1, 'the epoch key shares the hash slot');
    }
  });

  it("leaves the newer holder's TTL alone when a stale epoch is refreshed", async () => {
    const a = await connect();
    const b = await connect();
    const stale = await a.claim('CP-ttl', 'pod-a');
    await b.claim('CP-ttl', 'pod-b');
    const key = `${keyPrefix}conn:{CP-ttl}`;
    const client = await admin();
    await client.pexpire(key, 10_000);
    assert.deepEqual(await a.refresh([{ identity: 'CP-ttl', epoch: stale.epoch }]), [{ identity: 'CP-ttl', epoch: stale.epoch }]);
    const ttl = await client.pttl(key);
    assert.ok(ttl > 0 && ttl <= 10_000, `PTTL ${ttl} was not extended to the 30 s TTL`);
  });

  it('gives a higher epoch even after the connection key and the epoch counter have expired', async () => {
    const registry = await connect();
    const first = await registry.claim('CP-forgotten', 'pod-a');
    const client = await admin();
    await client.del(`${keyPrefix}conn:{CP-forgotten}`, `${keyPrefix}epoch:{CP-forgotten}`);
    const second = await registry.claim('CP-forgotten', 'pod-b');
    assert.equal(second.previous, undefined);
    assert.ok(second.epoch > first.epoch, `${second.epoch} > ${first.epoch}`);
  });

  it('refuses a key prefix that would move the hash tag', () => {
    assert.throws(() => new RedisRegistry({ connection: SHARED_REDIS, keyPrefix: 'ocpp{x}:' }), /must not contain/);
  });
});

describe('Redis registry: batched refresh', { skip: ownSkip }, () => {
  let server: OwnRedis;
  let client: Redis;
  let registry: RedisRegistry;
  let rival: RedisRegistry;
  before(async () => {
    server = await OwnRedis.start();
    client = server.client();
    const connection = { host: '127.0.0.1', port: server.port };
    registry = await RedisRegistry.connect({ connection, commandTimeoutMs: 10_000 });
    rival = await RedisRegistry.connect({ connection });
  });
  after(async () => {
    await registry?.close();
    await rival?.close();
    client?.disconnect();
    await server?.stop();
  });

  it('refreshes 10,000 holds and the heartbeat in 11 script calls a round, reporting exactly the ones taken over', async () => {
    await registry.registerInstance('pod-batch');
    const owned = new Map<string, number>();
    const identities = Array.from({ length: 10_000 }, (_, i) => `CP-${i}`);
    for (let i = 0; i < identities.length; i += 500) {
      const slice = identities.slice(i, i + 500);
      const claims = await Promise.all(slice.map((identity) => registry.claim(identity, 'pod-batch')));
      for (const [j, identity] of slice.entries()) owned.set(identity, claims[j].epoch);
    }
    const lostReports: Ownership[][] = [];
    const scheduler = new RefreshScheduler({
      registry,
      instanceId: 'pod-batch',
      owned: () => [...owned].map(([identity, epoch]) => ({ identity, epoch })),
      onLost: (lost) => lostReports.push(lost),
    });
    // The first round also loads the scripts into Redis; the counted round uses them.
    assert.deepEqual(await scheduler.runOnce(), { refreshed: 10_000, lost: [], alive: true, failed: false });

    const before = await commandCalls(client);
    assert.deepEqual(await scheduler.runOnce(), { refreshed: 10_000, lost: [], alive: true, failed: false });
    const after = await commandCalls(client);
    // Redis counts the commands a script runs as well: each hold is read and extended once, inside the
    // 10 refresh calls of 1,000; the heartbeat is the 11th call (clock, instance entries, its own entry, the
    // new expiry). The first INFO is the only other command.
    assert.deepEqual(callsBetween(before, after), {
      evalsha: 11,
      hget: 10_000 + 1,
      hgetall: 1,
      hset: 1,
      info: 1,
      pexpire: 10_000,
      time: 1,
    });

    const taken = await Promise.all(['CP-17', 'CP-4242', 'CP-9999'].map((identity) => rival.claim(identity, 'pod-rival')));
    assert.deepEqual(
      taken.map((t) => t.previous?.instanceId),
      ['pod-batch', 'pod-batch', 'pod-batch'],
    );
    const round = await scheduler.runOnce();
    const expectedLost = ['CP-17', 'CP-4242', 'CP-9999'].map((identity) => ({ identity, epoch: owned.get(identity) }));
    assert.deepEqual(round, { refreshed: 9_997, lost: expectedLost, alive: true, failed: false });
    assert.deepEqual(lostReports, [expectedLost]);
  });
});

describe('Redis registry: refresh scheduler on its timer', { skip: sharedSkip }, () => {
  it('keeps holds alive past several TTLs while it runs, and lets them expire once it stops', async () => {
    const keyPrefix = uniquePrefix();
    // Rounds every 667 ms against a 2 s TTL: a busy test machine may delay a round without the hold expiring.
    const registry = await RedisRegistry.connect({ connection: SHARED_REDIS, keyPrefix, ttlMs: 2000 });
    try {
      await registry.registerInstance('pod-timer');
      const { epoch } = await registry.claim('CP-timer', 'pod-timer');
      const lost: Ownership[][] = [];
      const scheduler = new RefreshScheduler({
        registry,
        instanceId: 'pod-timer',
        owned: () => [{ identity: 'CP-timer', epoch }],
        onLost: (entries) => lost.push(entries),
      });
      scheduler.start();
      await new Promise((r) => setTimeout(r, 5000));
      assert.deepEqual(await registry.owner('CP-timer'), { instanceId: 'pod-timer', epoch });
      assert.equal(registry.ownershipValid(), true);
      assert.deepEqual(lost, []);
      await scheduler.stop();
      await waitUntil(async () => (await registry.owner('CP-timer')) === null, 'the hold to expire');
      await waitUntil(() => !registry.ownershipValid(), 'ownership to lapse without heartbeats');
      assert.deepEqual(await registry.liveInstances(), []);
    } finally {
      await registry.close();
      await deleteKeysUnder(await admin(), keyPrefix);
    }
  });
});
