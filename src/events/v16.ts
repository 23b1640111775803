import { dataTransfer, firmwareStatus, heartbeat, logStatus, securityEvent } from './common-mappers.js';
import { type ConnectorMemory, connectorKey, transactionIdString } from './connector-memory.js';
import { type CallMapper, type EventContext, EventType, type MappedPayload, type MemoryMapper, makeEvent, ocppActionEventType } from './envelope.js';
import { meterValuesV16 } from './meter-values.js';
import {
  type AuthorizationRequestedPayload,
  type ChargePointBootedPayload,
  type ConnectorStatusChangedPayload,
  type DiagnosticsStatusChangedPayload,
  type IdToken,
  type TransactionMeterValuesPayload,
  type TransactionStartedPayload,
  type TransactionStoppedPayload,
  V16_ID_TAG_TYPE,
} from './payloads.js';

/** OCPP 1.6 (with the security extension) charger→central CALLs to events. */

function idTag(tag: unknown): IdToken | null {
  return tag === undefined || tag === null ? null : { idToken: tag as string, type: V16_ID_TAG_TYPE };
}

const bootNotification: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  out.push(
    makeEvent<ChargePointBootedPayload>(
      ctx,
      EventType.ChargePointBooted,
      {
        vendor: req.chargePointVendor ?? null,
        model: req.chargePointModel ?? null,
        serialNumber: req.chargePointSerialNumber ?? null,
        chargeBoxSerialNumber: req.chargeBoxSerialNumber ?? null,
        firmwareVersion: req.firmwareVersion ?? null,
        iccid: req.iccid ?? null,
        imsi: req.imsi ?? null,
        meterType: req.meterType ?? null,
        meterSerialNumber: req.meterSerialNumber ?? null,
        reason: null,
        status: res.status ?? null,
        interval: res.interval ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

/** What a StatusNotification changes in the charger's memory; returns the connector's status before it. */
const recordStatus = (ctx: EventContext, ts: string, req: MappedPayload): string | null =>
  ctx.memory.recordStatus({
    key: connectorKey(null, req.connectorId ?? null),
    evseId: null,
    connectorId: req.connectorId ?? null,
    status: req.status ?? null,
    errorCode: req.errorCode ?? null,
    timestamp: req.timestamp ?? ts,
  });

const statusNotification: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  const connectorId = req.connectorId ?? null;
  const status = req.status ?? null;
  const errorCode = req.errorCode ?? null;
  const timestamp = req.timestamp ?? null;
  const previousStatus = recordStatus(ctx, ts, req);
  out.push(
    makeEvent<ConnectorStatusChangedPayload>(
      ctx,
      EventType.ConnectorStatusChanged,
      {
        evseId: null,
        connectorId,
        status,
        previousStatus,
        errorCode,
        info: req.info ?? null,
        vendorId: req.vendorId ?? null,
        vendorErrorCode: req.vendorErrorCode ?? null,
        timestamp,
        ocpp,
      },
      ts,
    ),
  );
};

const authorize: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  const info = res.idTagInfo ?? null;
  out.push(
    makeEvent<AuthorizationRequestedPayload>(
      ctx,
      EventType.AuthorizationRequested,
      {
        idToken: idTag(req.idTag),
        status: info?.status ?? null,
        idTokenInfo: info,
        ocpp,
      },
      ts,
    ),
  );
};

const startTransaction: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  // The central system chooses a 1.6 transaction id, so it only exists in the answer.
  const transactionId = transactionIdString(res.transactionId);
  const connectorId = req.connectorId ?? null;
  const idToken = idTag(req.idTag);
  const meterStart = req.meterStart ?? null;
  const timestamp = req.timestamp ?? null;
  const info = res.idTagInfo ?? null;
  // The gateway answers a retried StartTransaction with the first one's answer, so the same transaction shows up
  // again: marked, and not reopened if it has ended since.
  const retry = transactionId !== null && isRepeatedStart(ctx.memory, transactionId, connectorId, timestamp, meterStart);
  if (transactionId !== null && !retry) {
    ctx.memory.openTransaction({
      transactionId,
      evseId: null,
      connectorId,
      idToken,
      startedAt: timestamp,
      meterStart,
      updatedAt: timestamp,
    });
  }
  out.push(
    makeEvent<TransactionStartedPayload>(
      ctx,
      EventType.TransactionStarted,
      {
        transactionId,
        ocppTransactionId: res.transactionId ?? null,
        evseId: null,
        connectorId,
        idToken,
        timestamp,
        authorizationStatus: info?.status ?? null,
        idTokenInfo: info,
        triggerReason: null,
        seqNo: null,
        chargingState: null,
        offline: null,
        meterStart,
        reservationId: req.reservationId ?? null,
        remoteStartId: null,
        retry,
        ocpp,
      },
      ts,
    ),
  );
};

function isRepeatedStart(memory: ConnectorMemory, transactionId: string, connectorId: unknown, timestamp: unknown, meterStart: unknown): boolean {
  const open = memory.transaction(transactionId);
  if (open !== undefined) return open.connectorId === connectorId && open.startedAt === timestamp && open.meterStart === meterStart;
  return memory.stoppedTransaction(transactionId) !== undefined;
}

const stopTransaction: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  const transactionId = transactionIdString(req.transactionId);
  // StopTransaction names no connector: it is the one the transaction was started on. A stop for a transaction
  // that already ended is the charger repeating itself (it did not get our answer): marked, same connector.
  // Ids below 1 are not ids a central system gave (go-e and MicroOcpp stop unknown transactions as -1): never repeats.
  const earlier = transactionId === null || !(req.transactionId > 0) ? undefined : ctx.memory.stoppedTransaction(transactionId);
  const open = transactionId === null ? undefined : ctx.memory.closeTransaction(transactionId);
  const repeat = open === undefined && earlier !== undefined;
  const connectorId = (open ?? earlier)?.connectorId ?? null;
  const meterValues = meterValuesV16(req.transactionData);
  // The readings belong to the transaction, so they precede its end.
  if (meterValues.length > 0) {
    out.push(
      makeEvent<TransactionMeterValuesPayload>(
        ctx,
        EventType.TransactionMeterValues,
        {
          transactionId,
          ocppTransactionId: req.transactionId ?? null,
          evseId: null,
          connectorId,
          meterValues,
          ocpp,
        },
        ts,
      ),
    );
  }
  const info = res.idTagInfo ?? null;
  out.push(
    makeEvent<TransactionStoppedPayload>(
      ctx,
      EventType.TransactionStopped,
      {
        transactionId,
        ocppTransactionId: req.transactionId ?? null,
        evseId: null,
        connectorId,
        idToken: idTag(req.idTag),
        timestamp: req.timestamp ?? null,
        authorizationStatus: info?.status ?? null,
        idTokenInfo: info,
        triggerReason: null,
        seqNo: null,
        chargingState: null,
        offline: null,
        meterStop: req.meterStop ?? null,
        reason: req.reason ?? 'Local',
        repeat,
        ocpp,
      },
      ts,
    ),
  );
};

const meterValues: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<TransactionMeterValuesPayload>(
      ctx,
      EventType.TransactionMeterValues,
      {
        transactionId: transactionIdString(req.transactionId),
        ocppTransactionId: req.transactionId ?? null,
        evseId: null,
        connectorId: req.connectorId ?? null,
        meterValues: meterValuesV16(req.meterValue),
        ocpp,
      },
      ts,
    ),
  );
};

const diagnosticsStatus: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<DiagnosticsStatusChangedPayload>(
      ctx,
      EventType.DiagnosticsStatusChanged,
      {
        status: req.status ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

/** Actions with events of their own; any other action yields `ocpp.<action>` carrying the exchange. */
export const V16_MAPPERS: ReadonlyMap<string, CallMapper> = new Map<string, CallMapper>([
  ['BootNotification', bootNotification],
  ['Heartbeat', heartbeat],
  ['StatusNotification', statusNotification],
  ['Authorize', authorize],
  ['StartTransaction', startTransaction],
  ['StopTransaction', stopTransaction],
  ['MeterValues', meterValues],
  ['DataTransfer', dataTransfer],
  ['FirmwareStatusNotification', firmwareStatus],
  ['SignedFirmwareStatusNotification', firmwareStatus],
  ['DiagnosticsStatusNotification', diagnosticsStatus],
  ['LogStatusNotification', logStatus],
  ['SecurityEventNotification', securityEvent],
]);

/**
 * The memory-updating actions whose update can run without building their events, for when nobody would hear them:
 * StatusNotification, which chargers send in numbers (every connector at every boot). Transactions keep building
 * theirs, since what they remember is worked out while their events are.
 */
export const V16_MEMORY_ONLY: ReadonlyMap<string, MemoryMapper> = new Map([['StatusNotification', recordStatus]]);

/**
 * Every 1.6 charger→central action (security extension included) and the event types it can yield, in the
 * order they come out (StopTransaction yields meter values only when it carries transactionData).
 */
export const V16_EVENT_TYPES: Readonly<Record<string, readonly string[]>> = {
  Authorize: [EventType.AuthorizationRequested],
  BootNotification: [EventType.ChargePointBooted],
  DataTransfer: [EventType.DataTransferReceived],
  DiagnosticsStatusNotification: [EventType.DiagnosticsStatusChanged],
  FirmwareStatusNotification: [EventType.FirmwareStatusChanged],
  Heartbeat: [EventType.ChargePointHeartbeat],
  LogStatusNotification: [EventType.LogStatusChanged],
  MeterValues: [EventType.TransactionMeterValues],
  SecurityEventNotification: [EventType.SecurityEvent],
  SignCertificate: [ocppActionEventType('SignCertificate')],
  SignedFirmwareStatusNotification: [EventType.FirmwareStatusChanged],
  StartTransaction: [EventType.TransactionStarted],
  StatusNotification: [EventType.ConnectorStatusChanged],
  StopTransaction: [EventType.TransactionMeterValues, EventType.TransactionStopped],
};
