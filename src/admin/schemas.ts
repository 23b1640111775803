/**
 * The admin API's JSON schemas. They validate requests, make the responses' serializers (which also keep
 * internal fields from leaking), and are the OpenAPI document's components, so a shape is written once.
 */

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });

export const ApiErrorSchema = {
  $id: 'ApiError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. BAD_REQUEST, DEVICE_OFFLINE, TIMEOUT' },
        message: { type: 'string' },
      },
      additionalProperties: true,
    },
  },
} as const;

export const BootInfoSchema = {
  $id: 'BootInfo',
  type: 'object',
  description: "The charger's last BootNotification and the gateway's answer to it, kept across reconnects",
  required: ['at'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    status: { type: 'string', description: 'Accepted, Pending or Rejected' },
    vendor: { type: 'string' },
    model: { type: 'string' },
    serialNumber: { type: 'string' },
    firmwareVersion: { type: 'string' },
  },
} as const;

const chargePointProperties = {
  identity: { type: 'string' },
  protocol: { type: 'string', enum: ['ocpp1.6', 'ocpp2.0.1'] },
  state: { type: 'string', enum: ['open', 'closing', 'closed'] },
  remoteAddress: { type: 'string' },
  securityProfile: {
    type: 'integer',
    enum: [0, 1, 2, 3],
    description: 'OCPP security profile the connection proved: 0 none, 1 Basic auth, 2 TLS + Basic auth, 3 client certificate',
  },
  connectedAt: { type: 'string', format: 'date-time' },
  lastSeen: { type: 'string', format: 'date-time', description: 'Last frame, ping or pong from the charger' },
  boot: { anyOf: [{ $ref: 'BootInfo#' }, { type: 'null' }] },
  instance: { type: 'string', description: 'Cluster mode only: the gateway instance (POD_ID) that holds the connection' },
} as const;

const chargePointRequired = ['identity', 'protocol', 'state', 'remoteAddress', 'securityProfile', 'connectedAt', 'lastSeen', 'boot'];

export const ChargePointSchema = {
  $id: 'ChargePoint',
  type: 'object',
  required: chargePointRequired,
  properties: chargePointProperties,
} as const;

export const ConnectorStatusSchema = {
  $id: 'ConnectorStatus',
  type: 'object',
  required: ['key', 'evseId', 'connectorId', 'status', 'errorCode', 'timestamp'],
  properties: {
    key: { type: 'string', description: '1.6 "<connectorId>", 2.0.1 "<evseId>/<connectorId>"' },
    evseId: nullable('integer'),
    connectorId: nullable('integer'),
    status: nullable('string'),
    errorCode: nullable('string'),
    timestamp: { type: 'string', description: "The charger's time of the report" },
  },
} as const;

export const OpenTransactionSchema = {
  $id: 'OpenTransaction',
  type: 'object',
  required: ['transactionId', 'evseId', 'connectorId', 'idToken', 'startedAt', 'meterStart', 'updatedAt'],
  properties: {
    transactionId: { type: 'string' },
    evseId: nullable('integer'),
    connectorId: nullable('integer'),
    idToken: {
      anyOf: [{ type: 'object', required: ['idToken', 'type'], properties: { idToken: { type: 'string' }, type: { type: 'string' } } }, { type: 'null' }],
    },
    startedAt: nullable('string'),
    meterStart: nullable('number', { description: 'Wh' }),
    updatedAt: nullable('string'),
  },
} as const;

export const SchemaRefusalSchema = {
  $id: 'SchemaRefusal',
  type: 'object',
  description: 'A charger CALL refused because its payload broke the OCPP schema (the values themselves are not kept)',
  required: ['at', 'action', 'errorCode', 'paths'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    action: { type: 'string' },
    errorCode: { type: 'string', description: 'The CALLERROR code the charger got, e.g. PropertyConstraintViolation' },
    paths: {
      type: 'array',
      description: 'The failing fields (JSON pointers into the payload) and the schema keyword each broke',
      items: { type: 'object', required: ['path', 'keyword'], properties: { path: { type: 'string' }, keyword: { type: 'string' } } },
    },
  },
} as const;

export const ChargePointDetailSchema = {
  $id: 'ChargePointDetail',
  type: 'object',
  required: [...chargePointRequired, 'connectors', 'transactions', 'refusals'],
  properties: {
    ...chargePointProperties,
    connectors: { type: 'array', items: { $ref: 'ConnectorStatus#' }, description: 'Connector statuses as last reported (also before a reconnect)' },
    transactions: { type: 'array', items: { $ref: 'OpenTransaction#' }, description: 'Open transactions as last reported (also before a reconnect)' },
    refusals: { type: 'array', items: { $ref: 'SchemaRefusal#' }, description: 'The last few CALLs the schema refused, oldest first' },
    compat: {
      type: 'object',
      required: ['profile', 'reason'],
      description: 'The compatibility profile that applies to this charger (README "Compatibility profiles")',
      properties: {
        profile: { type: 'string' },
        reason: {
          type: 'string',
          enum: ['charger', 'model', 'default'],
          description: 'charger: named for this identity in compat.chargers; model: a compat.models rule matched its vendor/model; default: compat.default',
        },
        model: {
          type: 'object',
          description: 'The vendor/model the rule matched (reason model)',
          properties: { vendor: { type: 'string' }, model: { type: 'string' } },
        },
      },
    },
  },
} as const;

export const ChargePointPageSchema = {
  $id: 'ChargePointPage',
  type: 'object',
  required: ['items', 'total'],
  properties: {
    items: { type: 'array', items: { $ref: 'ChargePoint#' } },
    total: { type: 'integer', description: 'Chargers connected now: to this instance, or in cluster mode to the instances that answered' },
    nextCursor: { type: 'string', description: 'Present when there are more: pass it as `cursor` for the next page' },
    partial: { type: 'boolean', description: 'Cluster mode, present (true) when some live instances did not answer in time: their chargers are missing' },
    missingInstances: { type: 'array', items: { type: 'string' }, description: 'The instances that did not answer, when `partial`' },
  },
} as const;

export const CommandRequestSchema = {
  $id: 'CommandRequest',
  type: 'object',
  required: ['action', 'payload'],
  additionalProperties: false,
  properties: {
    action: { type: 'string', minLength: 1, maxLength: 64, description: "A central-system action of the charger's OCPP version" },
    payload: { type: 'object', description: "The action's request payload, checked against its OCPP schema" },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600000 },
    commandId: { type: 'string', minLength: 1, maxLength: 128 },
    traceId: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

export const CommandResultSchema = {
  $id: 'CommandResult',
  type: 'object',
  required: ['commandId', 'chargePointId', 'action', 'status', 'response', 'durationMs'],
  properties: {
    commandId: { type: 'string' },
    chargePointId: { type: 'string' },
    action: { type: 'string' },
    status: { type: 'string', enum: ['completed'] },
    response: { type: 'object', additionalProperties: true, description: "The charger's CALLRESULT payload" },
    durationMs: { type: 'number' },
    traceId: { type: 'string' },
  },
} as const;

export const SHARED_SCHEMAS = [
  ApiErrorSchema,
  BootInfoSchema,
  ChargePointSchema,
  ConnectorStatusSchema,
  OpenTransactionSchema,
  SchemaRefusalSchema,
  ChargePointDetailSchema,
  ChargePointPageSchema,
  CommandRequestSchema,
  CommandResultSchema,
];

/** A response that is an API error, described for the OpenAPI document. */
export function errorResponse(description: string) {
  return { description, $ref: 'ApiError#' };
}

/** The error responses every authenticated route may give. */
export const COMMON_ERRORS = {
  400: errorResponse('BAD_REQUEST: a parameter breaks the schema; `field` names it'),
  401: errorResponse('UNAUTHORIZED: missing or wrong bearer token'),
  500: errorResponse('INTERNAL_ERROR'),
} as const;
