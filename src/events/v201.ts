import { actionsOf } from '../ocpp/catalogue.js';
import { dataTransfer, firmwareStatus, heartbeat, logStatus, ocppActionEvent, securityEvent } from './common-mappers.js';
import { connectorKey, transactionIdString } from './connector-memory.js';
import {
  type CallMapper,
  type EventContext,
  EventType,
  type GatewayEvent,
  type MappedPayload,
  type MemoryMapper,
  makeEvent,
  type OcppExchange,
  ocppActionEventType,
} from './envelope.js';
import { importRegisterWh, meterValuesV201 } from './meter-values.js';
import type {
  AuthorizationRequestedPayload,
  ChargePointBootedPayload,
  ConnectorStatusChangedPayload,
  IdToken,
  MeterValue,
  TransactionFields,
  TransactionMeterValuesPayload,
  TransactionStartedPayload,
  TransactionStoppedPayload,
  TransactionUpdatedPayload,
} from './payloads.js';

/** OCPP 2.0.1 charging station→CSMS CALLs to events. */

const bootNotification: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  const station = req.chargingStation;
  const modem = station?.modem;
  out.push(
    makeEvent<ChargePointBootedPayload>(
      ctx,
      EventType.ChargePointBooted,
      {
        vendor: station?.vendorName ?? null,
        model: station?.model ?? null,
        serialNumber: station?.serialNumber ?? null,
        chargeBoxSerialNumber: null,
        firmwareVersion: station?.firmwareVersion ?? null,
        iccid: modem?.iccid ?? null,
        imsi: modem?.imsi ?? null,
        meterType: null,
        meterSerialNumber: null,
        reason: req.reason ?? null,
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
    key: connectorKey(req.evseId ?? null, req.connectorId ?? null),
    evseId: req.evseId ?? null,
    connectorId: req.connectorId ?? null,
    status: req.connectorStatus ?? null,
    errorCode: null,
    timestamp: req.timestamp ?? ts,
  });

const statusNotification: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  const evseId = req.evseId ?? null;
  const connectorId = req.connectorId ?? null;
  const status = req.connectorStatus ?? null;
  const timestamp = req.timestamp ?? null;
  const previousStatus = recordStatus(ctx, ts, req);
  out.push(
    makeEvent<ConnectorStatusChangedPayload>(
      ctx,
      EventType.ConnectorStatusChanged,
      {
        evseId,
        connectorId,
        status,
        previousStatus,
        errorCode: null,
        info: null,
        vendorId: null,
        vendorErrorCode: null,
        timestamp,
        ocpp,
      },
      ts,
    ),
  );
};

const authorize: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  const info = res.idTokenInfo ?? null;
  out.push(
    makeEvent<AuthorizationRequestedPayload>(
      ctx,
      EventType.AuthorizationRequested,
      {
        idToken: req.idToken ?? null,
        status: info?.status ?? null,
        idTokenInfo: info,
        ocpp,
      },
      ts,
    ),
  );
};

/**
 * One TransactionEvent is one of started / updated / stopped, plus `transaction.meter_values` when it carries
 * meter values: after the start or update (the transaction exists first), before the end (the readings
 * belong to it). Updated and Ended events usually omit the EVSE; it is taken from what the Started said.
 */
const transactionEvent: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  const eventType = req.eventType;
  if (eventType !== 'Started' && eventType !== 'Updated' && eventType !== 'Ended') {
    ocppActionEvent(ctx, ts, req, res, ocpp, out);
    return;
  }
  const memory = ctx.memory;
  const txInfo = req.transactionInfo;
  const ocppTransactionId = txInfo?.transactionId ?? null;
  const transactionId = transactionIdString(ocppTransactionId);
  // An Ended for a transaction that already ended, or a Started for one already started at the same time, is the
  // charger sending again what it believes we did not get: marked, so a consumer can tell it from the first.
  const stoppedBefore = transactionId === null ? undefined : memory.stoppedTransaction(transactionId);
  const open = transactionId === null ? undefined : eventType === 'Ended' ? memory.closeTransaction(transactionId) : memory.transaction(transactionId);
  const known = open ?? stoppedBefore;
  let evseId: number | null = req.evse?.id ?? null;
  let connectorId: number | null = req.evse?.connectorId ?? null;
  if (known !== undefined) {
    if (evseId === null) evseId = known.evseId;
    if (connectorId === null && evseId === known.evseId) connectorId = known.connectorId;
  }
  const idToken: IdToken | null = req.idToken ?? null;
  const timestamp: string | null = req.timestamp ?? null;
  const tokenInfo = res.idTokenInfo ?? null;
  const fields: TransactionFields = {
    transactionId,
    ocppTransactionId,
    evseId,
    connectorId,
    idToken,
    timestamp,
    authorizationStatus: tokenInfo?.status ?? null,
    idTokenInfo: tokenInfo,
    triggerReason: req.triggerReason ?? null,
    seqNo: req.seqNo ?? null,
    chargingState: txInfo?.chargingState ?? null,
    offline: req.offline ?? false,
  };
  const meterValues = meterValuesV201(req.meterValue);

  // Each branch publishes one event made of these fields, so its own fields are added to this object (withFields).
  if (eventType === 'Started') {
    const meterStart = importRegisterWh(meterValues, 'Transaction.Begin', false);
    const retry = transactionId !== null && (open !== undefined ? open.startedAt !== null && open.startedAt === timestamp : stoppedBefore !== undefined);
    if (transactionId !== null && !retry) {
      memory.openTransaction({
        transactionId,
        evseId,
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
        withFields(fields, {
          meterStart,
          reservationId: req.reservationId ?? null,
          remoteStartId: txInfo?.remoteStartId ?? null,
          retry,
          ocpp,
        }),
        ts,
      ),
    );
    pushMeterValues(ctx, ts, fields, meterValues, ocpp, out);
  } else if (eventType === 'Updated') {
    if (transactionId !== null) memory.updateTransaction(transactionId, evseId, connectorId, idToken, timestamp);
    out.push(makeEvent<TransactionUpdatedPayload>(ctx, EventType.TransactionUpdated, withFields(fields, { ocpp }), ts));
    pushMeterValues(ctx, ts, fields, meterValues, ocpp, out);
  } else {
    pushMeterValues(ctx, ts, fields, meterValues, ocpp, out);
    out.push(
      makeEvent<TransactionStoppedPayload>(
        ctx,
        EventType.TransactionStopped,
        withFields(fields, {
          meterStop: importRegisterWh(meterValues, 'Transaction.End', true),
          reason: txInfo?.stoppedReason ?? 'Local',
          repeat: open === undefined && stoppedBefore !== undefined,
          ocpp,
        }),
        ts,
      ),
    );
  }
};

/**
 * An event type's own fields added to the shared ones, in that order, on the same object. A copy (`{ ...fields,
 * ...own }`) made V8 allocate about 0.7 KB per event, a third of all a TransactionEvent allocated; so `fields`
 * serves one payload only.
 */
function withFields<E extends object>(fields: TransactionFields, own: E): TransactionFields & E {
  return Object.assign(fields, own);
}

/** The `transaction.meter_values` event of a TransactionEvent's readings, when it has any. */
function pushMeterValues(ctx: EventContext, ts: string, fields: TransactionFields, meterValues: MeterValue[], ocpp: OcppExchange, out: GatewayEvent[]): void {
  if (meterValues.length === 0) return;
  out.push(
    makeEvent<TransactionMeterValuesPayload>(
      ctx,
      EventType.TransactionMeterValues,
      {
        transactionId: fields.transactionId,
        ocppTransactionId: fields.ocppTransactionId,
        evseId: fields.evseId,
        connectorId: fields.connectorId,
        meterValues,
        ocpp,
      },
      ts,
    ),
  );
}

/** Meter values outside transactions: the EVSE's (0 is the station's main meter), never a transaction's. */
const meterValues: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<TransactionMeterValuesPayload>(
      ctx,
      EventType.TransactionMeterValues,
      {
        transactionId: null,
        ocppTransactionId: null,
        evseId: req.evseId ?? null,
        connectorId: null,
        meterValues: meterValuesV201(req.meterValue),
        ocpp,
      },
      ts,
    ),
  );
};

/** As V16_MEMORY_ONLY: StatusNotification's update without its event (TransactionEvent works its memory out with its events). */
export const V201_MEMORY_ONLY: ReadonlyMap<string, MemoryMapper> = new Map([['StatusNotification', recordStatus]]);

/** Actions with events of their own; any other action yields `ocpp.<action>` carrying the exchange. */
export const V201_MAPPERS: ReadonlyMap<string, CallMapper> = new Map<string, CallMapper>([
  ['BootNotification', bootNotification],
  ['Heartbeat', heartbeat],
  ['StatusNotification', statusNotification],
  ['Authorize', authorize],
  ['TransactionEvent', transactionEvent],
  ['MeterValues', meterValues],
  ['DataTransfer', dataTransfer],
  ['FirmwareStatusNotification', firmwareStatus],
  ['LogStatusNotification', logStatus],
  ['SecurityEventNotification', securityEvent],
]);

const NAMED: Readonly<Record<string, readonly string[]>> = {
  Authorize: [EventType.AuthorizationRequested],
  BootNotification: [EventType.ChargePointBooted],
  DataTransfer: [EventType.DataTransferReceived],
  FirmwareStatusNotification: [EventType.FirmwareStatusChanged],
  Heartbeat: [EventType.ChargePointHeartbeat],
  LogStatusNotification: [EventType.LogStatusChanged],
  MeterValues: [EventType.TransactionMeterValues],
  SecurityEventNotification: [EventType.SecurityEvent],
  StatusNotification: [EventType.ConnectorStatusChanged],
  TransactionEvent: [EventType.TransactionStarted, EventType.TransactionUpdated, EventType.TransactionMeterValues, EventType.TransactionStopped],
};

/**
 * Every 2.0.1 charging station→CSMS action and the event types it can yield (TransactionEvent yields one of
 * started / updated / stopped, with meter values when it carries some). For documentation and for backends
 * that want to subscribe to a closed list.
 */
export const V201_EVENT_TYPES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  // Every action the catalogue says a station sends; those without a mapper above get an `ocpp.<action>` type.
  actionsOf('ocpp2.0.1', 'chargerToCentral').map((action) => [action, NAMED[action] ?? [ocppActionEventType(action)]]),
);
