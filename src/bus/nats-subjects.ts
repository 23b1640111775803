import { encodeSubjectToken } from './subject-token.js';

/** An event type is two tokens, `family.name` (e.g. `transaction.started`, `ocpp.notify_report`). */
const EVENT_TYPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A subject root is one or more plain tokens (`gateway`, `site-a.gateway`). */
const ROOT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export class InvalidEventTypeError extends Error {
  override name = 'InvalidEventTypeError';
  constructor(eventType: string) {
    super(`event type ${JSON.stringify(eventType.slice(0, 200))} is not two tokens of [A-Za-z0-9_-] joined by a dot`);
  }
}

export function isEventType(eventType: string): boolean {
  return EVENT_TYPE.test(eventType);
}

/**
 * The subjects of cluster mode under one root (default `gateway`). Events carry the charger as their last token,
 * so `{root}.events.*.*.{token}` selects one charger and `{root}.events.transaction.*.>` one family.
 */
export function natsSubjects(root = 'gateway') {
  if (!ROOT.test(root)) throw new Error(`subject root ${JSON.stringify(root)} must be dot-separated tokens of [A-Za-z0-9_-]`);
  const eventsPrefix = `${root}.events.`;
  return {
    root,
    eventsPrefix,
    /** What the stream captures. */
    allEvents: `${root}.events.>`,
    /** `{root}.events.{eventType}.{charger token}`. */
    chargerEvent(eventType: string, chargePointId: string): string {
      if (!EVENT_TYPE.test(eventType)) throw new InvalidEventTypeError(eventType);
      return `${eventsPrefix}${eventType}.${encodeSubjectToken(chargePointId)}`;
    },
    /** Every event of one charger. */
    eventsOfCharger(chargePointId: string): string {
      return `${eventsPrefix}*.*.${encodeSubjectToken(chargePointId)}`;
    },
    backendRequest: (action: string) => `${root}.requests.${action}`,
    commands: `${root}.commands`,
  };
}

export type NatsSubjects = ReturnType<typeof natsSubjects>;
