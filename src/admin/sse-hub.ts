import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Subscription } from '../bus/types.js';
import type { AdminMetrics } from './admin-metrics.js';
import { errorBody } from './api-errors.js';
import type { EventFeed } from './event-feed.js';
import type { EventFilterSpec } from './event-filter.js';
import { SseStream } from './sse-stream.js';

export interface SseHubOptions {
  /** Where the events come from: this instance's bus, or the cluster's stream. */
  feed: EventFeed;
  metrics: AdminMetrics;
  log: Logger;
  bufferEvents: number;
  /** Bytes of events buffered per slow client before its stream is ended with `overflow`. */
  bufferBytes: number;
  heartbeatMs: number;
  lingerMs: number;
}

/**
 * Every open event stream of one admin server: one heartbeat timer for all of them, and the list that
 * shutdown ends. The feed decides what each stream carries.
 */
export class SseHub {
  private readonly streams = new Set<SseStream>();
  /** Streams whose socket is still there, ended ones included until their client takes the end. */
  private readonly sockets = new Set<SseStream>();
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SseHubOptions) {}

  private ending = false;

  get size(): number {
    return this.streams.size;
  }

  /** True once the streams were ended for shutdown: new ones would only be cut off again. */
  get isEnding(): boolean {
    return this.ending;
  }

  /**
   * Starts streaming the events that pass `spec` to `res` (after `lastEventId` when the feed resumes), until
   * the client leaves or the hub ends it. When the feed fails to start the client gets a 503 instead of a stream.
   */
  async open(res: ServerResponse, spec: EventFilterSpec, lastEventId: string | undefined, peer: string): Promise<void> {
    // The client may have gone while the request went through its hooks: then there is nothing to stream to.
    if (res.destroyed) return;
    const { feed, metrics, log } = this.options;
    const openedAt = Date.now();
    let subscription: Subscription | undefined;
    const stream: SseStream = new SseStream(res, {
      bufferEvents: this.options.bufferEvents,
      bufferBytes: this.options.bufferBytes,
      lingerMs: this.options.lingerMs,
      ended: (s, reason) => {
        subscription?.unsubscribe();
        this.streams.delete(s);
        metrics.sseStreams.dec();
        if (reason === 'overflow') {
          metrics.sseOverflowCloses.inc();
          log.warn({ peer, bufferEvents: this.options.bufferEvents, bufferBytes: this.options.bufferBytes }, 'event stream ended: the client did not keep up');
        } else if (reason === 'unavailable') {
          log.debug({ peer }, 'event stream refused: the event feed could not start');
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
    this.startHeartbeat();
    let opened: Subscription;
    try {
      // Events that come before the stream starts wait in its bounded queue: the client's 200 then means the
      // feed is reading, so everything stored after the response began reaches it.
      opened = await feed.open(spec, lastEventId, (id, frame, bytes) => stream.send(id, frame, bytes));
    } catch (err) {
      log.warn({ err, peer }, 'event feed failed to start');
      stream.refuse(503, errorBody('UNAVAILABLE', 'the events stream cannot be read now; retry later'));
      return;
    }
    // The stream may have ended while the feed was starting (client gone, shutdown): nobody would stop the feed then.
    if (!stream.isOpen) {
      opened.unsubscribe();
      return;
    }
    subscription = opened;
    stream.start();
    log.debug({ peer, filter: spec, lastEventId }, 'event stream opened');
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
  }
}
