/**
 * Counts failed authentications per key (an identity, or a source address) and says when a key must wait.
 * Beyond `maxFailures` failures within `windowMs`, a key is blocked for `blockMs`, doubling with every further
 * failure up to `maxBlockMs`; while blocked its attempts are refused without checking anything, so a guesser
 * gets slower, never luckier. Attempts refused while blocked are not failures: they neither extend the block nor
 * cost a password check.
 *
 * Memory is bounded: at most `maxTracked` keys, the one touched longest ago forgotten first (a Map keeps insertion
 * order; a key touched again is moved to the end). Forgetting a key early only forgives it sooner.
 */
export interface FailureThrottleOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  maxBlockMs: number;
  maxTracked: number;
}

interface Entry {
  failures: number;
  /** When the last failure happened: the window counts from it. */
  lastFailureAt: number;
  blockedUntil: number;
}

export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: FailureThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds `key` must still wait; 0 when it may try. */
  retryAfterMs(key: string): number {
    const entry = this.entries.get(key);
    if (entry === undefined) return 0;
    const now = this.now();
    if (entry.blockedUntil > now) return entry.blockedUntil - now;
    if (now - entry.lastFailureAt > this.options.windowMs) this.entries.delete(key);
    return 0;
  }

  /** Records a failure; returns how long the key is now blocked (0 while under the limit). */
  fail(key: string): number {
    const { maxFailures, windowMs, blockMs, maxBlockMs, maxTracked } = this.options;
    const now = this.now();
    let entry = this.entries.get(key);
    if (entry !== undefined) this.entries.delete(key);
    if (entry === undefined || now - entry.lastFailureAt > windowMs) entry = { failures: 0, lastFailureAt: now, blockedUntil: 0 };
    entry.failures++;
    entry.lastFailureAt = now;
    if (entry.failures >= maxFailures) {
      // 2^30 already exceeds any cap we accept; the exponent is bounded so the product stays a finite number.
      const doubling = Math.min(entry.failures - maxFailures, 30);
      entry.blockedUntil = now + Math.min(maxBlockMs, blockMs * 2 ** doubling);
    }
    this.entries.set(key, entry);
    while (this.entries.size > maxTracked) this.entries.delete(this.entries.keys().next().value as string);
    return Math.max(0, entry.blockedUntil - now);
  }

  /** A success forgets the key's failures. */
  reset(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
