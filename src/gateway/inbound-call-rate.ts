import type { InboundRateRefusal } from '../ocpp/rpc-shared.js';
import { type Bucket, type BucketLimits, takeToken } from '../transport/token-bucket.js';

/** `ocpp.inboundRate`: CALLs a second per charger connection, the burst, and when refusals turn into a close. */
export interface InboundRateConfig {
  callsPerSec: number;
  burst: number;
  /** Refused CALLs within `abuseWindowMs` that close the connection. */
  abuseRefusals: number;
  abuseWindowMs: number;
}

/** One connection's bucket and its recent refusals: four numbers, whatever the charger sends. */
export interface CallRateState extends Bucket {
  refusals: number;
  windowStartedAt: number;
}

/** What the limiter needs of a connection: where its state lives, and how to close it. */
export interface RateLimitedConnection {
  inboundRate: CallRateState | undefined;
  closeForAbuse(reason: string): void;
}

/**
 * The per-charger inbound CALL rate. A CALL within the rate is handled; one beyond gets a GenericError at once
 * (OCPP has no code for "too fast" in either version; GenericError is the one both define for a refusal no
 * other code fits, and the gateway already uses it for its pipelining bound); a charger that keeps going gets
 * `abuseRefusals` of those within `abuseWindowMs` and is closed with 1008.
 */
export class InboundCallRate {
  private readonly limits: BucketLimits;
  /** The same answer for every refused CALL: no allocation per refusal. */
  private readonly refusal: InboundRateRefusal;

  constructor(
    private readonly config: InboundRateConfig,
    private readonly onRefused: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ratePerSec: config.callsPerSec, burst: config.burst };
    this.refusal = {
      reason: 'generic',
      message: `rate limit: at most ${config.callsPerSec} CALLs a second (bursts of ${config.burst}) per charger; slow down`,
    };
  }

  /** null: handle the CALL; otherwise its CALLERROR, and perhaps the close that follows it. */
  check(connection: RateLimitedConnection): InboundRateRefusal | null {
    const now = this.now();
    const state = (connection.inboundRate ??= { tokens: this.limits.burst, refilledAt: now, refusals: 0, windowStartedAt: now });
    if (takeToken(state, this.limits, now)) return null;
    this.onRefused();
    if (now - state.windowStartedAt >= this.config.abuseWindowMs) {
      state.windowStartedAt = now;
      state.refusals = 0;
    }
    if (++state.refusals < this.config.abuseRefusals) return this.refusal;
    const { abuseRefusals, abuseWindowMs, callsPerSec } = this.config;
    const reason = `${abuseRefusals} CALLs refused within ${abuseWindowMs / 1000} s for exceeding ${callsPerSec} CALLs a second`;
    return { ...this.refusal, afterAnswer: () => connection.closeForAbuse(reason) };
  }
}
