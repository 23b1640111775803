import type { ServerResponse } from 'node:http';

/** Why a stream ended: the client left, it read too slowly, the server is going away, or the feed failed. */
export type SseEndReason = 'client_closed' | 'overflow' | 'shutdown' | 'unavailable';

export interface SseStreamOptions {
  /** Events held for a client whose socket is full; one more ends the stream with `event: overflow`. */
  bufferEvents: number;
  /** The same bound in bytes: an event may carry a 1 MiB OCPP payload, so a count alone bounds nothing. */
  bufferBytes: number;
  /** How long a client that stopped reading may keep its socket after its final event. */
  lingerMs: number;
  /** Told once, when the stream has ended for whatever reason. */
  ended(stream: SseStream, reason: SseEndReason): void;
}

/** Sent first: how long a client should wait before reconnecting, and a line that flushes the headers. */
const PREAMBLE = 'retry: 3000\n: stream open\n\n';
const HEARTBEAT = ': heartbeat\n\n';

/** One server-sent-event frame; JSON has no raw newlines, so `data` is one line. */
export function sseFrame(id: string, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * One client's event stream. Frames go straight to the socket while it takes them; once `write()` says the
 * socket is full they wait in a queue bounded in events and in bytes until 'drain'. A client that lets the
 * queue fill is ended with a final `overflow` event instead of losing events silently: it receives every event
 * up to the one named in that final event, in order, and nothing after.
 */
export class SseStream {
  private queue: string[] = [];
  /** Each queued frame's size, so what leaves the queue is subtracted without measuring it again. */
  private queueSizes: number[] = [];
  private queueBytes = 0;
  // Until start() the socket is as good as full: events wait in the bounded queue.
  private waitingForDrain = true;
  private started = false;
  private open = true;
  private lastEventId: string | null = null;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseStreamOptions,
  ) {
    res.on('drain', this.onDrain);
    res.on('close', this.onClose);
    // A write to a socket the client reset surfaces here; 'close' follows and ends the stream.
    res.on('error', () => {});
  }

  /** Sends the headers and the preamble, then what was queued before. */
  start(): void {
    if (this.started || !this.open) return;
    this.writeHeaders();
    if (!this.waitingForDrain) this.onDrain();
  }

  private writeHeaders(): void {
    this.started = true;
    this.waitingForDrain = false;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies that buffer responses (nginx) would hold events back.
      'x-accel-buffering': 'no',
    });
    this.write(PREAMBLE);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Frames waiting for the client to read. */
  get queued(): number {
    return this.queue.length;
  }

  /** Bytes of the frames waiting for the client to read. */
  get queuedBytes(): number {
    return this.queueBytes;
  }

  /**
   * Queues or writes one event frame (`bytes` is its UTF-8 size, measured once by the caller for every
   * stream); when it does not fit in the queue the stream ends with `overflow`.
   */
  send(eventId: string, frame: string, bytes = Buffer.byteLength(frame)): void {
    if (!this.open) return;
    if (this.waitingForDrain) {
      if (this.queue.length >= this.options.bufferEvents || this.queueBytes + bytes > this.options.bufferBytes) {
        this.finish('overflow', 'overflow', {
          reason: 'the client did not read fast enough',
          bufferEvents: this.options.bufferEvents,
          bufferBytes: this.options.bufferBytes,
          lastEventId: this.lastEventId,
        });
        return;
      }
      this.queue.push(frame);
      this.queueSizes.push(bytes);
      this.queueBytes += bytes;
    } else {
      this.write(frame);
    }
    this.lastEventId = eventId;
  }

  /** A comment line that keeps proxies and load balancers from closing an idle stream; skipped while backed up. */
  heartbeat(): void {
    if (this.open && !this.waitingForDrain) this.write(HEARTBEAT);
  }

  /** Ends the stream cleanly for shutdown: what is queued is still sent, then a final `end` event. */
  end(): void {
    if (this.open) this.finish('shutdown', 'end', { reason: 'the gateway is shutting down', lastEventId: this.lastEventId });
  }

  /** Answers with an error instead of a stream (the feed could not start); only before `start()`. */
  refuse(status: number, body: unknown): void {
    if (!this.open || this.started) return;
    this.open = false;
    this.queue = [];
    this.queueSizes = [];
    this.queueBytes = 0;
    this.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    this.res.end(JSON.stringify(body));
    this.options.ended(this, 'unavailable');
  }

  /** Drops the connection at once (close of the server after the clean end had its chance). */
  destroy(): void {
    this.res.destroy();
  }

  private write(chunk: string): void {
    if (!this.res.write(chunk)) this.waitingForDrain = true;
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    let i = 0;
    while (i < this.queue.length && !this.waitingForDrain) {
      this.queueBytes -= this.queueSizes[i];
      this.write(this.queue[i++]);
    }
    if (i === this.queue.length) {
      this.queue = [];
      this.queueSizes = [];
    } else {
      this.queue = this.queue.slice(i);
      this.queueSizes = this.queueSizes.slice(i);
    }
  };

  private readonly onClose = (): void => {
    clearTimeout(this.lingerTimer);
    if (!this.open) return;
    this.open = false;
    this.queue = [];
    this.queueSizes = [];
    this.queueBytes = 0;
    this.options.ended(this, 'client_closed');
  };

  /**
   * Everything queued goes to the socket, then the final event and the end of the response. The queue is
   * bounded, so this holds at most one buffer's worth more; a client that never reads it is cut off after
   * the linger period.
   */
  private finish(reason: SseEndReason, event: string, data: Record<string, unknown>): void {
    if (!this.started) this.writeHeaders();
    this.open = false;
    for (const frame of this.queue) this.res.write(frame);
    this.queue = [];
    this.queueSizes = [];
    this.queueBytes = 0;
    this.res.end(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.lingerTimer = setTimeout(() => this.res.destroy(), this.options.lingerMs);
    this.lingerTimer.unref();
    this.options.ended(this, reason);
  }
}
