/**
 * What a compatibility profile accepts from a charger's firmware beyond the official schemas: named tolerances,
 * each one known quirk of field firmware and one fix for it.
 *
 * A tolerance works in one of three ways:
 * - `repair`: rewrites a charger's CALL payload (or its CALLRESULT to a gateway CALL) in place before it is
 *   validated, and says how many values it changed (0: the payload was fine). Payloads come from the network, so
 *   a repair never throws and never walks more than the payload's own bounded shape (the frame size and nesting
 *   limits of framing.ts bound it; every loop below is over arrays of that payload).
 * - `relax`: widens the schema itself (a longer maxLength, an extra enum value), so the value is kept as sent.
 * - CALLERROR tolerances are read by the RPC layer (see `callErrorTolerance`): they change how a charger's
 *   CALLERROR answering a gateway CALL is read.
 */
import type { JsonObject } from '../ocpp/framing.js';
import type { JsonSchema } from '../ocpp/schemas.js';
import type { OcppVersion } from '../ocpp/versions.js';

/** Rewrites a payload in place; returns the number of values changed. */
export type Repair = (version: OcppVersion, action: string, payload: JsonObject) => number;

/** Changes a (cloned, mutable) schema of one action. */
export interface Relaxation {
  version: OcppVersion;
  action: string;
  kind: 'request' | 'response';
  patch(schema: MutableSchema): void;
}

export type MutableSchema = Record<string, unknown>;

export interface Tolerance {
  readonly name: ToleranceName;
  /** One line for the README and the admin API. */
  readonly description: string;
  /** Applied to the charger's CALLs. */
  readonly repairCall?: Repair;
  /** Applied to the charger's CALLRESULTs answering the gateway's CALLs. */
  readonly repairAnswer?: Repair;
  readonly relax?: readonly Relaxation[];
}

/** CiString limits of the fields that get truncated rather than refused. */
const STATUS_INFO_MAX = 50;
const VENDOR_ERROR_CODE_MAX = 50;
/** Text of a non-object CALLERROR errorDetails kept when it is wrapped; firmware sends log lines there. */
export const ERROR_DETAILS_TEXT_MAX = 512;

const STATUS_ERROR_CODES_16: ReadonlySet<string> = new Set([
  'ConnectorLockFailure',
  'EVCommunicationError',
  'GroundFailure',
  'HighTemperature',
  'InternalError',
  'LocalListConflict',
  'NoError',
  'OtherError',
  'OverCurrentFailure',
  'PowerMeterFailure',
  'PowerSwitchFailure',
  'ReaderFailure',
  'ResetFailure',
  'UnderVoltage',
  'OverVoltage',
  'WeakSignal',
]);

/** A decimal number with optional blanks around it (` 1.7`, `230.0 `): nothing else is trimmed. */
const PADDED_NUMBER = /^\s+-?\d+(\.\d+)?\s*$|^\s*-?\d+(\.\d+)?\s+$/;
/** Longest sampled value text looked at: a real reading is a few characters. */
const MAX_NUMBER_TEXT = 64;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The 1.6 meter value arrays a payload carries: MeterValues.meterValue and StopTransaction.transactionData. */
function meterValueArrays16(action: string, payload: JsonObject): unknown[][] {
  if (action === 'MeterValues') return [arrayOf(payload.meterValue)];
  if (action === 'StopTransaction') return [arrayOf(payload.transactionData)];
  return [];
}

/** Every 1.6 sampledValue object of the payload. */
function* sampledValues16(action: string, payload: JsonObject): Generator<JsonObject> {
  for (const meterValues of meterValueArrays16(action, payload)) {
    for (const meterValue of meterValues) {
      if (!isObject(meterValue)) continue;
      for (const sample of arrayOf(meterValue.sampledValue)) if (isObject(sample)) yield sample;
    }
  }
}

/** 1.6 sampledValue.value is a string: a number there becomes its text, a space-padded number is trimmed. */
const numbersAsStrings: Repair = (version, action, payload) => {
  if (version !== 'ocpp1.6') return 0;
  let changed = 0;
  for (const sample of sampledValues16(action, payload)) {
    const value = sample.value;
    if (typeof value === 'number' && Number.isFinite(value)) {
      sample.value = String(value);
      changed++;
    } else if (typeof value === 'string' && value.length <= MAX_NUMBER_TEXT && PADDED_NUMBER.test(value)) {
      sample.value = value.trim();
      changed++;
    }
  }
  return changed;
};

/** A meterValue entry with no samples (`sampledValue: []`) is dropped; so is a sample whose value is empty. */
const emptySampledValues: Repair = (version, action, payload) => {
  if (version !== 'ocpp1.6') return 0;
  let changed = 0;
  for (const meterValues of meterValueArrays16(action, payload)) {
    for (let i = meterValues.length - 1; i >= 0; i--) {
      const meterValue = meterValues[i];
      if (!isObject(meterValue) || !Array.isArray(meterValue.sampledValue)) continue;
      const samples = meterValue.sampledValue;
      for (let j = samples.length - 1; j >= 0; j--) {
        const sample = samples[j];
        if (isObject(sample) && sample.value === '') {
          samples.splice(j, 1);
          changed++;
        }
      }
      if (samples.length === 0) {
        meterValues.splice(i, 1);
        changed++;
      }
    }
  }
  return changed;
};

/** `Hz` is written `Hertz` (the errata spelling); `Celcius` and `Celsius` are both in the 1.6 enum already. */
const UNIT_ALIASES: ReadonlyMap<string, string> = new Map([
  ['Hz', 'Hertz'],
  ['hz', 'Hertz'],
  ['celsius', 'Celsius'],
  ['celcius', 'Celcius'],
]);

const unitAliases: Repair = (version, action, payload) => {
  if (version !== 'ocpp1.6') return 0;
  let changed = 0;
  for (const sample of sampledValues16(action, payload)) {
    const alias = typeof sample.unit === 'string' ? UNIT_ALIASES.get(sample.unit) : undefined;
    if (alias !== undefined) {
      sample.unit = alias;
      changed++;
    }
  }
  return changed;
};

/** The OCA errata (v4) added `Hertz` to the 1.6 unit enum; the schema files predate it. */
function addHertzToUnitEnums(schema: MutableSchema): void {
  walkSchema(schema, (node) => {
    const values = node.enum;
    if (Array.isArray(values) && values.includes('Celcius') && !values.includes('Hertz')) node.enum = [...values, 'Hertz'];
  });
}

const unitRelaxations: Relaxation[] = ['MeterValues', 'StopTransaction'].map((action) => ({
  version: 'ocpp1.6' as const,
  action,
  kind: 'request' as const,
  patch: addHertzToUnitEnums,
}));

/** A 1.6 StatusNotification errorCode outside the enum becomes OtherError; the original goes to vendorErrorCode. */
const unknownErrorCode: Repair = (version, action, payload) => {
  if (version !== 'ocpp1.6' || action !== 'StatusNotification') return 0;
  const code = payload.errorCode;
  if (typeof code !== 'string' || STATUS_ERROR_CODES_16.has(code)) return 0;
  payload.errorCode = 'OtherError';
  if (payload.vendorErrorCode === undefined) payload.vendorErrorCode = code.slice(0, VENDOR_ERROR_CODE_MAX);
  return 1;
};

/** StatusNotification info and vendorErrorCode longer than their CiString limit are cut to it. */
const truncateStatusTexts: Repair = (_version, action, payload) => {
  if (action !== 'StatusNotification') return 0;
  let changed = 0;
  for (const [field, max] of [
    ['info', STATUS_INFO_MAX],
    ['vendorErrorCode', VENDOR_ERROR_CODE_MAX],
  ] as const) {
    const text = payload[field];
    if (typeof text === 'string' && text.length > max) {
      payload[field] = text.slice(0, max);
      changed++;
    }
  }
  return changed;
};

/** Every string limit of one schema raised to at least `max`. */
function raiseMaxLength(max: number): (schema: MutableSchema) => void {
  return (schema) =>
    walkSchema(schema, (node) => {
      if (typeof node.maxLength === 'number' && node.maxLength < max) node.maxLength = max;
    });
}

/** The named tolerances. Names are part of the configuration: extend, do not rename. */
export const TOLERANCES = {
  'numbers-as-strings': {
    description: '1.6 sampled values sent as JSON numbers become strings; space-padded numbers (" 1.7") are trimmed',
    repairCall: numbersAsStrings,
  },
  'empty-sampled-values': {
    description: '1.6 meter values: samples with an empty value and entries with an empty sampledValue list are dropped',
    repairCall: emptySampledValues,
  },
  'unit-aliases': {
    description: '1.6 sampled value units: Hz is read as Hertz (accepted as in the OCA errata), lower-case Celsius/Celcius fixed',
    repairCall: unitAliases,
    relax: unitRelaxations,
  },
  'unknown-status-error-code': {
    description: '1.6 StatusNotification errorCode outside the enum becomes OtherError, the original kept in vendorErrorCode',
    repairCall: unknownErrorCode,
  },
  'truncate-status-texts': {
    description: 'StatusNotification info and vendorErrorCode longer than 50 characters are cut to 50',
    repairCall: truncateStatusTexts,
  },
  'long-boot-strings': {
    description: 'BootNotification strings (model, vendor, serial numbers, firmware) accepted up to 255 characters',
    relax: (['ocpp1.6', 'ocpp2.0.1'] as const).map((version) => ({ version, action: 'BootNotification', kind: 'request' as const, patch: raiseMaxLength(255) })),
  },
  'long-configuration-values': {
    description: '1.6 GetConfiguration answers: configuration values accepted up to 2000 characters',
    relax: [{ version: 'ocpp1.6', action: 'GetConfiguration', kind: 'response', patch: raiseMaxLength(2000) }],
  },
  'callerror-details-text': {
    description: "A CALLERROR whose errorDetails is not an object is read as { text: '...' } (clipped) instead of dropping it",
  },
  'callerror-code-spellings': {
    description: "A charger's CALLERROR code spelled the other version's way (FormatViolation, OccurrenceConstraintViolation) is read as its own version's",
  },
} as const satisfies Record<string, Omit<Tolerance, 'name'>>;

export type ToleranceName = keyof typeof TOLERANCES;

export const TOLERANCE_NAMES = Object.keys(TOLERANCES) as ToleranceName[];

export function isToleranceName(name: string): name is ToleranceName {
  return Object.hasOwn(TOLERANCES, name);
}

export function tolerance(name: ToleranceName): Tolerance {
  return { name, ...(TOLERANCES[name] as Omit<Tolerance, 'name'>) };
}

/** The 1.6 and 2.0.1 spellings of the two codes the versions spell differently, each to its own version's. */
const CODE_SPELLINGS: Record<OcppVersion, ReadonlyMap<string, string>> = {
  'ocpp1.6': new Map([
    ['FormatViolation', 'FormationViolation'],
    ['OccurrenceConstraintViolation', 'OccurenceConstraintViolation'],
  ]),
  'ocpp2.0.1': new Map([
    ['FormationViolation', 'FormatViolation'],
    ['OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
  ]),
};

/** A received CALLERROR code in the charger's version's spelling, or undefined when it needs no change. */
export function respelledErrorCode(version: OcppVersion, code: string): string | undefined {
  return CODE_SPELLINGS[version].get(code);
}

/**
 * Visits every object node of a schema (properties, items, definitions, combinators). Schemas are trusted files,
 * but a cycle guard keeps a malformed one from looping.
 */
function walkSchema(schema: MutableSchema, visit: (node: MutableSchema) => void, seen = new Set<object>()): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  visit(schema);
  for (const value of Object.values(schema)) {
    if (Array.isArray(value)) {
      for (const item of value) if (isObject(item)) walkSchema(item, visit, seen);
    } else if (isObject(value)) {
      walkSchema(value, visit, seen);
    }
  }
}

/** A deep, mutable copy of a frozen schema file entry. */
export function cloneSchema(schema: JsonSchema): MutableSchema {
  return structuredClone(schema) as MutableSchema;
}
