import type { WebSocket } from 'ws';

export interface OutboxLimits {
  highWaterBytes: number;
  maxQueuedFrames: number;
  maxQueuedBytes: number;
}

/** What an outbox reports to the gateway; one object shared by all outboxes. */
export interface OutboxObserver {
  /** The charger stopped reading and the outbox reached its bound: the connection must go. */
  overflow(outbox: Outbox, queuedFrames: number, queuedBytes: number): void;
  queuedDelta(delta: number): void;
  discarded(count: number): void;
}

const OPEN = 1;

/**
 * The only code that writes to a charger's socket: text frames, pings, pongs and the close frame all leave
 * from here, so nothing can interleave writes (the old gateway crashed on exactly that). Frames go straight to
 * the socket while its buffer is below the high-water mark, and wait here, bounded in frames and bytes, while it
 * is above; when the bound is reached the charger is not reading and is closed with a reason.
 */
export class Outbox {
  private queue: string[] | null = null;
  private queuedBytes = 0;
  private readonly onWritten: (err?: Error) => void;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: OutboxLimits,
    private readonly observer: OutboxObserver,
  ) {
    // One bound callback per connection: ws calls it when a frame reaches the kernel, which is when a waiting
    // frame may follow.
    this.onWritten = (err?: Error) => {
      if (err === undefined || err === null) this.flush();
      else this.discardQueue();
    };
  }

  get queuedFrames(): number {
    return this.queue?.length ?? 0;
  }

  /** Queues or writes one text frame; false when the socket is no longer open (counted, never silent). */
  sendText(text: string): boolean {
    if (this.socket.readyState !== OPEN) {
      this.observer.discarded(1);
      return false;
    }
    if (this.queue === null && this.socket.bufferedAmount < this.limits.highWaterBytes) {
      this.socket.send(text, this.onWritten);
      return true;
    }
    const queue = (this.queue ??= []);
    const bytes = Buffer.byteLength(text);
    if (queue.length + 1 > this.limits.maxQueuedFrames || this.queuedBytes + bytes > this.limits.maxQueuedBytes) {
      this.observer.overflow(this, queue.length, this.queuedBytes);
      return false;
    }
    queue.push(text);
    this.queuedBytes += bytes;
    this.observer.queuedDelta(1);
    return true;
  }

  private flush(): void {
    const queue = this.queue;
    if (queue === null) return;
    if (this.socket.readyState !== OPEN) {
      this.discardQueue();
      return;
    }
    while (queue.length > 0 && this.socket.bufferedAmount < this.limits.highWaterBytes) {
      const text = queue.shift()!;
      this.queuedBytes -= Buffer.byteLength(text);
      this.observer.queuedDelta(-1);
      this.socket.send(text, this.onWritten);
    }
    if (queue.length === 0) {
      this.queue = null;
      this.queuedBytes = 0;
    }
  }

  private discardQueue(): void {
    const count = this.queue?.length ?? 0;
    if (count === 0) return;
    this.queue = null;
    this.queuedBytes = 0;
    this.observer.queuedDelta(-count);
    this.observer.discarded(count);
  }

  ping(): void {
    if (this.socket.readyState === OPEN) this.socket.ping();
  }

  pong(data: Buffer): void {
    if (this.socket.readyState === OPEN) this.socket.pong(data);
  }

  /** Starts the closing handshake; frames still waiting are discarded (and counted). */
  close(code: number, reason: string): void {
    this.discardQueue();
    const state = this.socket.readyState;
    if (state === OPEN || state === 0) this.socket.close(code, truncateReason(reason));
  }

  /** Drops the connection without a handshake: for peers that no longer answer. */
  terminate(): void {
    this.discardQueue();
    this.socket.terminate();
  }
}

/** A close reason may hold at most 123 bytes. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1);
  return cut + '...';
}
