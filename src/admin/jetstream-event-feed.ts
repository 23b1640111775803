import type { NatsBus } from '../bus/nats-bus.js';
import { isEventType, type NatsSubjects } from '../bus/nats-subjects.js';
import { encodeSubjectToken } from '../bus/subject-token.js';
import type { Subscription } from '../bus/types.js';
import type { GatewayEvent } from '../events/envelope.js';
import type { EventFeed, EventSink } from './event-feed.js';
import { type EventFilterSpec, eventFilter, isGatewayEvent } from './event-filter.js';
import { sseFrame } from './sse-stream.js';

/** What of the NATS bus the feed reads through. */
export type EventStreamReader = Pick<NatsBus, 'replayEvents' | 'subjects' | 'isReady'>;

const DECIMAL = /^\d{1,16}$/;

/**
 * The whole cluster's events, read from the JetStream events stream. Each event's SSE id is its stream
 * sequence, so a client that reconnects with `Last-Event-ID: n` is sent exactly the events after `n`, in
 * stream order; without the header it gets the events stored from then on. Every stream has its own ordered
 * consumer, which follows the stream until the client leaves or is ended (the consumer then stops).
 */
export class JetStreamEventFeed implements EventFeed {
  constructor(private readonly bus: EventStreamReader) {}

  checkLastEventId(value: string): string | undefined {
    const trimmed = value.trim();
    if (DECIMAL.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return undefined;
    return 'Last-Event-ID must be the decimal stream sequence of an event this API sent (its `id:` line)';
  }

  isReady(): boolean {
    return this.bus.isReady();
  }

  open(spec: EventFilterSpec, lastEventId: string | undefined, sink: EventSink): Promise<Subscription> {
    const matches = eventFilter(spec);
    const from = lastEventId === undefined ? 'new' : Number(lastEventId.trim()) + 1;
    return this.bus.replayEvents<GatewayEvent>(
      from,
      (message) => {
        const event = message.data;
        // The subject filter narrows what the server sends; this decides exactly (several chargers, prefixes).
        if (!isGatewayEvent(event) || !matches(event)) return;
        const id = String(message.seq);
        const frame = sseFrame(id, event.eventType, event);
        sink(id, frame, Buffer.byteLength(frame));
      },
      { filterSubject: subjectFilter(this.bus.subjects, spec) },
    );
  }
}

/**
 * The one subject filter that selects a superset of what `spec` lets through: NATS 2.9 consumers take a single
 * filter, so only one charger and/or one event type (or one family, `transaction.`) narrow it on the server.
 */
export function subjectFilter(subjects: NatsSubjects, spec: EventFilterSpec): string {
  const ids = [...new Set(spec.chargePointIds ?? [])];
  const types = [...new Set(spec.eventTypes ?? [])];
  const charger = ids.length === 1 ? encodeSubjectToken(ids[0]) : '*';
  let type = '*.*';
  if (types.length === 1) {
    const only = types[0];
    if (isEventType(only)) type = only;
    else if (/^[A-Za-z0-9_-]+\.$/.test(only)) type = `${only}*`;
  }
  if (charger === '*' && type === '*.*') return subjects.allEvents;
  return `${subjects.eventsPrefix}${type}.${charger}`;
}
