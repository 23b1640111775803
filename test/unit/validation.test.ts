import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { type OcppErrorReason, wireErrorCode } from '../../src/ocpp/errors.js';
import { loadOcppSchemas } from '../../src/ocpp/schemas.js';
import { createValidators, type SchemaViolation } from '../../src/ocpp/validation.js';
import { OCPP_VERSIONS, type OcppVersion } from '../../src/ocpp/versions.js';

const validators = createValidators();
const T = '2024-05-01T12:00:00Z';

function boot(version: OcppVersion, model: unknown = 'X1'): Record<string, unknown> {
  return version === 'ocpp1.6' ? { chargePointVendor: 'Acme', chargePointModel: model } : { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model } };
}

function status(version: OcppVersion, connectorId: unknown = 1): Record<string, unknown> {
  return version === 'ocpp1.6' ? { connectorId, errorCode: 'NoError', status: 'Available' } : { timestamp: T, connectorStatus: 'Available', evseId: 1, connectorId };
}

function expectViolation(violation: SchemaViolation | null, reason: OcppErrorReason, path?: string): SchemaViolation {
  assert.ok(violation, `expected a '${reason}' violation, got none`);
  assert.equal(violation.reason, reason, violation.message);
  assert.ok(violation.message.length > 0 && violation.message.length <= 255, violation.message);
  assert.ok(violation.errors.length > 0);
  if (path !== undefined) {
    assert.equal(violation.errors[0].path, path);
    assert.ok(violation.message.startsWith(path), violation.message);
  }
  return violation;
}

describe('schema validation', () => {
  for (const version of OCPP_VERSIONS) {
    const v = validators[version];
    const modelPath = version === 'ocpp1.6' ? '/chargePointModel' : '/chargingStation/model';

    describe(version, () => {
      it('knows its version', () => assert.equal(v.version, version));

      it('accepts a valid BootNotification and StatusNotification', () => {
        assert.equal(v.validateRequest('BootNotification', boot(version)), null);
        assert.equal(v.validateRequest('StatusNotification', status(version)), null);
        assert.equal(v.validateRequest('Heartbeat', {}), null);
      });

      it("a missing required field is 'occurrence'", () => {
        const payload = boot(version);
        if (version === 'ocpp1.6') delete payload.chargePointModel;
        else delete (payload.chargingStation as Record<string, unknown>).model;
        const violation = expectViolation(v.validateRequest('BootNotification', payload), 'occurrence', modelPath);
        assert.equal(violation.errors[0].keyword, 'required');
        assert.equal(wireErrorCode(version, violation.reason), 'OccurenceConstraintViolation');
      });

      it("a string over its maximum length is 'property'", () => {
        const violation = expectViolation(v.validateRequest('BootNotification', boot(version, 'M'.repeat(21))), 'property', modelPath);
        assert.equal(violation.message, `${modelPath} must NOT have more than 20 characters`);
        assert.equal(wireErrorCode(version, violation.reason), 'PropertyConstraintViolation');
      });

      it("a number sent as a string is 'type'", () => {
        const violation = expectViolation(v.validateRequest('StatusNotification', status(version, '1')), 'type', '/connectorId');
        assert.equal(wireErrorCode(version, violation.reason), 'TypeConstraintViolation');
      });

      it("an unknown extra field is 'format'", () => {
        const violation = expectViolation(v.validateRequest('BootNotification', { ...boot(version), colour: 'red' }), 'format', '/colour');
        assert.equal(violation.errors[0].keyword, 'additionalProperties');
        assert.equal(wireErrorCode(version, violation.reason), version === 'ocpp1.6' ? 'FormationViolation' : 'FormatViolation');
      });

      it("a payload that is not a JSON object is 'format'", () => {
        for (const payload of [[], null, 'Heartbeat', 42, true, undefined]) {
          expectViolation(v.validateRequest('Heartbeat', payload), 'format');
          expectViolation(v.validateResponse('Heartbeat', payload), 'format');
        }
        const violation = v.validateRequest('BootNotification', []);
        assert.equal(violation?.message, 'payload must be a JSON object');
        assert.equal(wireErrorCode(version, violation!.reason), version === 'ocpp1.6' ? 'FormationViolation' : 'FormatViolation');
      });

      it("a value outside an enum is 'property' and names the allowed values", () => {
        const payload = { ...status(version) };
        if (version === 'ocpp1.6') payload.status = 'Occupied';
        else payload.connectorStatus = 'Charging';
        const violation = expectViolation(v.validateRequest('StatusNotification', payload), 'property');
        assert.match(violation.message, /must be one of: .*Available/);
      });

      it("a malformed date-time is 'property'", () => {
        const payload = { ...status(version), timestamp: 'yesterday' };
        const violation = expectViolation(v.validateRequest('StatusNotification', payload), 'property', '/timestamp');
        assert.equal(violation.errors[0].keyword, 'format');
      });

      it('validates responses too', () => {
        assert.equal(v.validateResponse('Heartbeat', { currentTime: T }), null);
        expectViolation(v.validateResponse('Heartbeat', {}), 'occurrence', '/currentTime');
        expectViolation(v.validateResponse('BootNotification', { currentTime: T, interval: 300, status: 'OK' }), 'property', '/status');
        expectViolation(v.validateResponse('BootNotification', { currentTime: T, interval: 1.5, status: 'Accepted' }), 'type', '/interval');
      });

      it('keeps the description within 255 characters even for long enums', () => {
        const violation =
          version === 'ocpp1.6'
            ? v.validateRequest('MeterValues', {
                connectorId: 1,
                meterValue: [{ timestamp: T, sampledValue: [{ value: '1', measurand: 'Energy' }] }],
              })
            : v.validateRequest('TransactionEvent', {
                eventType: 'Started',
                timestamp: T,
                triggerReason: 'Because',
                seqNo: 0,
                transactionInfo: { transactionId: 'tx-1' },
              });
        const result = expectViolation(violation, 'property');
        assert.ok(result.message.length <= 255);
      });

      it('throws for an action it has no schema for', () => {
        assert.throws(() => v.validateRequest('NoSuchAction', {}), /no request schema/);
        assert.throws(() => v.validateResponse('NoSuchAction', {}), /no response schema/);
      });

      it('does not change the payload it checks', () => {
        const payload = boot(version);
        const copy = structuredClone(payload);
        v.validateRequest('BootNotification', payload);
        assert.deepEqual(payload, copy);
      });
    });
  }

  it('accepts every 1.6 connector status', () => {
    const statuses = ['Available', 'Preparing', 'Charging', 'SuspendedEVSE', 'SuspendedEV', 'Finishing', 'Reserved', 'Unavailable', 'Faulted'];
    for (const s of statuses) {
      assert.equal(validators['ocpp1.6'].validateRequest('StatusNotification', { connectorId: 0, errorCode: 'NoError', status: s, timestamp: T }), null, s);
    }
  });

  it('accepts a minimal 2.0.1 TransactionEvent and one carrying an idToken', () => {
    const minimal = { eventType: 'Started', timestamp: T, triggerReason: 'CablePluggedIn', seqNo: 0, transactionInfo: { transactionId: 'tx-1' } };
    assert.equal(validators['ocpp2.0.1'].validateRequest('TransactionEvent', minimal), null);
    const withToken = { ...minimal, idToken: { idToken: 'TAG1', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } };
    assert.equal(validators['ocpp2.0.1'].validateRequest('TransactionEvent', withToken), null);
    expectViolation(validators['ocpp2.0.1'].validateRequest('TransactionEvent', { ...minimal, transactionInfo: {} }), 'occurrence', '/transactionInfo/transactionId');
  });

  it("an empty array where at least one item is required is 'occurrence' (2.0.1 MeterValues)", () => {
    const violation = expectViolation(validators['ocpp2.0.1'].validateRequest('MeterValues', { evseId: 1, meterValue: [] }), 'occurrence', '/meterValue');
    assert.equal(violation.errors[0].keyword, 'minItems');
  });

  it('accepts 1.6 decimals with one fractional digit despite floating point (multipleOf 0.1)', () => {
    const profile = {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 1,
        stackLevel: 0,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 32.3 }], minChargingRate: 6.1 },
      },
    };
    assert.equal(validators['ocpp1.6'].validateRequest('SetChargingProfile', profile), null);
    profile.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit = 32.35;
    expectViolation(validators['ocpp1.6'].validateRequest('SetChargingProfile', profile), 'property');
  });

  it('accepts date-times with an offset or fractional seconds', () => {
    for (const timestamp of ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.123Z', '2024-05-01T14:00:00+02:00']) {
      assert.equal(
        validators['ocpp1.6'].validateRequest('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp }),
        null,
        timestamp,
      );
    }
  });
});

describe('definitions inlined into each action', () => {
  // The oracle: ajv as it comes, compiled on the official file's schema with its `$ref`s (only the URN `$id` that
  // ajv cannot serialise removed) and ajv-formats' own `date-time`. The gateway must judge every payload alike.
  const oracleAjv = new Ajv({ strict: false, allErrors: false, multipleOfPrecision: 9, validateSchema: false });
  (addFormats as unknown as (ajv: Ajv, formats: string[]) => void)(oracleAjv, ['date-time', 'uri']);
  const official = loadOcppSchemas()['ocpp2.0.1'].get('TransactionEvent');
  assert.ok(official, 'the 2.0.1 schema file has TransactionEvent');
  const { $id: _id, ...transactionEventSchema } = official.request as Record<string, unknown>;
  const oracle = oracleAjv.compile(transactionEventSchema);
  const sampled = { value: 1234.5, context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh', multiplier: 0 } };
  type Payload = {
    meterValue: Array<{ timestamp: string; sampledValue: Array<Record<string, unknown>> }>;
    transactionInfo: Record<string, unknown>;
    [field: string]: unknown;
  };
  const valid: Payload = {
    eventType: 'Updated',
    timestamp: T,
    triggerReason: 'MeterValuePeriodic',
    seqNo: 3,
    transactionInfo: { transactionId: 'tx-1', chargingState: 'Charging' },
    meterValue: [
      { timestamp: T, sampledValue: [sampled, { ...sampled, signedMeterValue: { signedMeterData: 'AB', signingMethod: 'x', encodingMethod: 'y', publicKey: 'k' } }] },
    ],
  };
  const at = (mutate: (payload: Payload) => void) => {
    const payload = structuredClone(valid);
    mutate(payload);
    return payload;
  };
  const cases: Array<[string, unknown]> = [
    ['valid', valid],
    ['a sampled value that is text', at((p) => (p.meterValue[0].sampledValue[1].value = '12'))],
    ['a unit of measure with an unknown property', at((p) => ((p.meterValue[0].sampledValue[0].unitOfMeasure as Record<string, unknown>).scale = 1))],
    ['a signed meter value without its data', at((p) => delete (p.meterValue[0].sampledValue[1].signedMeterValue as Record<string, unknown>).signedMeterData)],
    ['a measurand outside the enumeration', at((p) => (p.meterValue[0].sampledValue[0].measurand = 'Energy'))],
    ['a meter value without sampled values', at((p) => (p.meterValue[0].sampledValue = []))],
    ['a meter value timestamp that is no date-time', at((p) => (p.meterValue[0].timestamp = 'yesterday'))],
    ['custom data without its vendor id', at((p) => (p.transactionInfo = { ...p.transactionInfo, customData: {} }))],
  ];
  for (const [name, payload] of cases) {
    it(`judges ${name} as ajv does on the official schema`, () => {
      const expected = oracle(payload) ? null : (oracle.errors ?? [])[0];
      const violation = validators['ocpp2.0.1'].validateRequest('TransactionEvent', payload);
      if (expected === null) {
        assert.equal(violation, null);
        return;
      }
      assert.ok(violation, 'the oracle refused it');
      assert.equal(violation.errors[0].keyword, expected.keyword);
      const params = expected.params as Record<string, unknown>;
      const field = params.missingProperty ?? params.additionalProperty;
      assert.equal(violation.errors[0].path, field === undefined ? expected.instancePath : `${expected.instancePath}/${String(field)}`);
    });
  }
  it('the refused cases are refused where the test meant them to be', () => {
    const paths = cases.slice(1).map(([, payload]) => validators['ocpp2.0.1'].validateRequest('TransactionEvent', payload)?.errors[0].path);
    assert.deepEqual(paths, [
      '/meterValue/0/sampledValue/1/value',
      '/meterValue/0/sampledValue/0/unitOfMeasure/scale',
      '/meterValue/0/sampledValue/1/signedMeterValue/signedMeterData',
      '/meterValue/0/sampledValue/0/measurand',
      '/meterValue/0/sampledValue',
      '/meterValue/0/timestamp',
      '/transactionInfo/customData/vendorId',
    ]);
  });
});
