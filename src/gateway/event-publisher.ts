import type { Bus } from '../bus/types.js';
import { SUBJECTS } from '../bus/types.js';
import type { GatewayEvent } from '../events/index.js';
import type { HistogramCell } from '../observability/hot-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';

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
  private readonly durationCells = new Map<string, HistogramCell>();

  constructor(
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    /** Failures are per message: one line per event family and interval, the rest counted. */
    private readonly warnings: RateLimitedLog,
  ) {}

  private publishOne(event: GatewayEvent): Promise<void> | undefined {
    const startedAt = performance.now();
    const fam = family(event.eventType);
    let pending: Promise<void> | undefined;
    try {
      pending = this.bus.publish(SUBJECTS.event(event.eventType), event);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (pending === undefined) {
      this.observe(fam, startedAt);
      return undefined;
    }
    return pending.then(
      () => this.observe(fam, startedAt),
      (err: unknown) => {
        this.metrics.eventPublishFailures.labels(fam).inc();
        throw err;
      },
    );
  }

  private observe(fam: string, startedAt: number): void {
    let cell = this.durationCells.get(fam);
    if (cell === undefined) this.durationCells.set(fam, (cell = this.metrics.eventPublishDuration.cell(fam)));
    this.metrics.eventPublishDuration.observe(cell, (performance.now() - startedAt) / 1000);
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
