/**
 * Admission of new connections at the ramp rate: a queue of chargers waiting to connect and a token
 * bucket refilled by the clock. At most `maxConnecting` handshakes are in flight at once, so a slow
 * server is not buried under half-open sockets; a rate of Infinity (the storm after a drop) lets
 * everything queued go at once.
 */

/** Admission tick: at 1000 connections/s, 20 at a time. */
export const ADMISSION_TICK_MS = 20;

export class Admission<T> {
  private queue: T[] = [];
  private head = 0;
  private tokens = 1;
  private lastRefill = 0;
  private rate = 0;
  private tokenCap = 1;
  /** Most handshakes in flight at once. */
  maxConnecting = 0;

  constructor(ratePerSec: number) {
    this.setRate(ratePerSec);
  }

  /** Connections per second from now on; Infinity for no limit. */
  setRate(ratePerSec: number): void {
    this.rate = ratePerSec;
    this.maxConnecting = Math.max(50, Math.ceil(ratePerSec));
    this.tokenCap = Math.max(1, ratePerSec * 0.2);
  }

  /** Starts the clock of the bucket. */
  start(now: number): void {
    this.lastRefill = now;
  }

  enqueue(item: T): void {
    this.queue.push(item);
  }

  /** Adds the tokens earned since the last refill. */
  refill(now: number): void {
    const rate = this.rate;
    this.tokens = rate === Infinity ? Infinity : Math.min(this.tokenCap, this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
  }

  /** The next charger allowed to connect now, or undefined (no token, nobody waiting, or too many handshakes in flight). */
  take(connecting: number): T | undefined {
    if (this.tokens < 1 || this.head >= this.queue.length || connecting >= this.maxConnecting) return undefined;
    this.tokens--;
    return this.queue[this.head++];
  }

  /** Drops the admitted head of the queue once it is large, so the array does not grow for ever. */
  compact(): void {
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
