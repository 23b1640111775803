/**
 * Payload validation against the official OCPP schemas, one validator per version.
 *
 * Every schema is compiled once when the validators are created, so the per-message cost is one
 * Map lookup and one call to generated code. A failure is reported as an OcppErrorReason, which
 * `wireErrorCode` spells for the charger's version (1.6 FormationViolation vs 2.0.1 FormatViolation).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';
import { dateTimeFormat } from './date-time-format.js';
import type { OcppErrorReason } from './errors.js';
import { type JsonSchema, loadOcppSchemas, type SchemaTable } from './schemas.js';
import { OCPP_VERSIONS, type OcppVersion } from './versions.js';

export interface SchemaViolation {
  reason: OcppErrorReason;
  /** One short line naming the field and the rule; fit for a CALLERROR description. */
  message: string;
  errors: Array<{ path: string; keyword: string; message: string }>;
}

/** One action's schema check: null when the payload is valid. */
export type PayloadCheck = (payload: unknown) => SchemaViolation | null;

export interface OcppValidator {
  readonly version: OcppVersion;
  /** null when valid */
  validateRequest(action: string, payload: unknown): SchemaViolation | null;
  /** `validateRequest` for one action, found once: for callers that keep a check per action. */
  requestCheck(action: string): PayloadCheck;
  /** null when valid */
  validateResponse(action: string, payload: unknown): SchemaViolation | null;
}

/** CALLERROR descriptions are kept short: some chargers store them in fixed-size fields. */
const MAX_MESSAGE_LENGTH = 255;

// ajv-formats is CommonJS: under NodeNext TypeScript types its default import as the module object,
// while at runtime it is the plugin itself (which also carries `.default`). Accept either.
const addFormats: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);

/** ajv keyword → the OCPP reason it stands for. Anything not listed is a 'format' problem. */
const REASON_BY_KEYWORD: ReadonlyMap<string, OcppErrorReason> = new Map<string, OcppErrorReason>([
  ['type', 'type'],
  ['required', 'occurrence'],
  ['minItems', 'occurrence'],
  ['maxItems', 'occurrence'],
  ['minProperties', 'occurrence'],
  ['maxProperties', 'occurrence'],
  ['maxLength', 'property'],
  ['minLength', 'property'],
  ['enum', 'property'],
  ['const', 'property'],
  ['pattern', 'property'],
  ['format', 'property'],
  ['minimum', 'property'],
  ['maximum', 'property'],
  ['exclusiveMinimum', 'property'],
  ['exclusiveMaximum', 'property'],
  ['multipleOf', 'property'],
]);

let compiled: Record<OcppVersion, OcppValidator> | undefined;

/**
 * Every request and response schema of every version, compiled on first use (about a second) and shared by
 * every gateway in the process afterwards: validators hold no state.
 */
export function createValidators(): Record<OcppVersion, OcppValidator> {
  if (compiled !== undefined) return compiled;
  const tables = loadOcppSchemas();
  const result = {} as Record<OcppVersion, OcppValidator>;
  for (const version of OCPP_VERSIONS) result[version] = new SchemaValidator(version, tables[version]);
  return (compiled = result);
}

/** The Ajv every schema of the gateway is compiled with; one per version (or per relaxed set). */
function newAjv(): Ajv {
  const ajv = new Ajv({
    // The official schemas carry vendor keywords (javaType), `additionalItems` beside a
    // single `items` schema, and other things strict mode rejects.
    strict: false,
    // The first error is enough to answer the charger, and stopping early is faster.
    allErrors: false,
    // 1.6 decimals are `multipleOf: 0.1`; without a tolerance 32.3 fails (32.3 / 0.1 is not whole).
    multipleOfPrecision: 9,
    // The schema files are trusted data; checking them against the meta-schema only slows start-up.
    validateSchema: false,
  });
  addFormats(ajv, ['uri']);
  ajv.addFormat('date-time', dateTimeFormat);
  return ajv;
}

/** A replacement schema for one action's request or response (a compatibility profile's relaxation). */
export interface SchemaOverride {
  action: string;
  kind: 'request' | 'response';
  schema: Record<string, unknown>;
}

/**
 * A validator that checks the overridden actions against their replacement schemas and every other one with
 * `base`: a compatibility profile that widens one field costs one compiled schema, not a copy of the version.
 */
export function createRelaxedValidator(base: OcppValidator, overrides: readonly SchemaOverride[]): OcppValidator {
  if (overrides.length === 0) return base;
  const ajv = newAjv();
  const requests = new Map<string, ValidateFunction>();
  const responses = new Map<string, ValidateFunction>();
  for (const o of overrides) (o.kind === 'request' ? requests : responses).set(o.action, ajv.compile(forCompiling(o.schema)));
  const { version } = base;
  return {
    version,
    validateRequest: (action, payload) => {
      const own = requests.get(action);
      return own === undefined ? base.validateRequest(action, payload) : check(own, version, action, 'request', payload);
    },
    requestCheck: (action) => {
      const own = requests.get(action);
      return own === undefined ? base.requestCheck(action) : (payload) => check(own, version, action, 'request', payload);
    },
    validateResponse: (action, payload) => {
      const own = responses.get(action);
      return own === undefined ? base.validateResponse(action, payload) : check(own, version, action, 'response', payload);
    },
  };
}

class SchemaValidator implements OcppValidator {
  private readonly requests = new Map<string, ValidateFunction>();
  private readonly responses = new Map<string, ValidateFunction>();

  constructor(
    readonly version: OcppVersion,
    table: SchemaTable,
  ) {
    // One Ajv per version keeps the versions' definitions (same names, different shapes) apart.
    const ajv = newAjv();
    for (const [action, schemas] of table) {
      this.requests.set(action, ajv.compile(forCompiling(schemas.request)));
      this.responses.set(action, ajv.compile(forCompiling(schemas.response)));
    }
  }

  validateRequest(action: string, payload: unknown): SchemaViolation | null {
    return check(this.requests.get(action), this.version, action, 'request', payload);
  }

  requestCheck(action: string): PayloadCheck {
    const validate = this.requests.get(action);
    const { version } = this;
    return (payload) => check(validate, version, action, 'request', payload);
  }

  validateResponse(action: string, payload: unknown): SchemaViolation | null {
    return check(this.responses.get(action), this.version, action, 'response', payload);
  }
}

/**
 * A schema as ajv is given it: without its `$id` and with its definitions inlined (withRefsInlined). The files'
 * `$id`s (`urn:Authorize.req`) are URNs without a namespace identifier, which ajv's URI library refuses to
 * serialise. Every `$ref` in them is local (`#/definitions/...`), so the ids carry nothing the compiled code needs.
 */
function forCompiling(schema: JsonSchema | Record<string, unknown>): Record<string, unknown> {
  const { $id: _id, ...rest } = schema;
  return withRefsInlined(rest);
}

const LOCAL_DEFINITION = '#/definitions/';

/**
 * The schema with every local `$ref` replaced by the definition it names. ajv compiles a definition that holds a
 * `$ref` of its own into a separate function, and calls it for every value it checks with a new options object
 * and a concatenated instance path: for a 2.0.1 TransactionEvent, once per meter value and per sampled value,
 * garbage on every message. Inlined, each action compiles to one function that allocates nothing on valid input.
 * Error paths and keywords stay the same (only ajv's `schemaPath`, which the gateway does not report, changes). A
 * definition that refers back to itself, or a `$ref` beside other keywords, is left as it is; the official schemas
 * have neither, and `definitions` is kept for whatever `$ref` remains.
 */
function withRefsInlined(schema: Record<string, unknown>): Record<string, unknown> {
  const definitions = (schema.definitions ?? {}) as Record<string, unknown>;
  const inline = (node: unknown, expanding: ReadonlySet<string>): unknown => {
    if (Array.isArray(node)) return node.map((item) => inline(item, expanding));
    if (node === null || typeof node !== 'object') return node;
    const ref = (node as Record<string, unknown>).$ref;
    if (typeof ref === 'string') {
      const name = ref.startsWith(LOCAL_DEFINITION) ? ref.slice(LOCAL_DEFINITION.length) : undefined;
      const target = name === undefined ? undefined : definitions[name];
      if (name === undefined || target === undefined || expanding.has(name) || Object.keys(node).length !== 1) return node;
      return inline(target, new Set([...expanding, name]));
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) copy[key] = inline(value, expanding);
    return copy;
  };
  const inlined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) inlined[key] = key === 'definitions' ? value : inline(value, new Set());
  return inlined;
}

function check(validate: ValidateFunction | undefined, version: OcppVersion, action: string, kind: string, payload: unknown): SchemaViolation | null {
  if (!validate) {
    // Callers look the action up in the catalogue first; reaching here is a bug, not bad input.
    throw new Error(`no ${kind} schema for action ${JSON.stringify(action)} in ${version}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return notAnObject();
  if (validate(payload)) return null;
  return toViolation(validate.errors ?? []);
}

function notAnObject(): SchemaViolation {
  return {
    reason: 'format',
    message: 'payload must be a JSON object',
    errors: [{ path: '', keyword: 'type', message: 'must be a JSON object' }],
  };
}

function toViolation(ajvErrors: readonly ErrorObject[]): SchemaViolation {
  const errors = ajvErrors.map(describe);
  const first = ajvErrors[0];
  const reason = (first && REASON_BY_KEYWORD.get(first.keyword)) ?? 'format';
  const headline = errors[0] ? `${errors[0].path || 'payload'} ${errors[0].message}` : 'payload is not valid';
  return { reason, message: clip(headline), errors };
}

/** Point at the offending field itself, also for errors ajv reports on the parent object. */
function describe(error: ErrorObject): { path: string; keyword: string; message: string } {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: `${error.instancePath}/${String(params.missingProperty)}`, keyword: error.keyword, message: 'is required' };
    case 'additionalProperties':
      return {
        path: `${error.instancePath}/${String(params.additionalProperty)}`,
        keyword: error.keyword,
        message: 'is not a property of this message',
      };
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.join(', ') : '';
      return { path: error.instancePath, keyword: error.keyword, message: clip(`must be one of: ${allowed}`) };
    }
    default:
      return { path: error.instancePath, keyword: error.keyword, message: error.message ?? `fails ${error.keyword}` };
  }
}

function clip(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 3)}...`;
}
