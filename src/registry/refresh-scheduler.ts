/**
 * Keeps an instance's claims and its registration alive: every `intervalMs` (default TTL/3) one round sends the
 * instance heartbeat and refreshes every owned identity in chunks (one script call per chunk of the registry's
 * chunk size, all sent at once), never one call per connection. The holds that were lost (taken over elsewhere,
 * or expired) are reported so the gateway can close those sockets.
 *
 * A round that fails is tried again after `retryMs`, not a whole interval later. The lease runs out exactly
 * one TTL after the last heartbeat that got through was sent, which is where the third round of a fixed
 * TTL/3 cadence falls: on that cadence an outage spanning two rounds, however short, cost the registration
 * (every charger closed with 1012). Retrying soon keeps the instance registered through any outage shorter
 * than the TTL less one interval, the client's reconnect delay and one retry wait.
 *
 * A round whose registration has lapsed (cut off from the registry for longer than the TTL) registers again
 * first; until that succeeds `registry.ownershipValid()` stays false.
 */
import type { Ownership, Registry } from './types.js';

export interface RefreshSchedulerOptions {
  registry: Registry;
  /** The id this instance registers under (POD_ID). */
  instanceId: string;
  /** The holds to keep alive now: each connection's identity and the epoch its claim returned. */
  owned: () => Iterable<Ownership>;
  /**
   * Holds that were not refreshed because the identity is held at another epoch or by nobody. The gateway
   * closes the session of each identity that is still at that epoch (a session released meanwhile is gone).
   */
  onLost: (lost: Ownership[]) => void;
  /** A round failed (the registry is unreachable, or the id is taken); the next round tries again. */
  onError?: (err: unknown) => void;
  /** The instance registered again after its registration lapsed. */
  onRegistered?: () => void;
  intervalMs?: number;
  /** The wait after a failed round (default the smaller of 250 ms and the interval). */
  retryMs?: number;
}

/** A failed round is tried again this soon: long enough not to spin on an absent Redis, short against a TTL. */
const DEFAULT_RETRY_MS = 250;

export interface RoundOutcome {
  refreshed: number;
  lost: Ownership[];
  /** The heartbeat or the registration of this round succeeded. */
  alive: boolean;
  /** The liveness write or the refresh failed (Redis unreachable, or the id taken): the next round comes soon. */
  failed: boolean;
}

export class RefreshScheduler {
  private readonly intervalMs: number;
  private readonly retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<RoundOutcome> | undefined;

  constructor(private readonly options: RefreshSchedulerOptions) {
    this.intervalMs = options.intervalMs ?? Math.max(1, Math.floor(options.registry.ttlMs / 3));
    this.retryMs = options.retryMs ?? Math.min(DEFAULT_RETRY_MS, this.intervalMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(this.intervalMs);
  }

  /** Stops the rounds; waits for the one in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round?.catch(() => undefined);
  }

  /** One round now (the rounds never overlap: a call during a round waits for it and returns its outcome). */
  runOnce(): Promise<RoundOutcome> {
    if (this.round === undefined) {
      this.round = this.doRound().finally(() => {
        this.round = undefined;
      });
    }
    return this.round;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(async () => {
      const startedAt = performance.now();
      const outcome = await this.runOnce().catch(() => undefined);
      if (!this.running) return;
      const wait = outcome === undefined || outcome.failed ? this.retryMs : this.intervalMs;
      this.schedule(Math.max(0, wait - (performance.now() - startedAt)));
    }, delayMs);
    this.timer.unref();
  }

  private async doRound(): Promise<RoundOutcome> {
    const { registry, instanceId, onLost, onError, onRegistered } = this.options;
    const held = [...this.options.owned()];
    const lapsed = !registry.ownershipValid();
    // Sent together: the heartbeat and the refreshes of one round reach Redis within one round trip.
    const [liveness, refresh] = await Promise.allSettled([lapsed ? registry.registerInstance(instanceId) : registry.heartbeat(), registry.refresh(held)]);
    if (liveness.status === 'rejected') onError?.(liveness.reason);
    else if (lapsed) onRegistered?.();
    if (refresh.status === 'rejected') {
      onError?.(refresh.reason);
      return { refreshed: 0, lost: [], alive: liveness.status === 'fulfilled', failed: true };
    }
    if (refresh.value.length > 0) onLost(refresh.value);
    const alive = liveness.status === 'fulfilled';
    return { refreshed: held.length - refresh.value.length, lost: refresh.value, alive, failed: !alive };
  }
}
