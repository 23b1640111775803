import { type Bus, SUBJECTS, type Subscription } from '../bus/types.js';
import type { GatewayEvent } from '../events/envelope.js';
import { type EventFilterSpec, eventFilter, isGatewayEvent } from './event-filter.js';
import { sseFrame } from './sse-stream.js';

/** Takes one event frame for one stream: its SSE id, the whole frame, and the frame's UTF-8 size. */
export type EventSink = (id: string, frame: string, bytes: number) => void;

/**
 * Where the event stream of `GET /api/v1/events` reads from. The embedded feed carries this instance's live
 * events; the JetStream feed (jetstream-event-feed.ts) the whole cluster's, resumable by `Last-Event-ID`.
 */
export interface EventFeed {
  /**
   * Why a `Last-Event-ID` header cannot be resumed from (for a 400), or undefined when it can be, or when the
   * feed ignores it.
   */
  checkLastEventId(value: string): string | undefined;
  /** Whether a new stream can be served now (a 503 otherwise). */
  isReady(): boolean;
  /**
   * Starts handing the events that pass `spec` to `sink`, after `lastEventId` when the feed can resume, until
   * the subscription is ended. Rejects when the feed cannot start.
   */
  open(spec: EventFilterSpec, lastEventId: string | undefined, sink: EventSink): Subscription | Promise<Subscription>;
}

/**
 * Live events of this instance from its in-process bus, each with its eventId as SSE id. There is no history,
 * so `Last-Event-ID` is ignored: a client that reconnects gets what happens from then on.
 */
export class EmbeddedEventFeed implements EventFeed {
  // The embedded bus hands one event to every subscriber in turn: remembering the last encoding makes the
  // second and later streams free.
  private lastEvent: GatewayEvent | undefined;
  private lastFrame = '';
  private lastFrameBytes = 0;
  private open_ = 0;

  constructor(private readonly bus: Pick<Bus, 'subscribe'>) {}

  checkLastEventId(): undefined {
    return undefined;
  }

  isReady(): boolean {
    return true;
  }

  open(spec: EventFilterSpec, _lastEventId: string | undefined, sink: EventSink): Subscription {
    const matches = eventFilter(spec);
    const subscription = this.bus.subscribe(SUBJECTS.allEvents, (message) => {
      const event = message.data;
      if (!isGatewayEvent(event) || !matches(event)) return;
      const frame = this.frameOf(event);
      sink(event.eventId, frame, this.lastFrameBytes);
    });
    this.open_++;
    let ended = false;
    return {
      unsubscribe: () => {
        if (ended) return;
        ended = true;
        subscription.unsubscribe();
        // Do not keep the last event alive once nobody streams.
        if (--this.open_ === 0) this.forget();
      },
    };
  }

  private frameOf(event: GatewayEvent): string {
    if (event !== this.lastEvent) {
      this.lastFrame = sseFrame(event.eventId, event.eventType, event);
      this.lastFrameBytes = Buffer.byteLength(this.lastFrame);
      this.lastEvent = event;
    }
    return this.lastFrame;
  }

  private forget(): void {
    this.lastEvent = undefined;
    this.lastFrame = '';
    this.lastFrameBytes = 0;
  }
}
