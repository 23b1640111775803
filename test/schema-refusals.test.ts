/**
 * A charger refused by the schema is visible: one warning per charger and action per interval naming the
 * failing fields, and its last refusals in the charger detail. Validation mode `log` writes one line per action
 * per interval, not one per message.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getJson, startObservedGateway } from './helpers/observed-gateway.js';

/** 37 characters: 1.6 allows 25 (CiString25). */
const LONG_SERIAL = 'SN-0123456789-0123456789-0123456789-X';
const badBoot = { chargePointVendor: 'Acme', chargePointModel: 'M1', chargePointSerialNumber: LONG_SERIAL };

describe('schema refusals (strict)', () => {
  test('three refused BootNotifications: three CALLERRORs, one warning naming charger, action and path, three refusals in the detail', async () => {
    const gw = await startObservedGateway();
    let stopped = false;
    try {
      const id = 'REF-LONG-SERIAL';
      const charger = await gw.connect(id);
      for (let i = 0; i < 3; i++) {
        const answer = await charger.call('BootNotification', badBoot);
        assert.equal(answer.kind === 'error' && answer.code, 'PropertyConstraintViolation');
      }
      const refusedLines = gw.logs.filter((l) => l.msg === 'charger CALL refused: the payload breaks the OCPP schema');
      assert.equal(refusedLines.length, 1);
      const [line] = refusedLines;
      assert.equal(line.level, 40, 'warn');
      assert.equal(line.chargePointId, id);
      assert.equal(line.action, 'BootNotification');
      assert.equal(line.errorCode, 'PropertyConstraintViolation');
      assert.deepEqual(line.paths, [{ path: '/chargePointSerialNumber', keyword: 'maxLength' }]);
      assert.equal(JSON.stringify(line).includes(LONG_SERIAL), false, 'the payload itself is not logged');

      const detail = await getJson(`${gw.adminUrl}/api/v1/charge-points/${id}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.boot, null);
      assert.equal(detail.body.refusals.length, 3);
      for (const refusal of detail.body.refusals) {
        assert.ok(!Number.isNaN(Date.parse(refusal.at)));
        assert.deepEqual(
          { action: refusal.action, errorCode: refusal.errorCode, paths: refusal.paths },
          { action: 'BootNotification', errorCode: 'PropertyConstraintViolation', paths: [{ path: '/chargePointSerialNumber', keyword: 'maxLength' }] },
        );
      }
      await gw.stop();
      stopped = true;
      // At shutdown the lines left out are summarised.
      const summaries = gw.logs.filter((l) => l.msg === 'repeated log lines left out');
      assert.deepEqual(
        summaries.map((l) => [l.key, l.suppressed]),
        [[`schema-refused:${id}:BootNotification`, 2]],
      );
    } finally {
      if (!stopped) await gw.stop();
    }
  });

  test('another charger refused for the same action gets its own warning', async () => {
    const gw = await startObservedGateway();
    try {
      for (const id of ['REF-A', 'REF-B']) {
        const charger = await gw.connect(id);
        await charger.call('BootNotification', badBoot);
        await charger.call('BootNotification', badBoot);
      }
      const lines = gw.logs.filter((l) => l.msg === 'charger CALL refused: the payload breaks the OCPP schema');
      assert.deepEqual(
        lines.map((l) => l.chargePointId),
        ['REF-A', 'REF-B'],
      );
    } finally {
      await gw.stop();
    }
  });
});

describe('validation mode log', () => {
  test('three bad BootNotifications from two chargers are handled and write one warning', async () => {
    const gw = await startObservedGateway({ overrides: { ocpp: { validation: { actions: { BootNotification: 'log' } } } } });
    try {
      for (const id of ['LOG-A', 'LOG-B']) {
        const charger = await gw.connect(id);
        const answer = await charger.callOk('BootNotification', badBoot);
        assert.equal(answer.status, 'Accepted');
      }
      const charger = await gw.connect('LOG-C');
      await charger.callOk('BootNotification', badBoot);
      const lines = gw.logs.filter((l) => l.msg === 'charger payload breaks the schema; handled anyway (validation mode log)');
      assert.equal(lines.length, 1);
      assert.equal(lines[0].action, 'BootNotification');
      assert.deepEqual(lines[0].paths, [{ path: '/chargePointSerialNumber', keyword: 'maxLength' }]);
    } finally {
      await gw.stop();
    }
  });
});

describe('per-message errors of the event path', () => {
  test('an event subscriber that fails on every event writes one error line per event type, the rest counted', async () => {
    const gw = await startObservedGateway();
    let stopped = false;
    try {
      gw.gateway.bus.subscribe('gateway.events.connector.>', () => {
        throw new Error('this subscriber always fails');
      });
      const charger = await gw.connect('SUB-FAILS');
      for (const status of ['Available', 'Preparing', 'Charging', 'Finishing']) {
        await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status, timestamp: new Date().toISOString() });
      }
      const failed = gw.logs.filter((l) => l.msg === 'event subscriber failed');
      assert.deepEqual(
        failed.map((l) => [l.level, l.subject]),
        [[50, 'gateway.events.connector.status_changed']],
      );
      await gw.stop();
      stopped = true;
      const summaries = gw.logs.filter((l) => l.msg === 'repeated log lines left out');
      assert.deepEqual(
        summaries.map((l) => [l.key, l.suppressed]),
        [['subscriber:gateway.events.connector.status_changed', 3]],
      );
    } finally {
      if (!stopped) await gw.stop();
    }
  });
});
