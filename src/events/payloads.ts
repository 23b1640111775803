import type { OcppExchange } from './envelope.js';

/*
 * The payload of every event type: the contract backends code against. Where 1.6 and 2.0.1 mean the same
 * thing they share one shape, and every key of a shape is always present: a value the charger did not send,
 * or that its version does not have, is `null`. A consumer therefore sees one key set per event type
 * whatever the charger speaks.
 *
 * Values are as the charger sent them. With schema validation switched off for a vendor, a malformed field
 * comes through as sent, so consumers should not trust types beyond what their own use needs.
 *
 * Declared as type aliases (not interfaces) so that they fit `GatewayEvent`'s `Record<string, unknown>`.
 */

/**
 * An identification token. 2.0.1 sends it this way (the charger's object is passed through, so
 * `additionalInfo` and vendor fields come along). 1.6 has only an idTag of unknown technology: it becomes
 * `{ idToken: <idTag>, type: 'idTag' }`. `idTag` is not a 2.0.1 IdTokenEnumType value, so a consumer can
 * always tell a 1.6 tag from a 2.0.1 token and never mistakes one for a card of a given kind.
 */
export type IdToken = { idToken: string; type: string };

/** The `type` given to a 1.6 idTag. */
export const V16_ID_TAG_TYPE = 'idTag';

/**
 * One sampled value in the shape of both versions, with the defaults the specifications define filled in
 * (context `Sample.Periodic`, measurand `Energy.Active.Import.Register`, location `Outlet`, unit `Wh` for
 * energy measurands, multiplier 0, format `Raw`).
 */
export type SampledValue = {
  /** The reading as a number, in `unit` × 10^`multiplier`; null when it is not a number (1.6 `SignedData`). */
  value: number | null;
  /** Exactly as sent: a string in 1.6, a number in 2.0.1. Signed 1.6 data lives here. */
  rawValue: string | number | null;
  context: string;
  /** `Raw` or `SignedData` (1.6). 2.0.1 values are always raw; their signature is in `signedMeterValue`. */
  format: string;
  measurand: string;
  phase: string | null;
  location: string;
  /** Null when the measurand is not an energy one and the charger named no unit. */
  unit: string | null;
  /** Power of ten the value is scaled by (2.0.1 `unitOfMeasure.multiplier`); always 0 in 1.6. */
  multiplier: number;
  /** 2.0.1 `signedMeterValue` as sent; null in 1.6. */
  signedMeterValue: Record<string, unknown> | null;
};

export type MeterValue = {
  /** The charger's time of the sample. */
  timestamp: string | null;
  sampledValues: SampledValue[];
};

export type ChargePointConnectedPayload = {
  remoteAddress: string | null;
  /** The identity as the charger presented it; the same as `chargePointId` unless the gateway maps it. */
  identity: string;
  /** 0 (none), 1, 2 or 3 when known. */
  securityProfile: number | null;
  /**
   * The connection's epoch: it only grows for a charger, also across gateway restarts, so a consumer keeps the
   * presence event with the highest epoch and discards older ones (see the README, "Presence and epochs").
   */
  epoch: number | null;
};

export type ChargePointDisconnectedPayload = {
  /** WebSocket close code. */
  code: number;
  reason: string;
  /** Who closed: e.g. `charger`, `replaced`, `keepalive`, `shutdown`. */
  initiator: string | null;
  /** The epoch of the connection that ended: the one its `charge_point.connected` carried. */
  epoch: number | null;
};

export type ChargePointBootedPayload = {
  vendor: string | null;
  model: string | null;
  /** 1.6 `chargePointSerialNumber`, 2.0.1 `chargingStation.serialNumber`. */
  serialNumber: string | null;
  /** 1.6 only (deprecated there). */
  chargeBoxSerialNumber: string | null;
  firmwareVersion: string | null;
  /** 1.6 `iccid`, 2.0.1 `chargingStation.modem.iccid`. */
  iccid: string | null;
  imsi: string | null;
  /** 1.6 only. */
  meterType: string | null;
  meterSerialNumber: string | null;
  /** 2.0.1 only (`PowerUp`, `FirmwareUpdate`, ...). */
  reason: string | null;
  /** What the gateway answered: `Accepted`, `Pending` or `Rejected`. */
  status: string | null;
  interval: number | null;
  ocpp: OcppExchange;
};

export type ChargePointHeartbeatPayload = {
  /** The time the gateway answered with. */
  currentTime: string | null;
  ocpp: OcppExchange;
};

export type ConnectorStatusChangedPayload = {
  /** 2.0.1 only; null in 1.6. */
  evseId: number | null;
  /** 1.6: 0 is the charge point as a whole. */
  connectorId: number | null;
  /** 1.6 `status`, 2.0.1 `connectorStatus`. */
  status: string | null;
  /**
   * The status last reported for the same connector, also on an earlier connection while the gateway remembers
   * the charger (see `chargers.forgetAfterMs`); null when none was.
   */
  previousStatus: string | null;
  /** 1.6 only (2.0.1 reports faults through NotifyEvent). */
  errorCode: string | null;
  info: string | null;
  vendorId: string | null;
  vendorErrorCode: string | null;
  /** The charger's time of the change. */
  timestamp: string | null;
  ocpp: OcppExchange;
};

/** Fields common to `transaction.started`, `.updated` and `.stopped`. */
export type TransactionFields = {
  /**
   * Always a string: 1.6's integer is converted. Null only when the exchange carried none, which only a
   * charger with schema validation switched off can cause.
   */
  transactionId: string | null;
  /** As on the wire: integer in 1.6, string in 2.0.1. */
  ocppTransactionId: number | string | null;
  /** 2.0.1 only. When the message omits it, taken from the transaction as last reported by the charger. */
  evseId: number | null;
  /** When the message omits it (1.6 StopTransaction, most 2.0.1 events), taken as `evseId` is. */
  connectorId: number | null;
  /** As sent in this message (see `IdToken`). */
  idToken: IdToken | null;
  /** The charger's time. */
  timestamp: string | null;
  /** Status of the authorization the gateway answered with (1.6 `idTagInfo.status`, 2.0.1 `idTokenInfo.status`). */
  authorizationStatus: string | null;
  /** The gateway's answer as sent: 1.6 `idTagInfo`, 2.0.1 `idTokenInfo`. */
  idTokenInfo: Record<string, unknown> | null;
  /** 2.0.1 only. */
  triggerReason: string | null;
  seqNo: number | null;
  chargingState: string | null;
  /** 2.0.1 only (defaults to false there). */
  offline: boolean | null;
};

export type TransactionStartedPayload = TransactionFields & {
  /** Wh. 1.6 `meterStart`; 2.0.1 the `Energy.Active.Import.Register` reading sent with the event, if any. */
  meterStart: number | null;
  reservationId: number | null;
  /** 2.0.1 only: ties the transaction to a RequestStartTransaction. */
  remoteStartId: number | null;
  /**
   * true when this repeats a `transaction.started` already published for the same transaction: the charger sent
   * its start again (it did not get our answer) and got the same answer, same transactionId. Safe to drop.
   */
  retry: boolean;
  ocpp: OcppExchange;
};

export type TransactionUpdatedPayload = TransactionFields & { ocpp: OcppExchange };

export type TransactionStoppedPayload = TransactionFields & {
  /** Wh. 1.6 `meterStop`; 2.0.1 the `Energy.Active.Import.Register` reading sent with the event, if any. */
  meterStop: number | null;
  /** 1.6 `reason`, 2.0.1 `stoppedReason`; both specifications let it be omitted only when it is `Local`. */
  reason: string;
  /**
   * true when the transaction had already stopped: the charger sent its stop again (it did not get our answer).
   * The first `transaction.stopped` stands; this one is safe to drop.
   */
  repeat: boolean;
  ocpp: OcppExchange;
};

export type TransactionMeterValuesPayload = {
  /** Null for meter values outside a transaction (1.6 MeterValues without one, every 2.0.1 MeterValues). */
  transactionId: string | null;
  ocppTransactionId: number | string | null;
  evseId: number | null;
  connectorId: number | null;
  meterValues: MeterValue[];
  ocpp: OcppExchange;
};

export type AuthorizationRequestedPayload = {
  idToken: IdToken | null;
  /** The answer given (`Accepted`, `Blocked`, ...). */
  status: string | null;
  /** 1.6 `idTagInfo`, 2.0.1 `idTokenInfo`, as answered. */
  idTokenInfo: Record<string, unknown> | null;
  ocpp: OcppExchange;
};

export type DataTransferReceivedPayload = {
  vendorId: string | null;
  messageId: string | null;
  /** A string in 1.6, any JSON in 2.0.1. */
  data: unknown;
  /** The answer given. */
  status: string | null;
  responseData: unknown;
  ocpp: OcppExchange;
};

export type FirmwareStatusChangedPayload = {
  status: string | null;
  /** Present for signed (1.6 security extension) and 2.0.1 updates. */
  requestId: number | null;
  ocpp: OcppExchange;
};

export type DiagnosticsStatusChangedPayload = { status: string | null; ocpp: OcppExchange };

export type LogStatusChangedPayload = { status: string | null; requestId: number | null; ocpp: OcppExchange };

export type SecurityEventPayload = {
  type: string | null;
  timestamp: string | null;
  techInfo: string | null;
  ocpp: OcppExchange;
};

/** Every `ocpp.<action>` event: the exchange itself. */
export type OcppActionPayload = { ocpp: OcppExchange };

export type CommandResponsePayload = {
  commandId: string;
  action: string;
  status: 'completed' | 'rejected';
  request: unknown;
  response: unknown;
  error: { code: string; message: string; ocppErrorCode?: string } | null;
  durationMs: number;
  traceId: string | null;
};
