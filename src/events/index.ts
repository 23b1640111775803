import type { OcppVersion } from '../ocpp/versions.js';
import { ocppActionEvent } from './common-mappers.js';
import {
  type EventContext,
  type EventSource,
  EventType,
  eventTimestamp,
  type GatewayEvent,
  type MappedPayload,
  makeEvent,
  type OcppExchange,
  ocppActionEventType,
} from './envelope.js';
import type { ChargePointConnectedPayload, ChargePointDisconnectedPayload, CommandResponsePayload } from './payloads.js';
import { V16_EVENT_TYPES, V16_MAPPERS, V16_MEMORY_ONLY } from './v16.js';
import { V201_EVENT_TYPES, V201_MAPPERS, V201_MEMORY_ONLY } from './v201.js';

/*
 * The events layer's entry point: what the gateway calls to turn a charger's traffic and lifecycle into
 * events. Everything here is synchronous and does no I/O; publishing is the caller's job.
 */

export {
  ConnectorMemory,
  type ConnectorMemorySnapshot,
  type ConnectorStatusEntry,
  connectorKey,
  DEFAULT_MEMORY_LIMIT,
  type OpenTransaction,
  STOPPED_LIMIT,
  type StoppedTransaction,
} from './connector-memory.js';
export {
  type EventContext,
  type EventSource,
  EventType,
  type GatewayEvent,
  makeEvent,
  type NamedEventType,
  OCPP_ACTION_EVENT_PREFIX,
  type OcppExchange,
  ocppActionEventType,
} from './envelope.js';
export type * from './payloads.js';
export { V16_ID_TAG_TYPE } from './payloads.js';
export { V16_EVENT_TYPES } from './v16.js';
export { V201_EVENT_TYPES } from './v201.js';

const NO_FIELDS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * Events for one charger→central CALL that the gateway answered with `response`, in the order they must be
 * published. Pure apart from updating `ctx.memory`. The payloads reference `request` and `response` (no
 * copies), so neither may be changed afterwards.
 */
export function eventsForCall(ctx: EventContext, action: string, request: Record<string, any>, response: Record<string, any>): GatewayEvent[] {
  const timestamp = eventTimestamp(ctx);
  const req = request ?? NO_FIELDS;
  const res = response ?? NO_FIELDS;
  const ocpp: OcppExchange = { action, request: req, response: res };
  const out: GatewayEvent[] = [];
  const mapper = (ctx.protocol === 'ocpp1.6' ? V16_MAPPERS : V201_MAPPERS).get(action);
  (mapper ?? ocppActionEvent)(ctx, timestamp, req, res, ocpp, out);
  return out;
}

/**
 * The actions whose mapping also updates what the gateway remembers of the charger (connector statuses, open and
 * stopped transactions): `eventsForCall` must run for them whether or not anyone wants their events. Mapping any
 * other action only builds events.
 */
const MEMORY_ACTIONS: Readonly<Record<OcppVersion, ReadonlySet<string>>> = {
  'ocpp1.6': new Set(['StatusNotification', 'StartTransaction', 'StopTransaction']),
  'ocpp2.0.1': new Set(['StatusNotification', 'TransactionEvent']),
};

/** Whether mapping this CALL updates the charger's memory (and so must happen even when nobody wants its events). */
export function callUpdatesMemory(version: OcppVersion, action: string): boolean {
  return MEMORY_ACTIONS[version].has(action);
}

/** Whether this memory-updating action can update the memory without building its events (`recordInMemoryOnly`). */
export function callHasMemoryOnlyPath(version: OcppVersion, action: string): boolean {
  return (version === 'ocpp1.6' ? V16_MEMORY_ONLY : V201_MEMORY_ONLY).has(action);
}

/**
 * For a CALL whose events nobody would receive: what `eventsForCall` would change in the charger's memory, without
 * building the events. Only for actions `callHasMemoryOnlyPath` names; any other changes nothing.
 */
export function recordInMemoryOnly(ctx: EventContext, action: string, request: MappedPayload): void {
  (ctx.protocol === 'ocpp1.6' ? V16_MEMORY_ONLY : V201_MEMORY_ONLY).get(action)?.(ctx, eventTimestamp(ctx), request ?? NO_FIELDS);
}

/** The event types a charger CALL of this action can yield (`ocpp.<action>` for one without events of its own). */
export function callEventTypes(version: OcppVersion, action: string): readonly string[] {
  const table = version === 'ocpp1.6' ? V16_EVENT_TYPES : V201_EVENT_TYPES;
  return Object.hasOwn(table, action) ? table[action] : [ocppActionEventType(action)];
}

export interface ConnectedInfo {
  remoteAddress?: string;
  /** The identity as the charger presented it, when the gateway's `chargePointId` differs from it. */
  identity?: string;
  securityProfile?: number;
  /** The connection's epoch: grows with every connection of a charger, also across restarts. */
  epoch?: number;
}

/** `charge_point.connected`: the charger's session is established and owned by this gateway. */
export function connectedEvent(ctx: EventSource, info: ConnectedInfo = {}): GatewayEvent<ChargePointConnectedPayload> {
  return makeEvent<ChargePointConnectedPayload>(ctx, EventType.ChargePointConnected, {
    remoteAddress: info.remoteAddress ?? null,
    identity: info.identity ?? ctx.chargePointId,
    securityProfile: info.securityProfile ?? null,
    epoch: info.epoch ?? null,
  });
}

export interface DisconnectedInfo {
  code: number;
  reason: string;
  initiator?: string;
  /** The epoch of the connection that ended. */
  epoch?: number;
}

/** `charge_point.disconnected`, with the WebSocket close code and reason. */
export function disconnectedEvent(ctx: EventSource, info: DisconnectedInfo): GatewayEvent<ChargePointDisconnectedPayload> {
  return makeEvent<ChargePointDisconnectedPayload>(ctx, EventType.ChargePointDisconnected, {
    code: info.code,
    reason: info.reason,
    initiator: info.initiator ?? null,
    epoch: info.epoch ?? null,
  });
}

export interface CommandResult {
  commandId: string;
  action: string;
  status: 'completed' | 'rejected';
  request: unknown;
  response?: unknown;
  error?: { code: string; message: string; ocppErrorCode?: string };
  durationMs: number;
  traceId?: string;
}

/** `command.response`: how a backend command to the charger ended, whoever is waiting for it. */
export function commandResponseEvent(ctx: EventSource, result: CommandResult): GatewayEvent<CommandResponsePayload> {
  return makeEvent<CommandResponsePayload>(ctx, EventType.CommandResponse, {
    commandId: result.commandId,
    action: result.action,
    status: result.status,
    request: result.request,
    response: result.response ?? null,
    error: result.error ?? null,
    durationMs: result.durationMs,
    traceId: result.traceId ?? null,
  });
}
