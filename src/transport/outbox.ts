import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { textFrame } from './text-frame.js';

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

/** Sees every text frame an outbox or a session passes on (the flight recorder), when one is set. */
export interface FrameTap {
  record(direction: 'in' | 'out', text: string): void;
}

const OPEN = 1;

/** A ping waiting in the queue (it carries no payload). */
const PING = Symbol('ping');
/** A waiting frame: text, a ping, or a pong (its payload, a copy of the ping's). */
type QueuedFrame = string | typeof PING | Buffer;

function queuedSize(frame: QueuedFrame): number {
  return typeof frame === 'string' ? Buffer.byteLength(frame) : frame === PING ? 0 : frame.length;
}

/**
 * The only code that writes to a charger's socket: text frames, pings, pongs and the close frame all leave
 * from here, so nothing can interleave writes (the old gateway crashed on exactly that). Frames go straight to
 * the socket while its buffer is below the high-water mark, and wait here, in order, bounded in frames and
 * bytes, while it is above; when the bound is reached the charger is not reading and is closed with a reason.
 * Control frames wait in the same queue under the same bound: a charger that pings but does not read fills it
 * like one that sends CALLs, and an answer queued before a pong is written before it.
 */
export class Outbox {
  private queue: QueuedFrame[] | null = null;
  private queuedBytes = 0;
  /** Made on first need: most connections never come near the high-water mark and never need it. */
  private writtenCallback: ((err?: Error | null) => void) | undefined;
  /** The flight recorder's tap while this charger is recorded; otherwise undefined, one check per frame. */
  recorder: FrameTap | undefined = undefined;
  /**
   * The TCP (or TLS) stream under the WebSocket, which text frames are written to pre-framed. ws writes to it
   * synchronously too and keeps nothing of its own queued without compression (off here), so frames, pings,
   * pongs and the close frame still leave in the order they were handed over, and `bufferedAmount` counts them.
   */
  private readonly stream: Writable | null;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: OutboxLimits,
    private readonly observer: OutboxObserver,
  ) {
    this.stream = (socket as unknown as { _socket?: Writable | null })._socket ?? null;
  }

  /**
   * One bound callback per connection, made the first time a write needs it (a closure and its context are some
   * 100 bytes a connection): ws calls it when a frame of any kind reaches the kernel, which is when a waiting
   * frame may follow.
   */
  private get onWritten(): (err?: Error | null) => void {
    return (this.writtenCallback ??= (err?: Error | null) => {
      if (err === undefined || err === null) this.flush();
      else this.discardQueue();
    });
  }

  /**
   * The callback for a write made while nothing waits: only one that could lift the buffer to the high-water mark
   * asks to be told when it is done. Later frames wait only while the buffer is that full, so some write still in
   * flight then has the callback that flushes them (the latest one: nothing written since can have drained it).
   */
  private callbackFor(buffered: number, maxBytes: number): ((err?: Error | null) => void) | undefined {
    return buffered + maxBytes >= this.limits.highWaterBytes ? this.onWritten : undefined;
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
    if (this.recorder !== undefined) this.recorder.record('out', text);
    const buffered = this.socket.bufferedAmount;
    if (this.queue === null && buffered < this.limits.highWaterBytes) {
      // A UTF-16 code unit is at most 3 bytes of UTF-8, and a frame header at most 14.
      this.writeText(text, this.callbackFor(buffered, text.length * 3 + 14));
      return true;
    }
    return this.enqueue(text, Buffer.byteLength(text));
  }

  ping(): void {
    if (this.socket.readyState !== OPEN) {
      this.observer.discarded(1);
      return;
    }
    const buffered = this.socket.bufferedAmount;
    if (this.queue === null && buffered < this.limits.highWaterBytes) {
      // A ping frame is 2 bytes (6 masked, which the server's are not).
      this.socket.ping(undefined, undefined, this.callbackFor(buffered, 6));
      return;
    }
    this.enqueue(PING, 0);
  }

  pong(data: Buffer): void {
    if (this.socket.readyState !== OPEN) {
      this.observer.discarded(1);
      return;
    }
    const buffered = this.socket.bufferedAmount;
    if (this.queue === null && buffered < this.limits.highWaterBytes) {
      // A control frame carries at most 125 bytes; 14 covers any header, as for text.
      this.socket.pong(data, undefined, this.callbackFor(buffered, data.length + 14));
      return;
    }
    // A copy: ws may hand us a slice of a much larger read buffer, which a waiting pong would keep alive.
    this.enqueue(Buffer.from(data), data.length);
  }

  private enqueue(frame: QueuedFrame, bytes: number): boolean {
    const queue = (this.queue ??= []);
    if (queue.length + 1 > this.limits.maxQueuedFrames || this.queuedBytes + bytes > this.limits.maxQueuedBytes) {
      this.observer.overflow(this, queue.length, this.queuedBytes);
      return false;
    }
    queue.push(frame);
    this.queuedBytes += bytes;
    this.observer.queuedDelta(1);
    return true;
  }

  private writeText(text: string, onWritten: ((err?: Error | null) => void) | undefined): void {
    if (this.stream === null) this.socket.send(text, onWritten);
    else if (onWritten === undefined) this.stream.write(textFrame(text));
    else this.stream.write(textFrame(text), onWritten);
  }

  private write(frame: QueuedFrame): void {
    if (typeof frame === 'string') this.writeText(frame, this.onWritten);
    else if (frame === PING) this.socket.ping(undefined, undefined, this.onWritten);
    else this.socket.pong(frame, undefined, this.onWritten);
  }

  private flush(): void {
    const queue = this.queue;
    if (queue === null) return;
    if (this.socket.readyState !== OPEN) {
      this.discardQueue();
      return;
    }
    while (queue.length > 0 && this.socket.bufferedAmount < this.limits.highWaterBytes) {
      const frame = queue.shift()!;
      this.queuedBytes -= queuedSize(frame);
      this.observer.queuedDelta(-1);
      this.write(frame);
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

  /**
   * Starts the closing handshake; frames still waiting are discarded (and counted). The close frame is the last
   * frame: it goes to the socket at once, and nothing is accepted after it.
   */
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
