import type { Subscription } from '../bus/types.js';
import type { DashboardSource } from './dashboard-source.js';
import type { DashboardSnapshot } from './dashboard-stats.js';
import type { EventFeed, EventSink } from './event-feed.js';
import { sseFrame } from './sse-stream.js';

/**
 * The dashboard's statistics as an event feed, so `GET /api/v1/dashboard/stream` is served by an SseHub like
 * the event stream (heartbeats, bounded buffers, ending at shutdown): an event `stats` at once, then one every
 * sampling interval. Every stream of one interval gets the same frame, encoded once.
 */
export class DashboardFeed implements EventFeed {
  private sequence = 0;
  private lastSnapshot: DashboardSnapshot | undefined;
  private lastFrame = '';
  private lastBytes = 0;
  private lastId = '';

  constructor(private readonly source: DashboardSource) {}

  checkLastEventId(): undefined {
    return undefined;
  }

  isReady(): boolean {
    return true;
  }

  async open(_spec: unknown, _lastEventId: string | undefined, sink: EventSink): Promise<Subscription> {
    this.send(sink, await this.source.snapshot(false));
    const stop = this.source.subscribe((snapshot) => this.send(sink, snapshot));
    return { unsubscribe: stop };
  }

  private send(sink: EventSink, snapshot: DashboardSnapshot): void {
    if (snapshot !== this.lastSnapshot) {
      this.lastSnapshot = snapshot;
      this.lastId = String(++this.sequence);
      this.lastFrame = sseFrame(this.lastId, 'stats', snapshot);
      this.lastBytes = Buffer.byteLength(this.lastFrame);
    }
    sink(this.lastId, this.lastFrame, this.lastBytes);
  }
}
