import { isoNow } from '../observability/clock.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { ConnectorMemory } from './connector-memory.js';
import { newEventId } from './event-id.js';

/**
 * The one envelope every event leaves the gateway in. Field names and meaning are the old gateway's Kafka
 * contract, which backends already consume: add fields to payloads, never rename or retype these.
 */
export interface GatewayEvent<P = Record<string, unknown>> {
  /** Unique per event; consumers deduplicate redeliveries with it. */
  eventId: string;
  eventType: string;
  chargePointId: string;
  gatewayId: string;
  /** ISO-8601, when the gateway saw what the event reports (the charger's own clock is inside the payload). */
  timestamp: string;
  protocol: OcppVersion;
  payload: P;
}

/** The event types with a meaning of their own. Every other OCPP action yields `ocpp.<action_in_snake_case>`. */
export const EventType = {
  ChargePointConnected: 'charge_point.connected',
  ChargePointDisconnected: 'charge_point.disconnected',
  ChargePointBooted: 'charge_point.booted',
  ChargePointHeartbeat: 'charge_point.heartbeat',
  ConnectorStatusChanged: 'connector.status_changed',
  TransactionStarted: 'transaction.started',
  TransactionUpdated: 'transaction.updated',
  TransactionMeterValues: 'transaction.meter_values',
  TransactionStopped: 'transaction.stopped',
  AuthorizationRequested: 'authorization.requested',
  DataTransferReceived: 'data_transfer.received',
  FirmwareStatusChanged: 'firmware.status_changed',
  DiagnosticsStatusChanged: 'diagnostics.status_changed',
  LogStatusChanged: 'log.status_changed',
  SecurityEvent: 'security.event',
  CommandResponse: 'command.response',
} as const;

export type NamedEventType = (typeof EventType)[keyof typeof EventType];

/** Prefix of the per-action event types, e.g. `ocpp.notify_report`. */
export const OCPP_ACTION_EVENT_PREFIX = 'ocpp.';

/** Who an event is about and where it was seen: everything the envelope needs besides type and payload. */
export interface EventSource {
  chargePointId: string;
  gatewayId: string;
  protocol: OcppVersion;
  /** When the gateway saw it; defaults to the current time. Tests and replays pin it. */
  now?: Date;
}

/** What mapping one charger's CALL needs: the envelope's source and that charger's memory. */
export interface EventContext extends EventSource {
  memory: ConnectorMemory;
}

/**
 * The OCPP exchange an event came from, kept beside the normalised fields so that nothing the charger sent
 * is lost (vendor fields, fields of future schema versions). References the parsed frame: never cloned,
 * so consumers inside the process must treat it as read-only.
 */
export type OcppExchange = {
  action: string;
  request: Record<string, unknown>;
  response: Record<string, unknown>;
};

/**
 * Maps one answered charger CALL of a version to events, appending them to `out` in the order consumers
 * must see them. `request` and `response` are `ocpp.request` / `ocpp.response`, typed loosely because a
 * vendor with validation switched off can send anything.
 */
export type CallMapper = (ctx: EventContext, timestamp: string, request: any, response: any, ocpp: OcppExchange, out: GatewayEvent[]) => void;

/**
 * What a CALL changes in the charger's memory and nothing else, for when its events would reach nobody; the CALL's
 * CallMapper runs the same update before it builds its events, so both leave the memory alike.
 */
export type MemoryMapper = (ctx: EventContext, timestamp: string, request: MappedPayload) => unknown;

/** A CALL's payload as the mappers read it: checked against its schema (or repaired by a compatibility profile) first. */
export type MappedPayload = Record<string, any>;

export function eventTimestamp(source: EventSource): string {
  return source.now !== undefined ? source.now.toISOString() : isoNow();
}

/**
 * Builds an envelope. `timestamp` lets one CALL's several events share one instant without reading the
 * clock for each.
 */
export function makeEvent<P>(source: EventSource, eventType: string, payload: P, timestamp: string = eventTimestamp(source)): GatewayEvent<P> {
  // Same property order for every event keeps one hidden class on the hot path.
  return {
    eventId: newEventId(),
    eventType,
    chargePointId: source.chargePointId,
    gatewayId: source.gatewayId,
    timestamp,
    protocol: source.protocol,
    payload,
  };
}

// Action names come from the charger, so the set of names is open: cache only up to a bound.
const SNAKE_CACHE_LIMIT = 256;
const snakeCache = new Map<string, string>();

/**
 * `NotifyReport` → `ocpp.notify_report`, `NotifyEVChargingNeeds` → `ocpp.notify_ev_charging_needs`,
 * `Get15118EVCertificate` → `ocpp.get_15118_ev_certificate`. Anything but letters and digits becomes `_`,
 * so a hostile action name cannot forge a dotted subject on the bus.
 */
export function ocppActionEventType(action: string): string {
  const cached = snakeCache.get(action);
  if (cached !== undefined) return cached;
  const snake = String(action)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([A-Za-z])([0-9])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
  const eventType = OCPP_ACTION_EVENT_PREFIX + (snake === '' ? 'unknown' : snake);
  if (snakeCache.size < SNAKE_CACHE_LIMIT) snakeCache.set(action, eventType);
  return eventType;
}
