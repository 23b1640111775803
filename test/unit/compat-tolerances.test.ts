/**
 * Each named tolerance on its own: what it changes, what it leaves alone, and that hostile payloads (wrong types
 * everywhere, odd nesting) never make it throw. The relaxed schemas are checked with the gateway's validators
 * against what the tests' own schema oracle refuses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compatSchema } from '../../src/compat/compat-config.js';
import { compileProfiles } from '../../src/compat/compiled-profile.js';
import { respelledErrorCode, TOLERANCE_NAMES, tolerance } from '../../src/compat/tolerances.js';
import { createValidators } from '../../src/ocpp/validation.js';
import { schemaOracle } from '../helpers/schema-oracle.js';

const repairCall = (name: (typeof TOLERANCE_NAMES)[number], action: string, payload: Record<string, unknown>) =>
  tolerance(name).repairCall?.('ocpp1.6', action, payload) ?? 0;

describe('repairs', () => {
  test('numbers-as-strings: numbers become text, padded numbers are trimmed, other text is left alone', () => {
    const payload = { connectorId: 1, meterValue: [{ timestamp: 't', sampledValue: [{ value: 3 }, { value: ' 1.7 ' }, { value: ' abc ' }, { value: '5' }] }] };
    assert.equal(repairCall('numbers-as-strings', 'MeterValues', payload), 2);
    assert.deepEqual(
      payload.meterValue[0].sampledValue.map((s) => s.value),
      ['3', '1.7', ' abc ', '5'],
    );
  });

  test('empty-sampled-values drops empty samples and entries left without any', () => {
    const payload = { meterValue: [{ sampledValue: [] }, { sampledValue: [{ value: '' }, { value: '1' }] }, { sampledValue: [{ value: '' }] }] };
    assert.equal(repairCall('empty-sampled-values', 'MeterValues', payload), 4);
    assert.deepEqual(payload.meterValue, [{ sampledValue: [{ value: '1' }] }]);
  });

  test('unknown-status-error-code keeps the original in vendorErrorCode, unless the charger set one', () => {
    const a: Record<string, unknown> = { errorCode: 'Error' };
    assert.equal(repairCall('unknown-status-error-code', 'StatusNotification', a), 1);
    assert.deepEqual(a, { errorCode: 'OtherError', vendorErrorCode: 'Error' });
    const b: Record<string, unknown> = { errorCode: 'Error', vendorErrorCode: 'E42' };
    repairCall('unknown-status-error-code', 'StatusNotification', b);
    assert.deepEqual(b, { errorCode: 'OtherError', vendorErrorCode: 'E42' });
    assert.equal(repairCall('unknown-status-error-code', 'StatusNotification', { errorCode: 'NoError' }), 0);
  });

  test('the other spelling of a CALLERROR code is read as the version spells it', () => {
    assert.equal(respelledErrorCode('ocpp1.6', 'FormatViolation'), 'FormationViolation');
    assert.equal(respelledErrorCode('ocpp1.6', 'OccurrenceConstraintViolation'), 'OccurenceConstraintViolation');
    assert.equal(respelledErrorCode('ocpp2.0.1', 'FormationViolation'), 'FormatViolation');
    assert.equal(respelledErrorCode('ocpp1.6', 'GenericError'), undefined);
  });

  test('hostile payloads: no repair throws, whatever the types', () => {
    const hostile: unknown[] = [null, 1, 'x', [], [null], [[[]]], { value: {} }, { sampledValue: 'x' }, { sampledValue: [null, 1, [], { value: null }] }];
    const shapes = hostile.flatMap((h) => [
      { meterValue: h },
      { meterValue: [h] },
      { transactionData: [h] },
      { errorCode: h, info: h, vendorErrorCode: h },
      { meterValue: [{ sampledValue: [h] }] },
    ]);
    for (const name of TOLERANCE_NAMES) {
      for (const action of ['MeterValues', 'StopTransaction', 'StatusNotification', 'BootNotification']) {
        for (const shape of shapes) {
          for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
            assert.doesNotThrow(() => tolerance(name).repairCall?.(version, action, structuredClone(shape) as Record<string, unknown>), `${name} ${action}`);
          }
        }
      }
    }
  });
});

describe('relaxations', () => {
  const profiles = compileProfiles(compatSchema.parse({}), createValidators(), () => undefined);

  test('long-strings accepts a 23-character model that the official schema refuses; 256 characters stay refused', () => {
    const boot = { chargePointVendor: 'LongCo', chargePointModel: 'UltraCharge-AC22-T2S-EU' };
    assert.equal(schemaOracle('ocpp1.6').request('BootNotification', boot).valid, false);
    const relaxed = profiles.get('long-strings')?.validator('ocpp1.6');
    assert.ok(relaxed);
    assert.equal(relaxed.validateRequest('BootNotification', boot), null);
    assert.notEqual(relaxed.validateRequest('BootNotification', { ...boot, chargePointModel: 'x'.repeat(256) }), null);
    // Other actions are checked as before.
    assert.notEqual(relaxed.validateRequest('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', info: 'x'.repeat(51) }), null);
  });

  test('long-strings accepts a 1.6 GetConfiguration value of 2000 characters in an answer', () => {
    const answer = { configurationKey: [{ key: 'K', readonly: true, value: 'v'.repeat(2000) }] };
    assert.equal(schemaOracle('ocpp1.6').response('GetConfiguration', answer).valid, false);
    assert.equal(profiles.get('long-strings')?.validator('ocpp1.6').validateResponse('GetConfiguration', answer), null);
  });

  test('the strict profile validates exactly as the official schemas', () => {
    assert.equal(profiles.get('strict')?.validator('ocpp1.6'), createValidators()['ocpp1.6']);
  });
});
