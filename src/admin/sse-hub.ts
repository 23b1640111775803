import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type Bus, SUBJECTS } from '../bus/types.js';
import type { GatewayEvent } from '../events/envelope.js';
import type { AdminMetrics } from './admin-metrics.js';
import { type EventFilterSpec, eventFilter, isGatewayEvent } from './event-filter.js';
import { SseStream, sseFrame } from './sse-stream.js';

export interface SseHubOptions {
  bus: Bus;
  metrics: AdminMetrics;
  log: Logger;
  bufferEvents: number;
  /** Bytes of events buffered per slow client before its stream is ended with `overflow`. */
  bufferBytes: number;
  heartbeatMs: number;
  lingerMs: number;
}

/**
 * Every open event stream of one admin server: one heartbeat timer for all of them, one JSON encoding per
 * event however many streams carry it, and the list that shutdown ends.
 */
export class SseHub {
  private readonly streams = new Set<SseStream>();
  /** Streams whose socket is still there, ended ones included until their client takes the end. */
  private readonly sockets = new Set<SseStream>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  // The embedded bus hands one event to every subscriber in turn: remembering the last encoding makes the
  // second and later streams free.
  private lastEvent: GatewayEvent | undefined;
  private lastFrame = '';
  private lastFrameBytes = 0;

  constructor(private readonly options: SseHubOptions) {}

  private ending = false;

  get size(): number {
    return this.streams.size;
  }

  /** True once the streams were ended for shutdown: new ones would only be cut off again. */
  get isEnding(): boolean {
    return this.ending;
  }

  /** Starts streaming the events that pass `spec` to `res`, until the client leaves or the hub ends it. */
  open(res: ServerResponse, spec: EventFilterSpec, peer: string): void {
    // The client may have gone while the request went through its hooks: then there is nothing to stream to.
    if (res.destroyed) return;
    const { bus, metrics, log } = this.options;
    const matches = eventFilter(spec);
    const openedAt = Date.now();
    const stream: SseStream = new SseStream(res, {
      bufferEvents: this.options.bufferEvents,
      bufferBytes: this.options.bufferBytes,
      lingerMs: this.options.lingerMs,
      ended: (s, reason) => {
        subscription.unsubscribe();
        this.streams.delete(s);
        metrics.sseStreams.dec();
        if (reason === 'overflow') {
          metrics.sseOverflowCloses.inc();
          log.warn({ peer, bufferEvents: this.options.bufferEvents, bufferBytes: this.options.bufferBytes }, 'event stream ended: the client did not keep up');
        } else {
          log.debug({ peer, reason, ms: Date.now() - openedAt }, 'event stream ended');
        }
        this.stopHeartbeatWhenIdle();
      },
    });
    this.streams.add(stream);
    this.sockets.add(stream);
    res.once('close', () => this.sockets.delete(stream));
    metrics.sseStreams.inc();
    stream.start();
    const subscription = bus.subscribe(SUBJECTS.allEvents, (message) => {
      const event = message.data;
      if (!isGatewayEvent(event) || !matches(event)) return;
      const frame = this.frameOf(event);
      stream.send(event.eventId, frame, this.lastFrameBytes);
    });
    this.startHeartbeat();
    log.debug({ peer, filter: spec }, 'event stream opened');
  }

  /** Ends every stream cleanly (queued events first, then a final `end` event). */
  endAll(): void {
    this.ending = true;
    for (const stream of [...this.streams]) stream.end();
  }

  /** Drops the sockets of streams whose clients did not take their end; for the last step of closing. */
  destroyAll(): void {
    for (const stream of [...this.sockets]) stream.destroy();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Resolves once every stream's socket has closed, or after `ms`. */
  async whenReleased(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.sockets.size > 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  private frameOf(event: GatewayEvent): string {
    if (event !== this.lastEvent) {
      this.lastFrame = sseFrame(event.eventId, event.eventType, event);
      this.lastFrameBytes = Buffer.byteLength(this.lastFrame);
      this.lastEvent = event;
    }
    return this.lastFrame;
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) return;
    this.heartbeatTimer = setInterval(() => {
      for (const stream of this.streams) stream.heartbeat();
    }, this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeatWhenIdle(): void {
    if (this.streams.size > 0) return;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    // Do not keep the last event alive once nobody streams.
    this.lastEvent = undefined;
    this.lastFrame = '';
    this.lastFrameBytes = 0;
  }
}
