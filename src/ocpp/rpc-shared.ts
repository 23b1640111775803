import type { Logger } from 'pino';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { ActionId } from './catalogue.js';
import type { ErrorCodeSpelling, OcppErrorReason } from './errors.js';
import type { CallErrorFrame, CallFrame, JsonObject } from './framing.js';
import type { InboundCheck } from './inbound-check.js';
import type { ProtocolMetrics } from './protocol-metrics.js';
import type { OcppVersion } from './versions.js';

/**
 * What a connection does with a charger's valid CALL: answer it, or throw an OcppCallError. `id` is the CALL's
 * action's id in `version` (the check let it through, so it is one).
 */
export type InboundCallHandler<Owner> = (owner: Owner, call: CallFrame, id: ActionId, version: OcppVersion) => JsonObject | Promise<JsonObject>;

export interface InboundCheckFailure {
  reason: OcppErrorReason;
  message: string;
  details?: JsonObject;
}

/** A CALL refused before it is held (the charger's CALL rate): its CALLERROR, then `afterAnswer` if given. */
export interface InboundRateRefusal extends InboundCheckFailure {
  afterAnswer?(): void;
}

/**
 * Everything the RPC endpoints of all connections share: one copy per gateway, not one per charger,
 * so a connection costs a few fields rather than a set of closures.
 */
export interface RpcShared<Owner> {
  readonly log: Logger;
  /** Per-message warnings (unparseable frames): one line per key and interval, for all connections. */
  readonly warnings: RateLimitedLog;
  readonly metrics: ProtocolMetrics;
  readonly handler: InboundCallHandler<Owner>;
  /** CALLs that may wait behind the one being answered; one more gets a GenericError. */
  readonly maxQueuedInboundCalls: number;
  /** The same bound in bytes of the waiting CALLs' frames. */
  readonly maxQueuedInboundBytes: number;
  readonly maxQueuedOutboundCalls: number;
  readonly callTimeoutMs: number;
  /** null when the CALL may be handled; otherwise the CALLERROR it gets. `owner` is the connection's owner. */
  readonly checkInboundCall: InboundCheck<Owner>;
  nextMessageId(): string;
  /** The spelling of the CALLERROR codes this charger gets (its compatibility profile); the version's by default. */
  errorSpellingOf?(owner: Owner): ErrorCodeSpelling;
  /** How a charger's CALLERROR answering a gateway CALL is read (its compatibility profile); as sent by default. */
  readCallError?(owner: Owner, version: OcppVersion, frame: CallErrorFrame): { errorCode: string; errorDetails: JsonObject };
  identityOf(owner: Owner): string;
  /** The per-connection CALL rate, checked as each CALL arrives: null to hold it, else its refusal. */
  limitInboundCall?(owner: Owner): InboundRateRefusal | null;
}
