import type { ChargerSession } from './session.js';

/**
 * The chargers connected to this instance, one session per identity. A new connection takes the identity
 * over at once; the old session's late close removes it only if it is still the one registered, so it can
 * never unregister its successor.
 */
export class SessionTable {
  private readonly byIdentity = new Map<string, ChargerSession>();

  get size(): number {
    return this.byIdentity.size;
  }

  get(identity: string): ChargerSession | undefined {
    return this.byIdentity.get(identity);
  }

  /** Registers the session and returns the one it replaces, if any. */
  claim(session: ChargerSession): ChargerSession | undefined {
    const previous = this.byIdentity.get(session.identity);
    this.byIdentity.set(session.identity, session);
    return previous;
  }

  /** Removes the session only if it still owns its identity; true when it did. */
  release(session: ChargerSession): boolean {
    if (this.byIdentity.get(session.identity) !== session) return false;
    this.byIdentity.delete(session.identity);
    return true;
  }

  values(): IterableIterator<ChargerSession> {
    return this.byIdentity.values();
  }
}
