/**
 * Keeps an instance's claims and its registration alive: every `intervalMs` (default TTL/3, so two rounds
 * may fail before anything expires) one round sends the instance heartbeat and refreshes every owned identity
 * in chunks (one script call per chunk of the registry's chunk size, all sent at once), never one call per
 * connection. The holds that were lost (taken over elsewhere, or expired) are reported so the gateway can close
 * those sockets.
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
}

export interface RoundOutcome {
  refreshed: number;
  lost: Ownership[];
  /** The heartbeat or the registration of this round succeeded. */
  alive: boolean;
}

export class RefreshScheduler {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<RoundOutcome> | undefined;

  constructor(private readonly options: RefreshSchedulerOptions) {
    this.intervalMs = options.intervalMs ?? Math.max(1, Math.floor(options.registry.ttlMs / 3));
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
      await this.runOnce().catch(() => undefined);
      if (this.running) this.schedule(Math.max(0, this.intervalMs - (performance.now() - startedAt)));
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
      return { refreshed: 0, lost: [], alive: liveness.status === 'fulfilled' };
    }
    if (refresh.value.length > 0) onLost(refresh.value);
    return { refreshed: held.length - refresh.value.length, lost: refresh.value, alive: liveness.status === 'fulfilled' };
  }
}
