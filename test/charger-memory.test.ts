/**
 * What the gateway knows about a charger outlives its connection: connector statuses, boot information and the
 * transaction → connector mapping survive a reconnect (and the mapping a graceful restart); a retried 1.6
 * StartTransaction gets the first one's answer; a repeated StopTransaction is marked; memory is released when a
 * charger has been gone long enough, and bounded in total.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { metricValue, waitUntil } from './helpers/gateway-harness.js';
import { deferred, getJson, type ObservedGateway, startObservedGateway } from './helpers/observed-gateway.js';

const T0 = '2026-01-05T10:00:00.000Z';
const status16 = (connectorId: number, status: string) => ({ connectorId, errorCode: 'NoError', status, timestamp: new Date().toISOString() });
const boot16 = { chargePointVendor: 'Acme', chargePointModel: 'M1', chargePointSerialNumber: 'SN-1', firmwareVersion: '1.0' };

function ofType(gw: ObservedGateway, id: string, type: string) {
  return gw.eventsOf(id).filter((e) => e.eventType === type);
}

async function disconnectedCount(gw: ObservedGateway, id: string, n: number): Promise<void> {
  await waitUntil(() => ofType(gw, id, 'charge_point.disconnected').length === n, 3000, `${n} disconnected events of ${id}`);
}

describe('memory across reconnects', () => {
  test('previousStatus after a reconnect is the status reported before it', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-PREV';
      const first = await gw.connect(id);
      await first.callOk('StatusNotification', status16(1, 'Available'));
      await first.close(1000);
      await disconnectedCount(gw, id, 1);
      const second = await gw.connect(id);
      await second.callOk('StatusNotification', status16(1, 'Preparing'));
      const statuses = ofType(gw, id, 'connector.status_changed').map((e) => [e.payload.status, e.payload.previousStatus]);
      assert.deepEqual(statuses, [
        ['Available', null],
        ['Preparing', 'Available'],
      ]);
    } finally {
      await gw.stop();
    }
  });

  test('the charger detail shows the boot of the previous connection after a reconnect without a new BootNotification', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-BOOT';
      const first = await gw.connect(id);
      await first.callOk('BootNotification', boot16);
      await first.close(1000);
      await disconnectedCount(gw, id, 1);
      await gw.connect(id);
      const detail = await getJson(`${gw.adminUrl}/api/v1/charge-points/${id}`);
      assert.equal(detail.status, 200);
      const { at, ...boot } = detail.body.boot;
      assert.ok(!Number.isNaN(Date.parse(at)));
      assert.deepEqual(boot, { status: 'Accepted', vendor: 'Acme', model: 'M1', serialNumber: 'SN-1', firmwareVersion: '1.0' });
      const list = await getJson(`${gw.adminUrl}/api/v1/charge-points`);
      assert.equal(list.body.items[0].boot.vendor, 'Acme');
    } finally {
      await gw.stop();
    }
  });

  test('transaction.stopped names the connector after a reconnect', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-STOP-RECONNECT';
      const first = await gw.connect(id);
      const started = await first.callOk('StartTransaction', { connectorId: 2, idTag: 'TAG-1', meterStart: 100, timestamp: T0 });
      await first.close(1000);
      await disconnectedCount(gw, id, 1);
      const second = await gw.connect(id);
      await second.callOk('StopTransaction', { transactionId: started.transactionId, meterStop: 900, timestamp: T0 });
      const [stopped] = ofType(gw, id, 'transaction.stopped');
      assert.equal(stopped.payload.transactionId, String(started.transactionId));
      assert.equal(stopped.payload.connectorId, 2);
      assert.equal(stopped.payload.repeat, false);
    } finally {
      await gw.stop();
    }
  });
});

describe('retried StartTransaction and repeated StopTransaction (1.6)', () => {
  test('a retried StartTransaction gets the same transactionId without asking the backend again; its event is marked retry', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-RETRY';
      let asked = 0;
      gw.gateway.bus.respond('gateway.requests.StartTransaction', () => {
        asked++;
        return { transactionId: 4000 + asked, idTagInfo: { status: 'Accepted' } };
      });
      const start = { connectorId: 1, idTag: 'TAG-R', meterStart: 500, timestamp: T0 };
      const first = await gw.connect(id);
      const a = await first.callOk('StartTransaction', start);
      // The charger did not see the answer (connection lost): it reconnects and sends the same message.
      await first.terminate();
      await disconnectedCount(gw, id, 1);
      const second = await gw.connect(id);
      const b = await second.callOk('StartTransaction', start);
      assert.deepEqual(a, { transactionId: 4001, idTagInfo: { status: 'Accepted' } });
      assert.deepEqual(b, a, 'the same answer');
      assert.equal(asked, 1, 'the backend was asked once');
      const started = ofType(gw, id, 'transaction.started').map((e) => [e.payload.transactionId, e.payload.retry]);
      assert.deepEqual(started, [
        ['4001', false],
        ['4001', true],
      ]);
      // A different start (another meterStart) is a new transaction.
      const c = await second.callOk('StartTransaction', { ...start, meterStart: 600 });
      assert.equal(c.transactionId, 4002);
    } finally {
      await gw.stop();
    }
  });

  test('with a local answer a retry gets the same allocated id', async () => {
    const gw = await startObservedGateway({ overrides: { policy: { actions: { StartTransaction: 'event' } } } });
    try {
      const id = 'MEM-RETRY-LOCAL';
      const start = { connectorId: 1, idTag: 'TAG-L', meterStart: 10, timestamp: T0 };
      const charger = await gw.connect(id);
      const a = await charger.callOk('StartTransaction', start);
      const b = await charger.callOk('StartTransaction', start);
      assert.equal(b.transactionId, a.transactionId);
      assert.deepEqual(
        ofType(gw, id, 'transaction.started').map((e) => e.payload.retry),
        [false, true],
      );
    } finally {
      await gw.stop();
    }
  });

  test('the charger disconnects while the backend decides: no event for the lost answer; the retry gets that answer and one unmarked event', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-SLOW';
      let asked = 0;
      const askedOnce = deferred<void>();
      const release = deferred<void>();
      gw.gateway.bus.respond('gateway.requests.StartTransaction', async () => {
        asked++;
        askedOnce.resolve();
        await release.promise;
        return { transactionId: 777, idTagInfo: { status: 'Accepted' } };
      });
      const start = { connectorId: 1, idTag: 'TAG-S', meterStart: 1, timestamp: T0 };
      const first = await gw.connect(id);
      const lost = first.call('StartTransaction', start, 1000).catch(() => 'no answer');
      await askedOnce.promise;
      await first.terminate();
      await disconnectedCount(gw, id, 1);
      const second = await gw.connect(id);
      const retried = second.callOk('StartTransaction', start);
      release.resolve();
      assert.deepEqual(await retried, { transactionId: 777, idTagInfo: { status: 'Accepted' } });
      assert.equal(await lost, 'no answer', 'the first connection never got an answer');
      assert.equal(asked, 1, 'the backend was asked once');
      const started = ofType(gw, id, 'transaction.started').map((e) => [e.payload.transactionId, e.payload.retry]);
      assert.deepEqual(started, [['777', false]], 'exactly one transaction.started, for the answer the charger got');
      assert.equal(await metricValue(gw.gateway, 'gateway_answers_undelivered_total', { action: 'StartTransaction' }), 1);
    } finally {
      await gw.stop();
    }
  });

  test('a repeated StopTransaction is answered and its transaction.stopped is marked repeat, with the connector', async () => {
    const gw = await startObservedGateway();
    try {
      const id = 'MEM-REPEAT';
      const charger = await gw.connect(id);
      const { transactionId } = await charger.callOk('StartTransaction', { connectorId: 3, idTag: 'TAG-P', meterStart: 0, timestamp: T0 });
      const stop = { transactionId, meterStop: 1234, timestamp: T0, reason: 'EVDisconnected' };
      assert.deepEqual(await charger.callOk('StopTransaction', stop), {});
      assert.deepEqual(await charger.callOk('StopTransaction', stop), {});
      const stopped = ofType(gw, id, 'transaction.stopped').map((e) => [e.payload.transactionId, e.payload.connectorId, e.payload.repeat]);
      assert.deepEqual(stopped, [
        [String(transactionId), 3, false],
        [String(transactionId), 3, true],
      ]);
    } finally {
      await gw.stop();
    }
  });
});

describe('memory across a graceful restart', () => {
  test('after a graceful restart: a retried start gets its id, transaction.stopped names its connector, previousStatus is kept', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'gw-mem-restart-'));
    try {
      const id = 'MEM-RESTART';
      const startX = { connectorId: 2, idTag: 'TAG-X', meterStart: 0, timestamp: T0 };
      const before = await startObservedGateway({ stateDir });
      let transactionId: number;
      try {
        const charger = await before.connect(id);
        await charger.callOk('BootNotification', boot16);
        await charger.callOk('StatusNotification', status16(2, 'Charging'));
        ({ transactionId } = await charger.callOk('StartTransaction', startX));
      } finally {
        await before.stop();
      }
      const after = await startObservedGateway({ stateDir });
      try {
        const charger = await after.connect(id);
        // The charger never saw the answer before the restart: its retry still gets the same transactionId.
        assert.equal((await charger.callOk('StartTransaction', startX)).transactionId, transactionId);
        assert.deepEqual(
          ofType(after, id, 'transaction.started').map((e) => e.payload.retry),
          [true],
        );
        await charger.callOk('StopTransaction', { transactionId, meterStop: 50, timestamp: T0 });
        await charger.callOk('StatusNotification', status16(2, 'Finishing'));
        const [stopped] = ofType(after, id, 'transaction.stopped');
        assert.equal(stopped.payload.connectorId, 2);
        assert.equal(stopped.payload.repeat, false);
        const [status] = ofType(after, id, 'connector.status_changed');
        assert.equal(status.payload.previousStatus, 'Charging');
      } finally {
        await after.stop();
      }
      // Read once: a crash after this start must not bring the old snapshot back.
      const third = await startObservedGateway({ stateDir });
      try {
        const charger = await third.connect(id);
        await charger.callOk('StatusNotification', status16(2, 'Available'));
        assert.equal(ofType(third, id, 'connector.status_changed')[0].payload.previousStatus, 'Finishing', 'the second graceful stop saved again');
      } finally {
        await third.stop();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('forgetting', () => {
  test('a charger gone for chargers.forgetAfterMs is forgotten: its next status has no previousStatus', async () => {
    const gw = await startObservedGateway({ overrides: { chargers: { forgetAfterMs: 200 } } });
    try {
      const id = 'MEM-FORGET';
      const first = await gw.connect(id);
      await first.callOk('StatusNotification', status16(1, 'Available'));
      assert.equal(await metricValue(gw.gateway, 'gateway_chargers_remembered'), 1);
      await first.close(1000);
      await waitUntil(async () => (await metricValue(gw.gateway, 'gateway_chargers_remembered')) === 0, 5000, 'the charger forgotten');
      const second = await gw.connect(id);
      await second.callOk('StatusNotification', status16(1, 'Preparing'));
      assert.deepEqual(
        ofType(gw, id, 'connector.status_changed').map((e) => e.payload.previousStatus),
        [null, null],
      );
    } finally {
      await gw.stop();
    }
  });

  test('beyond chargers.maxRememberedEntries the charger gone longest is forgotten first', async () => {
    const gw = await startObservedGateway({ overrides: { chargers: { maxRememberedEntries: 7 } } });
    try {
      // Three connector statuses each: two chargers gone hold 6 entries, a third would make 9.
      for (const id of ['ENT-A', 'ENT-B', 'ENT-C']) {
        const charger = await gw.connect(id);
        for (const connector of [1, 2, 3]) await charger.callOk('StatusNotification', status16(connector, 'Available'));
        await charger.close(1000);
        await disconnectedCount(gw, id, 1);
      }
      assert.equal(await metricValue(gw.gateway, 'gateway_chargers_remembered'), 2);
      for (const id of ['ENT-A', 'ENT-C']) {
        const charger = await gw.connect(id);
        await charger.callOk('StatusNotification', status16(1, 'Faulted'));
      }
      assert.equal(ofType(gw, 'ENT-A', 'connector.status_changed')[3].payload.previousStatus, null, 'A was forgotten');
      assert.equal(ofType(gw, 'ENT-C', 'connector.status_changed')[3].payload.previousStatus, 'Available', 'C was remembered');
    } finally {
      await gw.stop();
    }
  });

  test('a connection that reported nothing leaves nothing behind when it closes', async () => {
    const gw = await startObservedGateway();
    try {
      const keeps = await gw.connect('MEM-KEEPS');
      await keeps.callOk('StatusNotification', status16(1, 'Available'));
      for (const id of ['MEM-SILENT-1', 'MEM-SILENT-2', 'MEM-SILENT-3']) {
        const silent = await gw.connect(id);
        await silent.callOk('Heartbeat', {});
        assert.equal(await metricValue(gw.gateway, 'gateway_chargers_remembered'), 2, 'held while connected');
        await silent.close(1000);
        await disconnectedCount(gw, id, 1);
      }
      await keeps.close(1000);
      await disconnectedCount(gw, 'MEM-KEEPS', 1);
      assert.equal(await metricValue(gw.gateway, 'gateway_chargers_remembered'), 1, 'only the charger that reported a status');
    } finally {
      await gw.stop();
    }
  });

  test('beyond chargers.maxRemembered the charger gone longest is forgotten first', async () => {
    const gw = await startObservedGateway({ overrides: { chargers: { maxRemembered: 2 } } });
    try {
      for (const id of ['MAX-A', 'MAX-B', 'MAX-C']) {
        const charger = await gw.connect(id);
        await charger.callOk('StatusNotification', status16(1, 'Available'));
        await charger.close(1000);
        await disconnectedCount(gw, id, 1);
      }
      assert.equal(await metricValue(gw.gateway, 'gateway_chargers_remembered'), 2);
      for (const id of ['MAX-A', 'MAX-C']) {
        const charger = await gw.connect(id);
        await charger.callOk('StatusNotification', status16(1, 'Faulted'));
      }
      assert.equal(ofType(gw, 'MAX-A', 'connector.status_changed')[1].payload.previousStatus, null, 'A was forgotten');
      assert.equal(ofType(gw, 'MAX-C', 'connector.status_changed')[1].payload.previousStatus, 'Available', 'C was remembered');
    } finally {
      await gw.stop();
    }
  });
});
