import type { Logger } from 'pino';
import type { Bus } from '../bus/types.js';
import { SUBJECTS } from '../bus/types.js';
import type { GatewayEvent } from '../events/index.js';
import type { Metrics } from '../observability/metrics.js';

/** `transaction.started` → `transaction`: metric labels by family stay few whatever the event types. */
function family(eventType: string): string {
  const dot = eventType.indexOf('.');
  return dot === -1 ? eventType : eventType.slice(0, dot);
}

/**
 * Puts events on the bus, in the order given (the bus keeps the order of publishes issued in sequence), and
 * measures how long the acknowledgement took. `publishDurably` is for events a charger's answer depends on;
 * `publishDetached` for the rest, whose failures are counted and logged, never silent.
 */
export class EventPublisher {
  constructor(
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  private publishOne(event: GatewayEvent): Promise<void> {
    const startedAt = performance.now();
    const fam = family(event.eventType);
    return this.bus.publish(SUBJECTS.event(event.eventType), event).then(
      () => {
        this.metrics.eventPublishDuration.labels(fam).observe((performance.now() - startedAt) / 1000);
      },
      (err: unknown) => {
        this.metrics.eventPublishFailures.labels(fam).inc();
        throw err;
      },
    );
  }

  /** Resolves when the bus holds every event; rejects if it does not hold one of them. */
  publishDurably(events: readonly GatewayEvent[]): Promise<void> {
    if (events.length === 1) return this.publishOne(events[0]);
    return Promise.all(events.map((event) => this.publishOne(event))).then(() => undefined);
  }

  publishDetached(events: readonly GatewayEvent[]): void {
    for (const event of events) {
      this.publishOne(event).catch((err: unknown) => {
        this.log.error({ err, eventType: event.eventType, chargePointId: event.chargePointId }, 'event not published');
      });
    }
  }
}
