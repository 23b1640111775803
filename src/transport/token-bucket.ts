/**
 * A token bucket as plain numbers, so a caller can keep one per source address or per connection without a
 * closure or timer each: refilled lazily from the clock when a token is asked for.
 */
export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  refilledAt: number;
}

export interface BucketLimits {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens held: how many may be taken at once after a quiet spell. */
  burst: number;
}

export function fullBucket(limits: BucketLimits, now: number): Bucket {
  return { tokens: limits.burst, refilledAt: now };
}

/** Takes one token if there is one; O(1). */
export function takeToken(bucket: Bucket, limits: BucketLimits, now: number): boolean {
  refill(bucket, limits, now);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

/** Whether the bucket would be full now: such a bucket is the same as none and may be forgotten. */
export function isFull(bucket: Bucket, limits: BucketLimits, now: number): boolean {
  refill(bucket, limits, now);
  return bucket.tokens >= limits.burst;
}

function refill(bucket: Bucket, limits: BucketLimits, now: number): void {
  const elapsed = now - bucket.refilledAt;
  if (elapsed > 0) {
    bucket.tokens = Math.min(limits.burst, bucket.tokens + (elapsed / 1000) * limits.ratePerSec);
    bucket.refilledAt = now;
  }
}

/**
 * A Retry-After value spread over base..2×base whole seconds, so chargers refused together (a reconnect storm of a
 * whole process) do not all come back in the same second.
 */
export function jitteredRetryAfter(baseSeconds: number, random: () => number = Math.random): string {
  return String(baseSeconds + Math.floor(random() * (baseSeconds + 1)));
}
