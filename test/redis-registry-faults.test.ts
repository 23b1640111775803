/**
 * The Redis registry when Redis fails: each test runs its own redis-server (no persistence) and kills, stalls
 * or restarts only that one.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisRegistry, type RedisRegistryOptions } from '../src/registry/redis-registry.js';
import { RefreshScheduler } from '../src/registry/refresh-scheduler.js';
import { InstanceRegistrationLostError, type Ownership, RegistryUnavailableError } from '../src/registry/types.js';
import { OwnRedis, ownRedisSkipReason, waitUntil } from './helpers/redis-server.js';

const skip = await ownRedisSkipReason();

function unavailable(operation: string) {
  return (err: unknown) => {
    assert.ok(err instanceof RegistryUnavailableError, `expected RegistryUnavailableError, got ${String(err)}`);
    assert.match(err.message, new RegExp(`^ownership registry unavailable: ${operation} failed: `));
    return true;
  };
}

describe('Redis registry faults', { skip, timeout: 60_000 }, () => {
  let server: OwnRedis;
  const made: RedisRegistry[] = [];
  const connect = async (options: Partial<RedisRegistryOptions> = {}) => {
    const registry = await RedisRegistry.connect({ connection: { host: '127.0.0.1', port: server.port }, commandTimeoutMs: 500, ...options });
    made.push(registry);
    return registry;
  };
  beforeEach(async () => {
    server = await OwnRedis.start();
  });
  afterEach(async () => {
    await Promise.all(made.splice(0).map((r) => r.close()));
    await server.stop();
  });

  it('is not ready and fails every call with a clear error while Redis is down, and ready again once it is back', async () => {
    const registry = await connect();
    const before = await registry.claim('CP-1', 'pod-a');
    assert.equal(registry.isReady(), true);

    await server.kill();
    await waitUntil(() => !registry.isReady(), 'the registry to notice Redis is gone');
    await assert.rejects(registry.claim('CP-1', 'pod-a'), unavailable('claim'));
    await assert.rejects(registry.release('CP-1', before.epoch), unavailable('release'));
    await assert.rejects(registry.refresh([{ identity: 'CP-1', epoch: before.epoch }]), unavailable('refresh'));
    await assert.rejects(registry.owners(['CP-1']), unavailable('owners'));
    await assert.rejects(registry.reserveTransactionIds(10), unavailable('reserveTransactionIds'));

    await server.restart();
    await waitUntil(() => registry.isReady(), 'the registry to reconnect');
    // The restarted Redis kept nothing, yet the new epoch is still higher than the one before.
    const after = await registry.claim('CP-1', 'pod-a');
    assert.equal(after.previous, undefined);
    assert.ok(after.epoch > before.epoch, `${after.epoch} > ${before.epoch}`);
  });

  it('fails a call after the command timeout when Redis stops answering, instead of hanging', async () => {
    const registry = await connect({ commandTimeoutMs: 300 });
    await registry.claim('CP-2', 'pod-a');
    server.pause();
    try {
      await assert.rejects(registry.owner('CP-2'), (err: unknown) => {
        unavailable('owners')(err);
        assert.match((err as Error).message, /timed out/i);
        return true;
      });
    } finally {
      server.resume();
    }
    await waitUntil(async () => (await registry.owner('CP-2').catch(() => undefined)) !== undefined, 'Redis to answer again');
    assert.equal((await registry.owner('CP-2'))?.instanceId, 'pod-a');
  });

  it('loses ownership after the TTL without Redis, and regains it only by registering again', async () => {
    // Long enough that a busy machine cannot let the registration lapse between two steps of the test.
    const registry = await connect({ ttlMs: 3000 });
    await registry.registerInstance('pod-a');
    let lapses = 0;
    registry.onOwnershipLost(() => lapses++);

    await server.kill();
    await assert.rejects(registry.heartbeat(), unavailable('heartbeat'));
    await waitUntil(() => lapses === 1, 'ownership to lapse');
    assert.equal(registry.ownershipValid(), false);

    await server.restart();
    await waitUntil(() => registry.isReady(), 'the registry to reconnect');
    assert.equal(registry.ownershipValid(), false, 'reconnecting alone does not restore ownership');
    await assert.rejects(registry.heartbeat(), InstanceRegistrationLostError);
    await registry.registerInstance('pod-a');
    assert.equal(registry.ownershipValid(), true);
    assert.deepEqual(await registry.liveInstances(), ['pod-a']);
    assert.equal(lapses, 1);
  });

  it('keeps the registration and the holds through an outage that spans two rounds, by retrying failed rounds soon', async () => {
    // Redis keeps its data across the restart here, as production runs it: only the outage itself is under test.
    await server.stop();
    server = await OwnRedis.start({ persistent: true });
    // Rounds every 3 s against a 9 s TTL. The lease runs out 9 s after the registration was sent; Redis is away from
    // just after it until 6.3 s, so the rounds at 3 s and 6 s both fail and, on the fixed cadence alone, the next
    // round would come at 9 s, the very moment the lease ends.
    const registry = await connect({ ttlMs: 9000 });
    const registeredAt = performance.now();
    await registry.registerInstance('pod-a');
    const { epoch } = await registry.claim('CP-4', 'pod-a');
    const errors: unknown[] = [];
    const lostReports: Ownership[][] = [];
    let lapses = 0;
    let registrations = 0;
    // When each step happened, in ms after the registration was sent: a lapse says which step came late.
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${what} ${Math.round(performance.now() - registeredAt)}`);
    registry.onOwnershipLost(() => {
      lapses++;
      mark('lapsed');
    });
    const scheduler = new RefreshScheduler({
      registry,
      instanceId: 'pod-a',
      owned: () => [{ identity: 'CP-4', epoch }],
      onLost: (lost) => lostReports.push(lost),
      onError: (err) => {
        errors.push(err);
        mark('round failed');
      },
      onRegistered: () => registrations++,
    });
    scheduler.start();
    const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, registeredAt + ms - performance.now())));
    try {
      await server.kill();
      mark('killed');
      await sleepUntil(6300);
      await server.restart();
      mark('restarted');
      await waitUntil(() => registry.isReady(), 'the registry to reconnect');
      mark('reconnected');
      // Past the end of the lease the registration would have had without a renewal after the restart.
      await sleepUntil(10_000);
    } finally {
      await scheduler.stop();
    }
    assert.equal(lapses, 0, `ownership never lapsed (ms after registering: ${timeline.join(', ')})`);
    assert.equal(registrations, 0, 'no registration was needed again');
    assert.deepEqual(lostReports, []);
    assert.equal(registry.ownershipValid(), true);
    assert.deepEqual(await registry.owner('CP-4'), { instanceId: 'pod-a', epoch });
    assert.deepEqual(await registry.liveInstances(), ['pod-a']);
    assert.ok(errors.length > 0, 'rounds without Redis are reported');
    for (const err of errors) assert.ok(err instanceof RegistryUnavailableError, String(err));
  });

  it('has the refresh scheduler report errors while Redis is down, then register again and report the holds Redis lost', async () => {
    // Rounds every 667 ms against a 2 s TTL, so only the outage makes ownership lapse.
    const registry = await connect({ ttlMs: 2000 });
    await registry.registerInstance('pod-a');
    const { epoch } = await registry.claim('CP-3', 'pod-a');
    const owned = new Map([['CP-3', epoch]]);
    const lostReports: Ownership[][] = [];
    const errors: unknown[] = [];
    let registrations = 0;
    let lapses = 0;
    registry.onOwnershipLost(() => lapses++);
    const scheduler = new RefreshScheduler({
      registry,
      instanceId: 'pod-a',
      owned: () => [...owned].map(([identity, e]) => ({ identity, epoch: e })),
      onLost: (lost) => {
        lostReports.push(lost);
        for (const entry of lost) if (owned.get(entry.identity) === entry.epoch) owned.delete(entry.identity);
      },
      onError: (err) => errors.push(err),
      onRegistered: () => registrations++,
    });
    scheduler.start();
    try {
      await server.kill();
      await waitUntil(() => lapses === 1, 'ownership to lapse');
      await server.restart();
      await waitUntil(() => registrations === 1 && lostReports.length === 1, 'the scheduler to register again and report the lost hold');
    } finally {
      await scheduler.stop();
    }
    assert.deepEqual(lostReports, [[{ identity: 'CP-3', epoch }]]);
    assert.equal(registry.ownershipValid(), true);
    assert.ok(errors.length > 0, 'rounds without Redis are reported');
    for (const err of errors) assert.ok(err instanceof RegistryUnavailableError, String(err));
  });
});
