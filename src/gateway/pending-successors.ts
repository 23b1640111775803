import type { ChargerSession } from './session.js';

/**
 * Connections waiting to take over an identity whose session is still open, until they show life. In cluster mode
 * every new connection waits: the open session may be on another instance, and taking over there closes it too.
 *
 * Why they wait: a charger that gave up on a slow handshake closes that socket and connects again. In a reconnect
 * storm the kernel can complete the connection it gave up on after the new one (most likely through SYN cookies), with its request and
 * its end of stream already queued, so the gateway accepts and upgrades it second and would take it for the newer
 * connection. Taking over at once would then close the charger's live session for a socket that is already gone.
 * A successor that sends a frame, a ping or a pong is the charger's; one that stays silent and open takes over
 * after `server.takeoverGraceMs`; one that ends first leaves the open session alone.
 */
export class PendingSuccessors {
  private readonly byIdentity = new Map<string, Map<ChargerSession, NodeJS.Timeout>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Whether any connection of this identity is waiting. */
  has(identity: string): boolean {
    return this.byIdentity.has(identity);
  }

  /** Holds a waiting connection with the timer that ends its wait. */
  add(session: ChargerSession, graceTimer: NodeJS.Timeout): void {
    let waiting = this.byIdentity.get(session.identity);
    if (waiting === undefined) {
      waiting = new Map();
      this.byIdentity.set(session.identity, waiting);
    }
    waiting.set(session, graceTimer);
    this.count++;
  }

  /** Ends a connection's wait (its timer is cleared); false when it was not waiting, so each wait ends once. */
  delete(session: ChargerSession): boolean {
    const waiting = this.byIdentity.get(session.identity);
    const timer = waiting?.get(session);
    if (waiting === undefined || timer === undefined) return false;
    clearTimeout(timer);
    waiting.delete(session);
    if (waiting.size === 0) this.byIdentity.delete(session.identity);
    this.count--;
    return true;
  }

  /** Every waiting connection (a copy: callers close them while iterating). */
  all(): ChargerSession[] {
    const sessions: ChargerSession[] = [];
    for (const waiting of this.byIdentity.values()) sessions.push(...waiting.keys());
    return sessions;
  }
}
