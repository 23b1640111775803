import type { Bus } from '../bus/types.js';
import { SUBJECTS } from '../bus/types.js';
import type { GatewayEvent } from '../events/index.js';
import type { CounterCell, HistogramCell } from '../observability/hot-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';

/** `transaction.started` → `transaction`: metric labels by family stay few whatever the event types. */
function family(eventType: string): string {
  const dot = eventType.indexOf('.');
  return dot === -1 ? eventType : eventType.slice(0, dot);
}

/** What an event type needs on every publish, worked out once per type. */
export interface EventTypeRoute {
  subject: string;
  family: string;
  duration: HistogramCell;
  unheard: CounterCell;
}

/** Some event types' routes, in order (`EventPublisher.routesOf`). */
export type EventRoutes = readonly EventTypeRoute[];

/**
 * Puts events on the bus, in the order given (the bus keeps the order of publishes issued in sequence), and
 * measures how long the acknowledgement took. `publishDurably` is for events a charger's answer depends on;
 * `publishDetached` for the rest, whose failures are counted and logged, never silent.
 */
export class EventPublisher {
  /** Per event type (a bounded set: the catalogue's actions and the named types). */
  private readonly routes = new Map<string, EventTypeRoute>();

  constructor(
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    /** Failures are per message: one line per event family and interval, the rest counted. */
    private readonly warnings: RateLimitedLog,
  ) {}

  private routeOf(eventType: string): EventTypeRoute {
    let route = this.routes.get(eventType);
    if (route === undefined) {
      const fam = family(eventType);
      route = {
        subject: SUBJECTS.event(eventType),
        family: fam,
        duration: this.metrics.eventPublishDuration.cell(fam),
        unheard: this.metrics.eventsUnheard.cell(fam),
      };
      this.routes.set(eventType, route);
    }
    return route;
  }

  /** The routes of these event types, found once, for a caller that asks `countIfRoutesUnheard` for every CALL or connection. */
  routesOf(eventTypes: readonly string[]): EventRoutes {
    return eventTypes.map((eventType) => this.routeOf(eventType));
  }

  /**
   * Counts events of these types (their routes, from `routesOf`) as unheard and returns true when none of them would
   * reach anyone now: then the caller does not build them. Only the embedded bus can say so (nothing subscribed to
   * their subjects); a bus that keeps events (JetStream) hears them all, and this returns false.
   */
  countIfRoutesUnheard(routes: EventRoutes): boolean {
    const { bus } = this;
    if (bus.hasListeners === undefined) return false;
    for (const route of routes) if (bus.hasListeners(route.subject)) return false;
    for (const route of routes) route.unheard.value++;
    return true;
  }

  private publishOne(event: GatewayEvent): Promise<void> | undefined {
    const startedAt = performance.now();
    const route = this.routeOf(event.eventType);
    let pending: Promise<void> | undefined;
    try {
      pending = this.bus.publish(route.subject, event);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (pending === undefined) {
      this.observe(route, startedAt);
      return undefined;
    }
    return pending.then(
      () => this.observe(route, startedAt),
      (err: unknown) => {
        this.metrics.eventPublishFailures.labels(route.family).inc();
        throw err;
      },
    );
  }

  private observe(route: EventTypeRoute, startedAt: number): void {
    this.metrics.eventPublishDuration.observe(route.duration, (performance.now() - startedAt) / 1000);
  }

  /**
   * Resolves when the bus holds every event; rejects if it does not hold one of them. undefined when the bus
   * held them all on return (the in-process bus), so the caller can answer at once.
   */
  publishDurably(events: readonly GatewayEvent[]): Promise<void> | undefined {
    let pending: Promise<void>[] | undefined;
    for (const event of events) {
      const p = this.publishOne(event);
      if (p !== undefined) (pending ??= []).push(p);
    }
    if (pending === undefined) return undefined;
    return Promise.all(pending).then(() => undefined);
  }

  publishDetached(events: readonly GatewayEvent[]): void {
    for (const event of events) {
      this.publishOne(event)?.catch((err: unknown) => {
        this.warnings.write(
          'error',
          `unpublished:${family(event.eventType)}`,
          { err, eventType: event.eventType, chargePointId: event.chargePointId },
          'event not published',
        );
      });
    }
  }
}
