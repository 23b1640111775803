import { createHmac, randomBytes } from 'node:crypto';

/** Enough for a full process of chargers (19,500) several times over; an entry costs about 150 bytes. */
export const DEFAULT_VERIFIED_CACHE_ENTRIES = 100_000;

/**
 * Remembers credentials that verified, so a reconnect storm of thousands of chargers does not pay one scrypt run
 * each (on two cores, 19,000 of them would take minutes).
 *
 * An entry is HMAC-SHA256(a random secret of this process, identity \0 password \0 stored hash): the password
 * itself is never kept, and the key is useless outside this process. The stored hash is part of it, so after a
 * rotation (new salt, new hash) no old entry matches and the old password is refused at once. Only successes are
 * remembered: a guess never makes a later guess cheaper. Least recently used entries are dropped beyond the cap.
 */
export class VerifiedCredentialsCache {
  private readonly secret = randomBytes(32);
  /** Insertion order is use order: a hit is moved to the end, the first key is the least recently used. */
  private readonly entries = new Set<string>();

  constructor(readonly maxEntries = DEFAULT_VERIFIED_CACHE_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError('maxEntries must be a whole number, 0 or more');
  }

  get size(): number {
    return this.entries.size;
  }

  /** True when exactly these credentials verified against exactly this stored hash before (and were not evicted). */
  has(identity: string, password: string, encodedHash: string): boolean {
    const key = this.key(identity, password, encodedHash);
    if (!this.entries.has(key)) return false;
    this.entries.delete(key);
    this.entries.add(key);
    return true;
  }

  /** Call after a successful verify only. */
  remember(identity: string, password: string, encodedHash: string): void {
    if (this.maxEntries === 0) return;
    const key = this.key(identity, password, encodedHash);
    this.entries.delete(key);
    this.entries.add(key);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.values().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  private key(identity: string, password: string, encodedHash: string): string {
    // \0 separates the parts: identities are printable ASCII and hashes base64, so no two triples give one text.
    return createHmac('sha256', this.secret).update(`${identity}\0${password}\0${encodedHash}`, 'utf8').digest('base64');
  }
}
