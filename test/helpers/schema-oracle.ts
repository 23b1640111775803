/**
 * The tests' own reading of the official OCPP JSON schemas: an Ajv validator built here from the schema files
 * (node_modules/ocpp-rpc/lib/schemas), never the gateway's `validators`, so a test that checks an answer against
 * its schema does not ask the code under test whether it is right.
 *
 * It also predicts the CALLERROR code a schema-breaking CALL must get, from the OCPP-J definitions of the codes
 * (OCPP-J 1.6 §4.2.3, 2.0.1 §4.3): a missing required field or a wrong item count is an occurrence violation,
 * a value of the wrong JSON type a type violation, a value outside its constraints (length, enum, range, pattern,
 * format) a property violation, anything else (an unknown property) a formation/format violation. Ajv stops at
 * the first error (allErrors off), so the prediction is the code of the first rule the payload breaks.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';

export type Version = 'ocpp1.6' | 'ocpp2.0.1';
export const VERSIONS: readonly Version[] = ['ocpp1.6', 'ocpp2.0.1'];

export type Schema = Record<string, any>;

const FILES: Record<Version, string> = { 'ocpp1.6': 'ocpp1_6.json', 'ocpp2.0.1': 'ocpp2_0_1.json' };

// ajv-formats is CommonJS: at runtime the default import is the plugin (or carries it as `.default`).
const addFormats: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);

/** How each version spells the CALLERROR codes a schema check can produce. */
export const SCHEMA_ERROR_CODE: Record<Version, Record<'format' | 'occurrence' | 'property' | 'type', string>> = {
  'ocpp1.6': {
    format: 'FormationViolation',
    occurrence: 'OccurenceConstraintViolation',
    property: 'PropertyConstraintViolation',
    type: 'TypeConstraintViolation',
  },
  'ocpp2.0.1': {
    format: 'FormatViolation',
    occurrence: 'OccurenceConstraintViolation',
    property: 'PropertyConstraintViolation',
    type: 'TypeConstraintViolation',
  },
};

const OCCURRENCE = new Set(['required', 'minItems', 'maxItems', 'minProperties', 'maxProperties']);
const PROPERTY = new Set(['maxLength', 'minLength', 'enum', 'const', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']);

function kindOf(keyword: string): 'format' | 'occurrence' | 'property' | 'type' {
  if (keyword === 'type') return 'type';
  if (OCCURRENCE.has(keyword)) return 'occurrence';
  if (PROPERTY.has(keyword)) return 'property';
  return 'format';
}

export interface ActionSchemaPair {
  request: Schema;
  response: Schema;
}

let schemaCache: Record<Version, Map<string, ActionSchemaPair>> | undefined;

/** The schema files as data: per version, every action with its request (`.req`) and response (`.conf`) schema. */
export function officialSchemas(): Record<Version, Map<string, ActionSchemaPair>> {
  if (schemaCache) return schemaCache;
  const dir = join(dirname(createRequire(import.meta.url).resolve('ocpp-rpc/package.json')), 'lib', 'schemas');
  const out = {} as Record<Version, Map<string, ActionSchemaPair>>;
  for (const version of VERSIONS) {
    const list = JSON.parse(readFileSync(join(dir, FILES[version]), 'utf8')) as Schema[];
    const table = new Map<string, Partial<ActionSchemaPair>>();
    for (const schema of list) {
      const m = /^urn:(\w+)\.(req|conf)$/.exec(String(schema.$id));
      if (!m) throw new Error(`unexpected schema id ${String(schema.$id)} in ${FILES[version]}`);
      const entry = table.get(m[1]) ?? {};
      if (m[2] === 'req') entry.request = schema;
      else entry.response = schema;
      table.set(m[1], entry);
    }
    out[version] = table as Map<string, ActionSchemaPair>;
  }
  return (schemaCache = out);
}

/**
 * Actions a charger sends, per version, as the OCPP specifications list them (1.6 with its security extension).
 * Written out here, not read from the gateway's catalogue, so the tests' idea of "charger→central" is their own.
 */
export const CHARGER_ACTIONS: Record<Version, readonly string[]> = {
  'ocpp1.6': [
    'Authorize',
    'BootNotification',
    'DataTransfer',
    'DiagnosticsStatusNotification',
    'FirmwareStatusNotification',
    'Heartbeat',
    'LogStatusNotification',
    'MeterValues',
    'SecurityEventNotification',
    'SignCertificate',
    'SignedFirmwareStatusNotification',
    'StartTransaction',
    'StatusNotification',
    'StopTransaction',
  ],
  'ocpp2.0.1': [
    'Authorize',
    'BootNotification',
    'ClearedChargingLimit',
    'DataTransfer',
    'FirmwareStatusNotification',
    'Get15118EVCertificate',
    'GetCertificateStatus',
    'Heartbeat',
    'LogStatusNotification',
    'MeterValues',
    'NotifyChargingLimit',
    'NotifyCustomerInformation',
    'NotifyDisplayMessages',
    'NotifyEVChargingNeeds',
    'NotifyEVChargingSchedule',
    'NotifyEvent',
    'NotifyMonitoringReport',
    'NotifyReport',
    'PublishFirmwareStatusNotification',
    'ReportChargingProfiles',
    'ReservationStatusUpdate',
    'SecurityEventNotification',
    'SignCertificate',
    'StatusNotification',
    'TransactionEvent',
  ],
};

export interface SchemaVerdict {
  valid: boolean;
  /** The wire CALLERROR code the charger's version prescribes for the first broken rule; undefined when valid. */
  code?: string;
  firstError?: ErrorObject;
}

class VersionOracle {
  private readonly requests = new Map<string, ValidateFunction>();
  private readonly responses = new Map<string, ValidateFunction>();

  constructor(readonly version: Version) {
    // strict off: the official files carry vendor keywords (javaType) and `additionalItems` beside `items`.
    // 1.6 decimals are `multipleOf: 0.1`, which binary floating point cannot meet exactly without a tolerance.
    const ajv = new Ajv({ strict: false, allErrors: false, multipleOfPrecision: 9, validateSchema: false });
    addFormats(ajv, ['date-time', 'uri']);
    for (const [action, pair] of officialSchemas()[version]) {
      // The `$id`s are namespace-less URNs Ajv cannot resolve; every `$ref` in the files is local.
      const { $id: _a, ...request } = pair.request;
      const { $id: _b, ...response } = pair.response;
      this.requests.set(action, ajv.compile(request));
      this.responses.set(action, ajv.compile(response));
    }
  }

  has(action: string): boolean {
    return this.requests.has(action);
  }

  request(action: string, payload: unknown): SchemaVerdict {
    return this.verdict(this.requests.get(action), action, payload);
  }

  response(action: string, payload: unknown): SchemaVerdict {
    return this.verdict(this.responses.get(action), action, payload);
  }

  private verdict(validate: ValidateFunction | undefined, action: string, payload: unknown): SchemaVerdict {
    if (validate === undefined) throw new Error(`${this.version} has no schema for ${action}`);
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      return { valid: false, code: SCHEMA_ERROR_CODE[this.version].format };
    }
    if (validate(payload)) return { valid: true };
    const first = validate.errors?.[0];
    return { valid: false, code: SCHEMA_ERROR_CODE[this.version][kindOf(first?.keyword ?? '')], firstError: first };
  }
}

let oracles: Record<Version, VersionOracle> | undefined;

/** The tests' schema oracle for each version (compiled once per test process). */
export function schemaOracle(version: Version): VersionOracle {
  oracles ??= { 'ocpp1.6': new VersionOracle('ocpp1.6'), 'ocpp2.0.1': new VersionOracle('ocpp2.0.1') };
  return oracles[version];
}
