/**
 * OCPP 1.6 transactionIds of cluster mode against a real Redis (the shared one, under a key prefix of each
 * test's own): two instances' ids never overlap, an instance continues after its connection is cut and after
 * a restart, and an id at hand is answered synchronously.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ClusterTransactionIds } from '../src/gateway/cluster-transaction-ids.js';
import { RedisRegistry } from '../src/registry/redis-registry.js';
import { RegistryUnavailableError } from '../src/registry/types.js';
import { deleteKeysUnder, OwnRedis, ownRedisSkipReason, SHARED_REDIS, sharedRedisSkipReason, uniquePrefix, waitUntil } from './helpers/redis-server.js';

const skip = await sharedRedisSkipReason();
const ownSkip = await ownRedisSkipReason();

describe('cluster transactionIds on a real Redis', { skip }, () => {
  const admin = skip ? undefined : new Redis(SHARED_REDIS);
  const prefixes: string[] = [];
  const registries: RedisRegistry[] = [];
  const sources: ClusterTransactionIds[] = [];

  after(async () => {
    await Promise.all(sources.map((s) => s.close()));
    await Promise.all(registries.map((r) => r.close()));
    if (admin !== undefined) {
      for (const prefix of prefixes) await deleteKeysUnder(admin, prefix);
      await admin.quit();
    }
  });

  function newPrefix(): string {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    return prefix;
  }

  async function registry(keyPrefix: string, connectionName?: string): Promise<RedisRegistry> {
    const r = await RedisRegistry.connect({ connection: { ...SHARED_REDIS, connectionName }, keyPrefix });
    registries.push(r);
    return r;
  }

  async function source(r: RedisRegistry, blockSize: number, above?: number): Promise<ClusterTransactionIds> {
    const s = await ClusterTransactionIds.open({ registry: r, blockSize, above });
    sources.push(s);
    return s;
  }

  test('two instances taking ids side by side never get the same id', async () => {
    const prefix = newPrefix();
    const a = await source(await registry(prefix), 7);
    const b = await source(await registry(prefix), 7);
    const taken: Record<'a' | 'b', number[]> = { a: [], b: [] };
    // Bursts of different sizes, so both run through their blocks, wait for reservations and race each other.
    for (let round = 0; round < 20; round++) {
      const burst = [...Array(round % 5 === 0 ? 25 : 3)];
      const [ia, ib] = await Promise.all([Promise.all(burst.map(() => a.next())), Promise.all(burst.map(() => b.next()))]);
      taken.a.push(...ia);
      taken.b.push(...ib);
    }
    const all = [...taken.a, ...taken.b];
    assert.equal(all.length, 2 * (4 * 25 + 16 * 3));
    assert.equal(new Set(all).size, all.length, 'no id was handed out twice');
    for (const id of all) assert.ok(Number.isSafeInteger(id) && id >= 1, `id ${id} is a positive integer`);
    // Each instance hands its ids out in increasing order, block after block.
    for (const ids of [taken.a, taken.b])
      assert.deepEqual(
        ids,
        [...ids].sort((x, y) => x - y),
      );
  });

  test('an id at hand is answered synchronously; only a caller past every reserved id waits', async () => {
    const r = await registry(newPrefix());
    const ids = await source(r, 10);
    const sync: unknown[] = [];
    // The first reservation holds the block in use and the spare after it: twenty ids.
    for (let i = 0; i < 20; i++) sync.push(ids.next());
    assert.deepEqual(
      sync,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // The reservation behind the spare was started in this same tick and cannot have been answered yet.
    const waiting = ids.next();
    assert.ok(waiting instanceof Promise, 'the 21st id waits for the next block');
    assert.equal(await waiting, 21);
    // Once that block is there, its ids are synchronous again.
    assert.equal(ids.next(), 22);
  });

  test('blocks start above the embedded allocator mark handed over with `above`', async () => {
    const ids = await source(await registry(newPrefix()), 5, 40_000);
    assert.equal(ids.next(), 40_001);
  });

  test('an instance continues after its Redis connection is cut, and a restarted one continues above both', async () => {
    const prefix = newPrefix();
    const name = `txid-${randomBytes(4).toString('hex')}`;
    const r1 = await registry(prefix, name);
    const first = await source(r1, 4);
    const before: number[] = [];
    for (let i = 0; i < 10; i++) before.push(await first.next());

    const connectionId = async (): Promise<string | undefined> => {
      const clients = (await admin?.client('LIST')) as string;
      const line = clients.split('\n').find((l) => l.includes(` name=${name} `));
      return line === undefined ? undefined : /\bid=(\d+)/.exec(line)?.[1];
    };
    const cut = await connectionId();
    assert.ok(cut !== undefined, 'the registry connection is listed under its name');
    await admin?.client('KILL', 'ID', cut);
    await waitUntil(async () => {
      const now = await connectionId();
      return now !== undefined && now !== cut && r1.isReady();
    }, 'the registry to reconnect on a new connection');

    const afterCut: number[] = [];
    // More than a block and a spare: these need reservations over the new connection.
    for (let i = 0; i < 12; i++) afterCut.push(await first.next());
    await first.close();

    const second = await source(await registry(prefix), 4);
    const restarted: number[] = [];
    for (let i = 0; i < 6; i++) restarted.push(await second.next());

    const all = [...before, ...afterCut, ...restarted];
    assert.equal(new Set(all).size, all.length, 'no id was handed out twice');
    assert.ok(Math.min(...afterCut) > Math.max(...before), 'ids after the cut continue above those before');
    assert.ok(Math.min(...restarted) > Math.max(...afterCut), 'the restarted instance continues above everything the first reserved');
  });
});

describe('cluster transactionIds while Redis does not answer', { skip: ownSkip }, () => {
  test('ids at hand are still answered synchronously; the caller past them gets the registry error, and ids continue once Redis answers', async () => {
    const server = await OwnRedis.start();
    const registry = await RedisRegistry.connect({ connection: { host: '127.0.0.1', port: server.port }, commandTimeoutMs: 300 });
    const ids = await ClusterTransactionIds.open({ registry, blockSize: 3 });
    try {
      server.pause();
      // The block in use and the spare: no Redis needed.
      const atHand = Array.from({ length: 6 }, () => ids.next());
      assert.deepEqual(atHand, [1, 2, 3, 4, 5, 6]);
      await assert.rejects(Promise.resolve(ids.next()), RegistryUnavailableError);

      server.resume();
      await waitUntil(() => registry.isReady(), 'the registry to answer again');
      const next = await ids.next();
      // The reservation that timed out may still have been applied when Redis woke up: its ids are skipped, never reused.
      assert.ok(Number.isSafeInteger(next) && next > 6, `the next id ${next} is above every id handed out`);
    } finally {
      await ids.close();
      await registry.close();
      await server.stop();
    }
  });
});
