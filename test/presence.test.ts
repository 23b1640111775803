/**
 * Presence a backend can trust: for one charger the replaced connection's `charge_point.disconnected` comes
 * before the new connection's `charge_point.connected`, both carry the connection's epoch, epochs only grow
 * (also across a restart), and a replaced connection says nothing after its `disconnected`.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { metricValue, waitUntil } from './helpers/gateway-harness.js';
import { deferred, startObservedGateway } from './helpers/observed-gateway.js';

const boot16 = { chargePointVendor: 'Acme', chargePointModel: 'P1' };

describe('presence on replace', () => {
  test("the replaced connection's disconnected (4000, its epoch) precedes the new one's connected (a higher epoch)", async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'PRES-REPLACE';
      const first = await gw.connect(id);
      const second = await gw.connect(id);
      assert.equal((await first.closed).code, 4000);
      // The old socket's own close is handled by now: it must not add a second disconnected.
      await waitUntil(async () => (await metricValue(gw.gateway, 'ocpp_disconnects_total', { cause: 'replaced' })) === 1, 3000, 'the old socket closed');
      await second.close(1000);
      await waitUntil(() => gw.eventsOf(id).length === 4, 3000, 'the last disconnected');

      const events = gw.eventsOf(id);
      assert.deepEqual(
        events.map((e) => e.eventType),
        ['charge_point.connected', 'charge_point.disconnected', 'charge_point.connected', 'charge_point.disconnected'],
      );
      const [c1, d1, c2, d2] = events;
      assert.equal(typeof c1.payload.epoch, 'number');
      assert.equal(d1.payload.epoch, c1.payload.epoch, 'the disconnected names the epoch of the connection it ends');
      assert.equal(d1.payload.code, 4000);
      assert.equal(d1.payload.initiator, 'replaced');
      assert.ok(c2.payload.epoch > c1.payload.epoch, `new epoch ${c2.payload.epoch} > old ${c1.payload.epoch}`);
      assert.equal(d2.payload.epoch, c2.payload.epoch);
      assert.equal(d2.payload.code, 1000);
    } finally {
      await gw.stop();
    }
  });

  test('a connection replaced while the backend decides its BootNotification publishes nothing after its disconnected', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'PRES-LATE';
      const release = deferred<void>();
      const asked = deferred<void>();
      gw.gateway.bus.respond('gateway.requests.BootNotification', async () => {
        asked.resolve();
        await release.promise;
        return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 60 };
      });
      const first = await gw.connect(id);
      const pending = first.call('BootNotification', boot16, 1000).catch(() => 'no answer');
      await asked.promise;
      await gw.connect(id);
      await first.closed;
      release.resolve();
      assert.equal(await pending, 'no answer', 'the replaced connection got no answer');
      await waitUntil(async () => (await metricValue(gw.gateway, 'ocpp_disconnects_total', { cause: 'replaced' })) === 1, 3000, 'the old socket closed');
      assert.deepEqual(
        gw.eventsOf(id).map((e) => e.eventType),
        ['charge_point.connected', 'charge_point.disconnected', 'charge_point.connected'],
        'no charge_point.booted for an answer the charger never got',
      );
    } finally {
      await gw.stop();
    }
  });
});

describe('epochs across a restart', () => {
  for (const sameState of [true, false]) {
    test(`the first connection after a restart has a higher epoch than the last before it (${sameState ? 'same' : 'fresh'} state folder)`, async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'gw-epoch-'));
      try {
        const before = await startObservedGateway({ stateDir });
        let last: number;
        try {
          for (const id of ['EPOCH-A', 'EPOCH-B', 'EPOCH-A']) {
            const charger = await before.connect(id);
            await charger.close(1000);
          }
          await waitUntil(() => before.events.filter((e) => e.eventType === 'charge_point.disconnected').length === 3, 3000, 'three disconnects');
          last = Math.max(...before.events.map((e) => e.payload.epoch));
        } finally {
          await before.stop();
        }
        const after = await startObservedGateway(sameState ? { stateDir } : {});
        try {
          await after.connect('EPOCH-A');
          await waitUntil(() => after.events.length === 1, 3000, 'connected');
          assert.ok(after.events[0].payload.epoch > last, `epoch after restart ${after.events[0].payload.epoch} > ${last}`);
        } finally {
          await after.stop();
        }
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    });
  }
});
