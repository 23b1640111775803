import { type CallMapper, EventType, makeEvent, ocppActionEventType } from './envelope.js';
import type {
  ChargePointHeartbeatPayload,
  DataTransferReceivedPayload,
  FirmwareStatusChangedPayload,
  LogStatusChangedPayload,
  OcppActionPayload,
  SecurityEventPayload,
} from './payloads.js';

/*
 * Mappers for the CALLs whose fields have the same names and meaning in OCPP 1.6 (with the security
 * extension) and 2.0.1, so one mapping serves both versions.
 */

/** Any action without an event of its own: `ocpp.<action>` carrying the exchange. */
export const ocppActionEvent: CallMapper = (ctx, ts, _req, _res, ocpp, out) => {
  out.push(makeEvent<OcppActionPayload>(ctx, ocppActionEventType(ocpp.action), { ocpp }, ts));
};

export const heartbeat: CallMapper = (ctx, ts, _req, res, ocpp, out) => {
  out.push(
    makeEvent<ChargePointHeartbeatPayload>(
      ctx,
      EventType.ChargePointHeartbeat,
      {
        currentTime: res.currentTime ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

export const dataTransfer: CallMapper = (ctx, ts, req, res, ocpp, out) => {
  out.push(
    makeEvent<DataTransferReceivedPayload>(
      ctx,
      EventType.DataTransferReceived,
      {
        vendorId: req.vendorId ?? null,
        messageId: req.messageId ?? null,
        data: req.data ?? null,
        status: res.status ?? null,
        responseData: res.data ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

/** 1.6 FirmwareStatusNotification has no requestId (it comes out null); the signed one and 2.0.1 have it. */
export const firmwareStatus: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<FirmwareStatusChangedPayload>(
      ctx,
      EventType.FirmwareStatusChanged,
      {
        status: req.status ?? null,
        requestId: req.requestId ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

export const logStatus: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<LogStatusChangedPayload>(
      ctx,
      EventType.LogStatusChanged,
      {
        status: req.status ?? null,
        requestId: req.requestId ?? null,
        ocpp,
      },
      ts,
    ),
  );
};

export const securityEvent: CallMapper = (ctx, ts, req, _res, ocpp, out) => {
  out.push(
    makeEvent<SecurityEventPayload>(
      ctx,
      EventType.SecurityEvent,
      {
        type: req.type ?? null,
        timestamp: req.timestamp ?? null,
        techInfo: req.techInfo ?? null,
        ocpp,
      },
      ts,
    ),
  );
};
