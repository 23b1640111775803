/**
 * The answers the gateway gives by itself, when no backend is attached (or policy says `local`).
 *
 * Every charger→central action of every version has one, and each is valid against the action's
 * response schema (the unit tests check this for the whole catalogue). Where the gateway cannot
 * truthfully do what the charger asks (sign a certificate, fetch an ISO 15118 certificate, plan a
 * charging schedule) it says no in the protocol's own terms instead of pretending.
 *
 * Answers that never vary are built once and frozen; callers must not mutate what they get.
 */

import { isoNow } from '../observability/clock.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { TransactionIdSource } from './transaction-ids.js';

export interface LocalAnswerConfig {
  /** `interval` of an accepted BootNotification, i.e. the heartbeat interval the charger adopts. Default 300. */
  bootIntervalSeconds: number;
  /** When set, used for that interval instead of bootIntervalSeconds (OCPP has only the one value). */
  heartbeatIntervalSeconds?: number;
  /** `acceptAll`: every idTag is Accepted. `allowList`: only listed ones (compared case-insensitively). */
  authorize: { mode: 'acceptAll' | 'allowList'; allowList: string[] };
}

type Answer = Record<string, unknown>;
/** One action's embedded answer to a charger's request payload. */
export type LocalAnswer = (request: any) => Answer | Promise<Answer>;
type Handler = LocalAnswer;

const EMPTY: Answer = Object.freeze({});

function frozen<T extends Answer>(value: T): T {
  for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) Object.freeze(child);
  return Object.freeze(value);
}

// 1.6 IdTagInfo and 2.0.1 IdTokenInfo, by authorisation outcome.
const ID_TAG_ACCEPTED = frozen({ status: 'Accepted' });
const ID_TAG_INVALID = frozen({ status: 'Invalid' });

/** The gateway knows no vendor extensions; UnknownVendorId is the answer the spec prescribes. */
const DATA_TRANSFER_UNKNOWN_VENDOR = frozen({ status: 'UnknownVendorId' });

/**
 * No certificate authority sits behind the gateway. 'Accepted' would promise a later
 * CertificateSigned that never comes, and the charger would wait and retry; 'Rejected' is the truth.
 */
const SIGN_CERTIFICATE_REJECTED = frozen({ status: 'Rejected' });

// 2.0.1: no certificate or OCSP service is reachable, so 'Failed' (exiResponse is required, may be empty).
const GET_15118_FAILED = frozen({ status: 'Failed', exiResponse: '' });
const GET_CERTIFICATE_STATUS_FAILED = frozen({ status: 'Failed' });
// 2.0.1: 'Rejected' means "service not available": no schedule will follow, so the EV need not wait.
const EV_CHARGING_NEEDS_REJECTED = frozen({ status: 'Rejected' });
// 2.0.1: the charger only informs us of the EV's schedule; receiving it is all that is asked.
const EV_CHARGING_SCHEDULE_ACCEPTED = frozen({ status: 'Accepted' });

export class LocalAnswers {
  private readonly handlers: Record<OcppVersion, ReadonlyMap<string, Handler>>;
  private readonly allowList: ReadonlySet<string> | undefined;
  private readonly interval: number;

  constructor(
    config: LocalAnswerConfig,
    private readonly transactionIds: TransactionIdSource,
  ) {
    const interval = config.heartbeatIntervalSeconds ?? config.bootIntervalSeconds ?? 300;
    if (!Number.isSafeInteger(interval) || interval < 0) {
      throw new RangeError(`heartbeat/boot interval must be a whole number of seconds >= 0, got ${interval}`);
    }
    this.interval = interval;
    this.allowList = config.authorize.mode === 'allowList' ? new Set(config.authorize.allowList.map(normaliseIdToken)) : undefined;
    this.handlers = { 'ocpp1.6': this.v16(), 'ocpp2.0.1': this.v201() };
  }

  /** Does the gateway have an embedded answer for this charger→central action of this version? */
  has(version: OcppVersion, action: string): boolean {
    return this.answerFor(version, action) !== undefined;
  }

  /** The embedded answer for this action of this version, to keep per action; undefined when it has none. */
  answerFor(version: OcppVersion, action: string): LocalAnswer | undefined {
    return this.handlers[version].get(action);
  }

  /**
   * A schema-valid response payload for a charger→central CALL. Always the payload itself, never a promise,
   * except for a 1.6 StartTransaction arriving while no reserved transactionId is left.
   */
  answer(version: OcppVersion, action: string, request: any): Promise<Answer> | Answer {
    const handler = this.answerFor(version, action);
    // Callers ask `has` (or the catalogue) first; an unknown action here is a bug, not charger input.
    if (!handler) throw new Error(`no local answer for ${version} ${action}`);
    return handler(request);
  }

  /** OCPP compares idTags (1.6 CiString) and idTokens (2.0.1) case-insensitively. */
  private isAuthorised(idToken: unknown): boolean {
    if (!this.allowList) return true;
    return typeof idToken === 'string' && this.allowList.has(normaliseIdToken(idToken));
  }

  private idTagInfo(idToken: unknown): Answer {
    return this.isAuthorised(idToken) ? ID_TAG_ACCEPTED : ID_TAG_INVALID;
  }

  /**
   * 1.6 StartTransaction: answered in the same tick while the allocator has a reserved id at hand (nearly
   * always: it reserves ahead), so the charger's next CALL is not held up; only when none is left does the
   * answer wait for the next block to be durable.
   */
  private startTransaction(req: any): Answer | Promise<Answer> {
    const idTagInfo = this.idTagInfo(req?.idTag);
    const transactionId = this.transactionIds.next();
    if (typeof transactionId === 'number') return { transactionId, idTagInfo };
    return transactionId.then((id) => ({ transactionId: id, idTagInfo }));
  }

  /** The Heartbeat answer of this millisecond: one frozen object per clock value, so its JSON is built once (framing.ts). */
  private heartbeatAnswer: Readonly<{ currentTime: string }> = frozen({ currentTime: '' });

  private heartbeat(): Answer {
    const currentTime = now();
    if (this.heartbeatAnswer.currentTime !== currentTime) this.heartbeatAnswer = frozen({ currentTime });
    return this.heartbeatAnswer;
  }

  private v16(): ReadonlyMap<string, Handler> {
    const authorizeAccepted = frozen({ idTagInfo: ID_TAG_ACCEPTED });
    const authorizeInvalid = frozen({ idTagInfo: ID_TAG_INVALID });
    return new Map<string, Handler>([
      ['BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: this.interval })],
      ['Heartbeat', () => this.heartbeat()],
      ['Authorize', (req) => (this.isAuthorised(req?.idTag) ? authorizeAccepted : authorizeInvalid)],
      ['StartTransaction', (req) => this.startTransaction(req)],
      // idTagInfo is optional and only meaningful when the charger says who stopped the transaction.
      ['StopTransaction', (req) => (typeof req?.idTag === 'string' ? { idTagInfo: this.idTagInfo(req.idTag) } : EMPTY)],
      ['DataTransfer', () => DATA_TRANSFER_UNKNOWN_VENDOR],
      ['SignCertificate', () => SIGN_CERTIFICATE_REJECTED],
      ['DiagnosticsStatusNotification', () => EMPTY],
      ['FirmwareStatusNotification', () => EMPTY],
      ['MeterValues', () => EMPTY],
      ['StatusNotification', () => EMPTY],
      ['LogStatusNotification', () => EMPTY],
      ['SecurityEventNotification', () => EMPTY],
      ['SignedFirmwareStatusNotification', () => EMPTY],
    ]);
  }

  private v201(): ReadonlyMap<string, Handler> {
    const authorizeAccepted = frozen({ idTokenInfo: ID_TAG_ACCEPTED });
    const authorizeInvalid = frozen({ idTokenInfo: ID_TAG_INVALID });
    return new Map<string, Handler>([
      ['BootNotification', () => ({ currentTime: now(), interval: this.interval, status: 'Accepted' })],
      ['Heartbeat', () => this.heartbeat()],
      ['Authorize', (req) => (this.isAuthorised(req?.idToken?.idToken) ? authorizeAccepted : authorizeInvalid)],
      // idTokenInfo answers the idToken the charger sent; without one there is nothing to judge.
      ['TransactionEvent', (req) => (req?.idToken !== undefined ? { idTokenInfo: this.idTagInfo(req.idToken?.idToken) } : EMPTY)],
      ['DataTransfer', () => DATA_TRANSFER_UNKNOWN_VENDOR],
      ['SignCertificate', () => SIGN_CERTIFICATE_REJECTED],
      ['Get15118EVCertificate', () => GET_15118_FAILED],
      ['GetCertificateStatus', () => GET_CERTIFICATE_STATUS_FAILED],
      ['NotifyEVChargingNeeds', () => EV_CHARGING_NEEDS_REJECTED],
      ['NotifyEVChargingSchedule', () => EV_CHARGING_SCHEDULE_ACCEPTED],
      ['ClearedChargingLimit', () => EMPTY],
      ['FirmwareStatusNotification', () => EMPTY],
      ['LogStatusNotification', () => EMPTY],
      ['MeterValues', () => EMPTY],
      ['NotifyChargingLimit', () => EMPTY],
      ['NotifyCustomerInformation', () => EMPTY],
      ['NotifyDisplayMessages', () => EMPTY],
      ['NotifyEvent', () => EMPTY],
      ['NotifyMonitoringReport', () => EMPTY],
      ['NotifyReport', () => EMPTY],
      ['PublishFirmwareStatusNotification', () => EMPTY],
      ['ReportChargingProfiles', () => EMPTY],
      ['ReservationStatusUpdate', () => EMPTY],
      ['SecurityEventNotification', () => EMPTY],
      ['StatusNotification', () => EMPTY],
    ]);
  }
}

function normaliseIdToken(idToken: string): string {
  return idToken.toLowerCase();
}

function now(): string {
  return isoNow();
}
