import type { FastifyError } from 'fastify';
import type { CallFailureCode } from '../ocpp/call-failure.js';

/**
 * Every admin API failure leaves as `{ error: { code, message, ...details } }` with one of these codes, so a
 * client can branch on the code and never has to parse a message. Command failures keep the command
 * contract's codes (DESIGN.md §4) unchanged.
 */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAVAILABLE'
  | 'INTERNAL_ERROR'
  /** The flight recorder's global limits (chargers recording at once, total bytes) are reached. */
  | 'RECORDER_FULL'
  /** The charger has no recording (none was started, or it was freed after recorder.retainMs). */
  | 'NOT_RECORDING'
  | CallFailureCode;

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; [detail: string]: unknown };
}

export function errorBody(code: ApiErrorCode, message: string, details: Record<string, unknown> = {}): ApiErrorBody {
  return { error: { ...details, code, message } };
}

/** How each command failure reads over HTTP: the caller's fault (4xx) or the charger's (5xx). */
export const COMMAND_FAILURE_STATUS: Record<CallFailureCode, number> = {
  DEVICE_OFFLINE: 404,
  INVALID_COMMAND_PAYLOAD: 400,
  QUEUE_FULL: 429,
  CALL_ERROR: 502,
  // The charger answered, but its compatibility profile validates that answer strictly and it broke the schema.
  INVALID_RESPONSE: 502,
  TIMEOUT: 504,
};

const CODE_BY_STATUS: Record<number, ApiErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'UNAVAILABLE',
};

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** `body/payload/connectorId`: the part of the request and the path inside it, as a client names it. */
function fieldOf(context: string, issue: AjvIssue): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '');
  const params = issue.params ?? {};
  const child =
    typeof params.missingProperty === 'string' ? params.missingProperty : typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
  return [context, path, child].filter((part) => part !== undefined && part !== '').join('/');
}

function problemOf(context: string, issue: AjvIssue): FieldProblem {
  const field = fieldOf(context, issue);
  if (issue.keyword === 'required') return { field, message: `${field} is required` };
  if (issue.keyword === 'additionalProperties') return { field, message: `${field} is not allowed` };
  return { field, message: `${field} ${issue.message ?? 'is invalid'}` };
}

/**
 * Turns whatever fastify raised (schema validation, body parsing, a handler's bug) into a status and an
 * error body. Internal details of a 5xx are not echoed: they go to the log.
 */
export function describeError(err: FastifyError): { status: number; body: ApiErrorBody; internal: boolean } {
  if (Array.isArray(err.validation) && err.validation.length > 0) {
    const context = err.validationContext ?? 'request';
    const problems = (err.validation as AjvIssue[]).map((issue) => problemOf(context, issue));
    return { status: 400, body: errorBody('BAD_REQUEST', problems[0].message, { field: problems[0].field, errors: problems }), internal: false };
  }
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status >= 500 && status !== 503) {
    return { status: 500, body: errorBody('INTERNAL_ERROR', 'the admin API failed to handle the request; see the gateway log'), internal: true };
  }
  return { status, body: errorBody(CODE_BY_STATUS[status] ?? 'BAD_REQUEST', err.message), internal: false };
}
