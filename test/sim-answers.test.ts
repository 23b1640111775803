/**
 * The simulator must never be the one breaking the protocol: every answer in its table, and every
 * message it sends, is checked against the official OCPP JSON schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';
import { type Answer, defaultAnswer, type SimVersion, V16_ANSWERS, V201_ANSWERS } from '../src/sim/charger-answers.js';
import { CallError } from '../src/sim/errors.js';
import * as msg from '../src/sim/messages.js';

// ajv-formats is CommonJS; NodeNext types the default import as the module object.
const addFormats: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);

type Schema = Record<string, any>;
const require = createRequire(import.meta.url);

function loadSchemas(file: string): Map<string, Schema> {
  const list = JSON.parse(readFileSync(require.resolve(`ocpp-rpc/lib/schemas/${file}`), 'utf8')) as Schema[];
  return new Map(list.map((s) => [s.$id as string, s]));
}

const SCHEMAS: Record<SimVersion, Map<string, Schema>> = {
  'ocpp1.6': loadSchemas('ocpp1_6.json'),
  'ocpp2.0.1': loadSchemas('ocpp2_0_1.json'),
};

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

function validator(version: SimVersion, id: string): ValidateFunction {
  const key = `${version} ${id}`;
  let v = compiled.get(key);
  if (!v) {
    const schema = SCHEMAS[version].get(id);
    assert.ok(schema, `${version} has no schema ${id}`);
    const { $id: _id, ...rest } = schema; // the same $id exists in both versions: compile anonymously
    v = ajv.compile(rest);
    compiled.set(key, v);
  }
  return v;
}

function assertValid(version: SimVersion, id: string, payload: unknown): void {
  const validate = validator(version, id);
  assert.ok(validate(payload), `${version} ${id} invalid: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(payload)}`);
}

/**
 * A schema-valid instance of `schema`: every required property (or every property with `full`),
 * the first enum value, minimal strings and numbers within their bounds.
 */
function example(schema: Schema, root: Schema, full: boolean): unknown {
  if (schema.$ref) {
    const name = String(schema.$ref).split('/').pop()!;
    return example(root.definitions[name], root, full);
  }
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const keys = full ? Object.keys(schema.properties ?? {}) : (schema.required ?? []);
      for (const k of keys) out[k] = example(schema.properties[k], root, full);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => example(schema.items, root, full));
    case 'string':
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'uri') return 'https://example.com/file';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.maximum !== undefined ? Math.min(1, schema.maximum) : 1);
    case 'boolean':
      return false;
    default:
      return {};
  }
}

function checkTable(version: SimVersion, table: Readonly<Record<string, Answer>>): void {
  for (const [action, answer] of Object.entries(table)) {
    it(`${version} ${action}: answers are schema-valid`, () => {
      const reqSchema = SCHEMAS[version].get(`urn:${action}.req`);
      assert.ok(reqSchema, `no request schema for ${action}`);
      for (const full of [false, true]) {
        const request = example(reqSchema, reqSchema, full);
        assertValid(version, `urn:${action}.req`, request); // the generator itself is right
        assertValid(version, `urn:${action}.conf`, answer(request));
        assertValid(version, `urn:${action}.conf`, defaultAnswer(version, action, request));
      }
      // A broken request gets a valid answer or the version's format CALLERROR, never a crash.
      const formatCode = version === 'ocpp1.6' ? 'FormationViolation' : 'FormatViolation';
      for (const broken of [{}, null, 'text', [], { getVariableData: [{}], setVariableData: [{}], setMonitoringData: [{}], id: ['a'], key: [1], requestedMessage: 7 }]) {
        try {
          assertValid(version, `urn:${action}.conf`, answer(broken));
        } catch (error) {
          assert.ok(error instanceof CallError, `${action}(${JSON.stringify(broken)}) threw ${String(error)}`);
          assert.equal(error.code, formatCode);
        }
      }
    });
  }
}

describe('charger answer table', () => {
  checkTable('ocpp1.6', V16_ANSWERS);
  checkTable('ocpp2.0.1', V201_ANSWERS);

  it('covers the central-system actions of both versions', () => {
    const v16 = [
      'CancelReservation',
      'ChangeAvailability',
      'ChangeConfiguration',
      'ClearCache',
      'ClearChargingProfile',
      'DataTransfer',
      'GetCompositeSchedule',
      'GetConfiguration',
      'GetDiagnostics',
      'GetLocalListVersion',
      'RemoteStartTransaction',
      'RemoteStopTransaction',
      'ReserveNow',
      'Reset',
      'SendLocalList',
      'SetChargingProfile',
      'TriggerMessage',
      'UnlockConnector',
      'UpdateFirmware',
      'CertificateSigned',
      'DeleteCertificate',
      'ExtendedTriggerMessage',
      'GetInstalledCertificateIds',
      'GetLog',
      'InstallCertificate',
      'SignedUpdateFirmware',
    ];
    const v201 = [
      'CancelReservation',
      'CertificateSigned',
      'ChangeAvailability',
      'ClearCache',
      'ClearChargingProfile',
      'ClearDisplayMessage',
      'ClearVariableMonitoring',
      'CostUpdated',
      'CustomerInformation',
      'DataTransfer',
      'DeleteCertificate',
      'GetBaseReport',
      'GetChargingProfiles',
      'GetCompositeSchedule',
      'GetDisplayMessages',
      'GetInstalledCertificateIds',
      'GetLocalListVersion',
      'GetLog',
      'GetMonitoringReport',
      'GetReport',
      'GetTransactionStatus',
      'GetVariables',
      'InstallCertificate',
      'PublishFirmware',
      'RequestStartTransaction',
      'RequestStopTransaction',
      'ReserveNow',
      'Reset',
      'SendLocalList',
      'SetChargingProfile',
      'SetDisplayMessage',
      'SetMonitoringBase',
      'SetMonitoringLevel',
      'SetNetworkProfile',
      'SetVariableMonitoring',
      'SetVariables',
      'TriggerMessage',
      'UnlockConnector',
      'UnpublishFirmware',
      'UpdateFirmware',
    ];
    assert.deepEqual(Object.keys(V16_ANSWERS).sort(), v16.sort());
    assert.deepEqual(Object.keys(V201_ANSWERS).sort(), v201.sort());
  });

  it('answers an unknown action with NotImplemented and a charger-initiated one with NotSupported', () => {
    const is = (code: string) => (e: unknown) => e instanceof CallError && e.code === code;
    for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      for (const action of ['FooBar', 'toString', '__proto__', 'hasOwnProperty']) {
        assert.throws(() => defaultAnswer(version, action, {}), is('NotImplemented'));
      }
      for (const action of ['BootNotification', 'Heartbeat', 'StatusNotification']) {
        assert.throws(() => defaultAnswer(version, action, {}), is('NotSupported'));
      }
    }
    assert.throws(() => defaultAnswer('ocpp1.6', 'TransactionEvent', {}), is('NotImplemented'));
    assert.throws(() => defaultAnswer('ocpp2.0.1', 'StartTransaction', {}), is('NotImplemented'));
  });

  it('lists as charger-initiated only actions the schemas have, none of them in the answer table', () => {
    for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      const table = version === 'ocpp1.6' ? V16_ANSWERS : V201_ANSWERS;
      for (const id of SCHEMAS[version].keys()) {
        const action = id.replace(/^urn:/, '').replace(/\.(req|conf)$/, '');
        if (Object.hasOwn(table, action)) continue;
        // Every schema action is either answered from the table or refused as charger-initiated.
        assert.throws(
          () => defaultAnswer(version, action, {}),
          (e: unknown) => e instanceof CallError && e.code === 'NotSupported',
          `${version} ${action}`,
        );
      }
    }
  });

  it('reports known variables and configuration keys, and flags unknown ones', () => {
    const got = defaultAnswer('ocpp2.0.1', 'GetVariables', {
      getVariableData: [
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
        { component: { name: 'Nope' }, variable: { name: 'Nothing' } },
      ],
    }) as { getVariableResult: Array<{ attributeStatus: string; attributeValue?: string }> };
    assert.equal(got.getVariableResult[0].attributeStatus, 'Accepted');
    assert.equal(got.getVariableResult[0].attributeValue, '300');
    assert.equal(got.getVariableResult[1].attributeStatus, 'UnknownVariable');
    const conf = defaultAnswer('ocpp1.6', 'GetConfiguration', { key: ['HeartbeatInterval', 'Nope'] });
    assert.deepEqual(conf.unknownKey, ['Nope']);
    assert.equal((conf.configurationKey as Array<{ key: string }>)[0].key, 'HeartbeatInterval');
  });
});

describe('simulated charger messages', () => {
  for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    it(`${version}: every CALL payload the simulator sends is schema-valid`, () => {
      assertValid(version, 'urn:BootNotification.req', msg.bootNotification(version, 'SIM-a-rather-long-identity-for-a-serial-number'));
      assertValid(version, 'urn:Heartbeat.req', {});
      assertValid(version, 'urn:StatusNotification.req', msg.statusNotification(version, 1, 'Available'));
      assertValid(version, 'urn:StatusNotification.req', msg.statusNotification(version, 2, 'Charging'));
      assertValid(version, 'urn:Authorize.req', msg.authorize(version, 'T12345'));
      for (const action of ['FirmwareStatusNotification', 'LogStatusNotification', ...(version === 'ocpp1.6' ? ['DiagnosticsStatusNotification'] : [])]) {
        assertValid(version, `urn:${action}.req`, msg.idleNotification(action));
      }
      if (version === 'ocpp1.6') {
        assertValid(version, 'urn:StartTransaction.req', msg.startTransaction16(1, 'T1', 1000));
        assertValid(version, 'urn:MeterValues.req', msg.meterValues16(1, 42, 1500));
        assertValid(version, 'urn:MeterValues.req', msg.meterValues16(2, undefined, 1500));
        assertValid(version, 'urn:StopTransaction.req', msg.stopTransaction16(42, 'T1', 2000));
      } else {
        const tx = '8a1e2c57-2f6b-4f37-a4c1-0d9f2c7c1e11';
        assertValid(version, 'urn:TransactionEvent.req', msg.transactionEvent201('Started', 0, tx, 1, 'T1', 1000));
        assertValid(version, 'urn:TransactionEvent.req', msg.transactionEvent201('Updated', 1, tx, 1, 'T1', 1200));
        assertValid(version, 'urn:TransactionEvent.req', msg.transactionEvent201('Ended', 2, tx, 1, 'T1', 1500));
        assertValid(version, 'urn:MeterValues.req', msg.meterValues201(1, 1500));
      }
    });
  }
});
