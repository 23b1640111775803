/** What the sweep needs of a connection: when it last showed life, and a way to ping or drop it. */
export interface KeepaliveSubject {
  /** ms timestamp of the last frame of any kind from the charger. */
  lastSeenAt: number;
  /** ms timestamp of the ping sent since lastSeenAt, 0 when none is outstanding. */
  pingSentAt: number;
  /** This connection's ping interval: the configured interval less a fixed per-connection jitter. */
  readonly pingAfterMs: number;
  ping(): void;
  /** The charger did not answer in time. */
  expire(): void;
}

export interface KeepaliveOptions {
  intervalMs: number;
  pongTimeoutMs: number;
  jitter: number;
  onExpired?: () => void;
}

/**
 * One timer for every connection (20,000 timers would cost more than the sockets). Each tick walks the set:
 * a connection silent for its interval is pinged, one still silent `pongTimeoutMs` after that is expired.
 * Any inbound frame counts as life, so busy chargers are never pinged at all.
 */
export class KeepaliveSweep {
  private readonly subjects = new Set<KeepaliveSubject>();
  private timer: NodeJS.Timeout | undefined;
  readonly tickMs: number;

  constructor(private readonly options: KeepaliveOptions) {
    // Fine enough that a dead charger is dropped close to interval + timeout, coarse enough to be cheap.
    this.tickMs = Math.max(20, Math.min(1000, Math.floor(options.pongTimeoutMs / 4), Math.floor(options.intervalMs / 4)));
  }

  /** A per-connection interval in [interval × (1 − jitter), interval], so pings spread out over time. */
  pingAfterFor(): number {
    return Math.round(this.options.intervalMs * (1 - Math.random() * this.options.jitter));
  }

  add(subject: KeepaliveSubject): void {
    this.subjects.add(subject);
  }

  delete(subject: KeepaliveSubject): void {
    this.subjects.delete(subject);
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(Date.now()), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(now: number): void {
    const timeout = this.options.pongTimeoutMs;
    for (const subject of this.subjects) {
      if (subject.pingSentAt !== 0) {
        if (subject.lastSeenAt >= subject.pingSentAt) subject.pingSentAt = 0;
        else if (now - subject.pingSentAt >= timeout) {
          this.subjects.delete(subject);
          this.options.onExpired?.();
          subject.expire();
          continue;
        }
      }
      if (subject.pingSentAt === 0 && now - subject.lastSeenAt >= subject.pingAfterMs) {
        subject.pingSentAt = now;
        subject.ping();
      }
    }
  }
}
