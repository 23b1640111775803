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
  status: {
    type: 'string',
    description: 'Connector (1.6) or EVSE (2.0.1) 0 last reported status when it reported one, else the last status any connector reported',
  },
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
    recording: { $ref: 'RecordingStatus#' },
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

export const RecordingStatusSchema = {
  $id: 'RecordingStatus',
  type: 'object',
  description: "The flight recorder's recording of one charger",
  required: ['chargePointId', 'active', 'startedAt', 'until', 'maxFrames', 'frames', 'droppedFrames', 'bytes'],
  properties: {
    chargePointId: { type: 'string' },
    instance: { type: 'string', description: 'Cluster mode: the instance that records (or recorded) it' },
    active: { type: 'boolean', description: 'Whether frames are still being recorded' },
    startedAt: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time', description: 'When the recording ends by itself' },
    stoppedAt: { type: 'string', format: 'date-time', description: 'When it ended; its frames are kept recorder.retainMs from then' },
    maxFrames: { type: 'integer' },
    frames: { type: 'integer', description: 'Frames held now' },
    droppedFrames: { type: 'integer', description: 'Frames dropped to keep within maxFrames and the byte caps (oldest first)' },
    bytes: { type: 'integer', description: 'Bytes of the frames held (as stored: redacted and cut)' },
  },
} as const;

export const RecordedFrameSchema = {
  $id: 'RecordedFrame',
  type: 'object',
  required: ['at', 'direction', 'size', 'frame'],
  properties: {
    at: { type: 'string', format: 'date-time', description: 'When the gateway read or wrote it (ms)' },
    direction: { type: 'string', enum: ['in', 'out'], description: 'in: from the charger; out: to the charger' },
    size: { type: 'integer', description: 'Bytes of the frame as it went over the wire' },
    frame: { type: 'string', description: 'The raw text, credentials replaced by "***", cut to recorder.maxFrameBytes' },
    truncated: { type: 'boolean', enum: [true], description: 'Present when the frame was cut' },
  },
} as const;

export const RecordingFramesSchema = {
  $id: 'RecordingFrames',
  type: 'object',
  required: [...RecordingStatusSchema.required, 'items'],
  properties: {
    ...RecordingStatusSchema.properties,
    items: { type: 'array', items: { $ref: 'RecordedFrame#' }, description: 'The frames held, oldest first' },
  },
} as const;

export const RecordingRequestSchema = {
  $id: 'RecordingRequest',
  type: 'object',
  additionalProperties: false,
  properties: {
    durationSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 600, description: 'How long to record' },
    maxFrames: { type: 'integer', minimum: 1, maximum: 5000, default: 1000, description: 'Frames kept; older ones are dropped beyond it' },
  },
} as const;

const connectedSchema = {
  type: 'object',
  required: ['ocpp1.6', 'ocpp2.0.1'],
  properties: { 'ocpp1.6': { type: 'integer' }, 'ocpp2.0.1': { type: 'integer' } },
} as const;

const countsSchema = (description: string) => ({ type: 'object', additionalProperties: { type: 'number' }, description });

const percentilesSchema = (description: string) => ({
  type: 'object',
  description,
  required: ['p50', 'p90', 'p99', 'count'],
  properties: { p50: nullable('number'), p90: nullable('number'), p99: nullable('number'), count: { type: 'integer' } },
});

const instanceStatsProperties = {
  connected: connectedSchema,
  messagesPerSecond: {
    type: 'object',
    required: ['inbound', 'outbound'],
    description: 'Messages a second over the last interval by action (CALLs and their CALLRESULTs); actions without any are left out',
    properties: { inbound: countsSchema('From chargers'), outbound: countsSchema('To chargers') },
  },
  callRoundTripMs: percentilesSchema('Commands (gateway → charger CALLs): time to the charger answer in ms over the last interval'),
  inboundCallMs: percentilesSchema("Charger CALLs: time to the gateway's answer in ms over the last interval"),
  callErrors: countsSchema('CALLERRORs sent and received since the start, by OCPP error code'),
  refusals: countsSchema('Connection attempts refused since the start by outcome (ocpp_connection_attempts_total); `schema`: CALLs refused by the OCPP schema'),
  closes: {
    type: 'object',
    required: ['outbox', 'keepalive'],
    description: 'Connections closed since the start: outbox (the charger stopped reading), keepalive (no pong), the other causes by name',
    properties: { outbox: { type: 'integer' }, keepalive: { type: 'integer' }, other: countsSchema('By cause: charger, replaced, shutdown, server, rate_limited') },
  },
} as const;

const instanceStatsRequired = ['connected', 'messagesPerSecond', 'callRoundTripMs', 'callErrors', 'refusals', 'closes'];

export const DashboardSnapshotSchema = {
  $id: 'DashboardSnapshot',
  type: 'object',
  required: ['at', 'mode', 'intervalMs', 'totals', 'instances', 'missingInstances'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    mode: { type: 'string', enum: ['embedded', 'cluster'] },
    intervalMs: { type: 'number', description: 'The sampling interval the rates were computed over' },
    totals: { type: 'object', required: instanceStatsRequired, properties: instanceStatsProperties, description: 'Every instance added up' },
    instances: {
      type: 'array',
      items: { type: 'object', required: ['instance', ...instanceStatsRequired], properties: { instance: { type: 'string' }, ...instanceStatsProperties } },
    },
    missingInstances: { type: 'array', items: { type: 'string' }, description: 'Cluster mode: live instances that did not answer in time' },
    history: {
      type: 'array',
      description: 'The totals of each sample of the last 30 minutes, oldest first (summary only)',
      items: {
        type: 'object',
        required: ['at', 'connected', 'inboundPerSecond', 'outboundPerSecond'],
        properties: {
          at: { type: 'string', format: 'date-time' },
          connected: connectedSchema,
          inboundPerSecond: { type: 'number' },
          outboundPerSecond: { type: 'number' },
        },
      },
    },
  },
} as const;

export const SHARED_SCHEMAS = [
  DashboardSnapshotSchema,
  RecordingStatusSchema,
  RecordedFrameSchema,
  RecordingFramesSchema,
  RecordingRequestSchema,
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
