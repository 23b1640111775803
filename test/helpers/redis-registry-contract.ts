/**
 * The behaviour every Registry implementation shares, run against the Redis registry and the in-process one.
 * `make` returns a registry of one more instance sharing the same registry state (same Redis and key prefix,
 * or same in-process store); the suite closes what it made.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InstanceIdInUseError, InstanceRegistrationLostError, MAX_TRANSACTION_ID, type Registry, TransactionIdsExhaustedError } from '../../src/registry/types.js';
import { waitUntil } from './redis-server.js';

export interface RegistryUnderTest {
  /** A registry for one more instance on the shared state of this test. */
  make(options?: { ttlMs?: number }): Promise<Registry>;
  /** Removes the state of this test (after its registries are closed). */
  cleanup(): Promise<void>;
}

/** `setup` runs before each test and gives it fresh, empty registry state. */
export function registryContract(name: string, skip: string | false, setup: () => RegistryUnderTest): void {
  describe(`${name}: registry contract`, { skip }, () => {
    const made: Registry[] = [];
    let state: RegistryUnderTest;
    const make = async (options?: { ttlMs?: number }) => {
      const registry = await state.make(options);
      made.push(registry);
      return registry;
    };
    beforeEach(() => {
      state = setup();
    });
    afterEach(async () => {
      await Promise.all(made.splice(0).map((r) => r.close()));
      await state.cleanup();
    });

    it('gives each claim a higher epoch than the last, on whichever instance, and names the connection it replaces', async () => {
      const a = await make();
      const b = await make();
      const first = await a.claim('CP-1', 'pod-a');
      const second = await b.claim('CP-1', 'pod-b');
      const third = await a.claim('CP-1', 'pod-a');
      assert.equal(first.previous, undefined);
      assert.deepEqual(second.previous, { instanceId: 'pod-a', epoch: first.epoch });
      assert.deepEqual(third.previous, { instanceId: 'pod-b', epoch: second.epoch });
      assert.ok(first.epoch < second.epoch && second.epoch < third.epoch, `${first.epoch} < ${second.epoch} < ${third.epoch}`);
      assert.deepEqual(await b.owner('CP-1'), { instanceId: 'pod-a', epoch: third.epoch });
    });

    it('keeps epochs growing after a release and for a registry that starts later', async () => {
      const a = await make();
      const first = await a.claim('CP-2', 'pod-a');
      assert.equal(await a.release('CP-2', first.epoch), true);
      assert.equal(await a.owner('CP-2'), null);
      const restarted = await make();
      const second = await restarted.claim('CP-2', 'pod-a');
      assert.equal(second.previous, undefined);
      assert.ok(second.epoch > first.epoch, `${second.epoch} > ${first.epoch}`);
    });

    it("ignores a late release by the old owner: the new owner's hold stays", async () => {
      const a = await make();
      const b = await make();
      const old = await a.claim('CP-3', 'pod-a');
      const current = await b.claim('CP-3', 'pod-b');
      assert.equal(await a.release('CP-3', old.epoch), false);
      assert.deepEqual(await a.owner('CP-3'), { instanceId: 'pod-b', epoch: current.epoch });
    });

    it('refreshes only holds still at their epoch and reports the others lost', async () => {
      const a = await make();
      const b = await make();
      const stale = await a.claim('CP-4', 'pod-a');
      const kept = await a.claim('CP-5', 'pod-a');
      const taken = await b.claim('CP-4', 'pod-b');
      const lost = await a.refresh([
        { identity: 'CP-4', epoch: stale.epoch },
        { identity: 'CP-5', epoch: kept.epoch },
        { identity: 'CP-never-claimed', epoch: 7 },
      ]);
      assert.deepEqual(lost, [
        { identity: 'CP-4', epoch: stale.epoch },
        { identity: 'CP-never-claimed', epoch: 7 },
      ]);
      assert.deepEqual(await a.owners(['CP-4', 'CP-5', 'CP-never-claimed']), [
        { instanceId: 'pod-b', epoch: taken.epoch },
        { instanceId: 'pod-a', epoch: kept.epoch },
        null,
      ]);
    });

    it('lets a hold expire once its instance stops refreshing it, while a refreshed one lives on', async () => {
      const a = await make({ ttlMs: 1000 });
      const dropped = await a.claim('CP-6', 'pod-a');
      const refreshed = await a.claim('CP-7', 'pod-a');
      await waitUntil(async () => {
        assert.deepEqual(await a.refresh([{ identity: 'CP-7', epoch: refreshed.epoch }]), []);
        return (await a.owner('CP-6')) === null;
      }, 'the unrefreshed hold to expire');
      assert.deepEqual(await a.owner('CP-7'), { instanceId: 'pod-a', epoch: refreshed.epoch });
      assert.deepEqual(await a.refresh([{ identity: 'CP-6', epoch: dropped.epoch }]), [{ identity: 'CP-6', epoch: dropped.epoch }]);
    });

    it('refuses an instance id held by a live instance, and gives it out once that registration expired', async () => {
      const first = await make({ ttlMs: 1000 });
      const second = await make({ ttlMs: 1000 });
      let lapses = 0;
      first.onOwnershipLost(() => lapses++);
      await first.registerInstance('pod-dup');
      assert.equal(first.ownershipValid(), true);
      await assert.rejects(second.registerInstance('pod-dup'), InstanceIdInUseError);
      assert.equal(second.ownershipValid(), false);
      assert.deepEqual(await second.liveInstances(), ['pod-dup']);
      // The first instance stops its heartbeat: its registration expires.
      await waitUntil(async () => (await second.liveInstances()).length === 0, 'the first registration to expire');
      await second.registerInstance('pod-dup');
      assert.equal(second.ownershipValid(), true);
      assert.deepEqual(await first.liveInstances(), ['pod-dup']);
      assert.equal(first.ownershipValid(), false);
      assert.equal(lapses, 1);
      await assert.rejects(first.heartbeat(), InstanceRegistrationLostError);
      await assert.rejects(first.registerInstance('pod-dup'), InstanceIdInUseError);
    });

    it('keeps a registration alive by heartbeat and gives the id back on close', async () => {
      const first = await make({ ttlMs: 2000 });
      await first.registerInstance('pod-hb');
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        await first.heartbeat();
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(first.ownershipValid(), true);
      assert.deepEqual(await first.liveInstances(), ['pod-hb']);
      await first.close();
      const next = await make({ ttlMs: 2000 });
      assert.deepEqual(await next.liveInstances(), []);
      await next.registerInstance('pod-hb');
      assert.equal(next.ownershipValid(), true);
    });

    it('hands out transactionId blocks that never overlap across registries and continue after a reconnect', async () => {
      const a = await make();
      const b = await make();
      const blocks = [];
      for (let i = 0; i < 3; i++) blocks.push(await a.reserveTransactionIds(100), await b.reserveTransactionIds(100));
      assert.deepEqual(blocks, [
        { from: 1, to: 100 },
        { from: 101, to: 200 },
        { from: 201, to: 300 },
        { from: 301, to: 400 },
        { from: 401, to: 500 },
        { from: 501, to: 600 },
      ]);
      await a.close();
      const reconnected = await make();
      assert.deepEqual(await reconnected.reserveTransactionIds(100), { from: 601, to: 700 });
      assert.deepEqual(await reconnected.reserveTransactionIds(10, 650), { from: 701, to: 710 }, 'a floor below the counter changes nothing');
    });

    it(`stops at transactionId ${MAX_TRANSACTION_ID} and then refuses`, async () => {
      const a = await make();
      assert.deepEqual(await a.reserveTransactionIds(100, 5000), { from: 5001, to: 5100 }, 'a floor above the counter raises it');
      assert.deepEqual(await a.reserveTransactionIds(10, MAX_TRANSACTION_ID - 4), { from: MAX_TRANSACTION_ID - 3, to: MAX_TRANSACTION_ID });
      await assert.rejects(a.reserveTransactionIds(1), TransactionIdsExhaustedError);
    });

    it('remembers the first transactionId given to a StartTransaction, for every registry, until its TTL', async () => {
      const a = await make();
      const b = await make();
      assert.equal(await a.rememberStartTransaction('CP-S', 'start-1', 7, 60_000), 7);
      assert.equal(await b.rememberStartTransaction('CP-S', 'start-1', 8, 60_000), 7, 'another instance gets the first one');
      assert.equal(await b.rememberStartTransaction('CP-S', 'start-2', 9, 60_000), 9, 'another start of the charger');
      assert.equal(await b.rememberStartTransaction('CP-T', 'start-1', 10, 60_000), 10, 'the same start key of another charger');
      assert.equal(await a.rememberStartTransaction('CP-S', 'short', 11, 50), 11);
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.equal(await b.rememberStartTransaction('CP-S', 'short', 12, 50), 12, 'forgotten after its TTL');
    });
  });
}
