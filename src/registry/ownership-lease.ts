/**
 * Whether this instance may still consider its claims its own.
 *
 * Its registration and its claims live `ttlMs` in the registry after the last write that extended them. A write
 * extends them when the registry executes it, which is after it was sent, so "sent at T and confirmed" proves
 * the registration lives at least until T + ttlMs on the registry's clock. The lease is valid until then; if no
 * later write is confirmed by that time, the instance must assume its registration and its claims have expired
 * (and may already belong to other instances), and it stays invalid until it registers again.
 */
export class OwnershipLease {
  private validUntil = 0;
  private registered = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The time to pass to `confirm` for a write sent now. */
  stamp(): number {
    return this.now();
  }

  /** A registration sent at `sentAt` succeeded: ownership is valid again. */
  register(sentAt: number): void {
    this.registered = true;
    this.extend(sentAt);
  }

  /** A heartbeat sent at `sentAt` succeeded; it revives nothing once the lease has lapsed. */
  confirm(sentAt: number): void {
    if (!this.valid()) return;
    this.extend(sentAt);
  }

  valid(): boolean {
    if (this.registered && this.now() >= this.validUntil) this.lapse();
    return this.registered;
  }

  /** The registry said the registration is gone: invalid at once. */
  lapse(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (!this.registered) return;
    this.registered = false;
    for (const listener of [...this.listeners]) listener();
  }

  onLost(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the timer without telling anyone: the registry is closing. */
  stop(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.registered = false;
  }

  private extend(sentAt: number): void {
    const until = sentAt + this.ttlMs;
    if (until <= this.validUntil) return;
    this.validUntil = until;
    this.armExpiry();
  }

  /**
   * The timer makes the lapse an event even when nobody asks; `valid()` checks the time itself as well. A Node.js
   * timer can fire before `performance.now()` says its delay has passed (by up to 1.9 ms in a measurement on the
   * benchmark machine), so a timer that finds the lease still valid waits again for what is left; otherwise the
   * lapse would be told to nobody until someone next asked (the refresh scheduler's next round).
   */
  private armExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        if (this.valid()) this.armExpiry();
      },
      Math.max(0, this.validUntil - this.now()) + 1,
    );
    this.expiryTimer.unref();
  }
}
