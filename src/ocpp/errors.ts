import type { OcppVersion } from './versions.js';

/**
 * Why a CALL failed, in the gateway's own words. Each version spells the wire code differently
 * (1.6 kept `FormationViolation` on purpose), so code never names a wire code directly: it names
 * a reason and `wireErrorCode` spells it for the charger's version.
 */
export type OcppErrorReason =
  | 'format' // payload not well-formed for the action
  | 'occurrence' // required field missing / too many items
  | 'property' // a value outside its constraints (length, enum, range, pattern)
  | 'type' // a value of the wrong JSON type
  | 'notImplemented' // the action is unknown to the receiver
  | 'notSupported' // the action is known but not handled in this direction
  | 'framing' // the RPC frame itself is broken (arity, types, id)
  | 'messageType' // unknown message type id
  | 'internal'
  | 'security'
  | 'generic';

const V16: Record<OcppErrorReason, string> = {
  format: 'FormationViolation',
  occurrence: 'OccurenceConstraintViolation',
  property: 'PropertyConstraintViolation',
  type: 'TypeConstraintViolation',
  notImplemented: 'NotImplemented',
  notSupported: 'NotSupported',
  framing: 'ProtocolError',
  messageType: 'ProtocolError',
  internal: 'InternalError',
  security: 'SecurityError',
  generic: 'GenericError',
};

const V201: Record<OcppErrorReason, string> = {
  ...V16,
  format: 'FormatViolation',
  framing: 'RpcFrameworkError',
  messageType: 'MessageTypeNotSupported',
};

/** The wire error code for a reason, spelled as the charger's version spells it. */
export function wireErrorCode(version: OcppVersion, reason: OcppErrorReason): string {
  return version === 'ocpp1.6' ? V16[reason] : V201[reason];
}

/**
 * Which spelling a 1.6 charger gets for the two codes spelled more than one way: the 1.6 spec's own
 * (`FormationViolation`, `OccurenceConstraintViolation`, the default), or the 2.0.1-style `FormatViolation` with
 * the corrected `OccurrenceConstraintViolation`, which some firmware and libraries expect (they resend a message
 * for ever when they do not recognise the code). Other codes are the version's.
 */
export type ErrorCodeSpelling = OcppVersion;

const V16_SPELLED_AS_201: Partial<Record<OcppErrorReason, string>> = {
  format: 'FormatViolation',
  occurrence: 'OccurrenceConstraintViolation',
};

/** The wire error code for a reason on a charger of `version`, in the chosen spelling (see ErrorCodeSpelling). */
export function spelledErrorCode(version: OcppVersion, reason: OcppErrorReason, spelling: ErrorCodeSpelling): string {
  if (version === 'ocpp1.6' && spelling === 'ocpp2.0.1') return V16_SPELLED_AS_201[reason] ?? V16[reason];
  return wireErrorCode(version, reason);
}

/** A failure to be answered to the charger as a CALLERROR. */
export class OcppCallError extends Error {
  constructor(
    readonly reason: OcppErrorReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'OcppCallError';
  }
}

const ALL_CODES: ReadonlySet<string> = new Set([...Object.values(V16), ...Object.values(V201), 'ProtocolError', 'OccurrenceConstraintViolation']);

/** Whether a code is one OCPP 1.6 or 2.0.1 defines; chargers' other codes are counted together. */
export function isKnownErrorCode(code: string): boolean {
  return ALL_CODES.has(code);
}
