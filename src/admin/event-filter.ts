import type { GatewayEvent } from '../events/envelope.js';

export interface EventFilterSpec {
  /** Exact charger identities; any charger when empty. */
  chargePointIds?: readonly string[];
  /** Event types; one ending in "." is a prefix (`transaction.` matches every transaction event). Any when empty. */
  eventTypes?: readonly string[];
}

export type EventFilter = (event: GatewayEvent) => boolean;

/** Builds the predicate once per stream so each event costs a set lookup, not a scan of the query. */
export function eventFilter(spec: EventFilterSpec): EventFilter {
  const ids = spec.chargePointIds !== undefined && spec.chargePointIds.length > 0 ? new Set(spec.chargePointIds) : undefined;
  const types = spec.eventTypes ?? [];
  const exact = new Set(types.filter((t) => !t.endsWith('.')));
  const prefixes = types.filter((t) => t.endsWith('.'));
  const anyType = types.length === 0;
  return (event) => {
    if (ids !== undefined && !ids.has(event.chargePointId)) return false;
    if (anyType || exact.has(event.eventType)) return true;
    for (const prefix of prefixes) if (event.eventType.startsWith(prefix)) return true;
    return false;
  };
}

/** Whether a bus message is an event envelope at all (anyone may publish on the events subjects). */
export function isGatewayEvent(data: unknown): data is GatewayEvent {
  if (typeof data !== 'object' || data === null) return false;
  const e = data as Record<string, unknown>;
  return typeof e.eventId === 'string' && typeof e.eventType === 'string' && typeof e.chargePointId === 'string';
}
