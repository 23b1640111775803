import { availableParallelism } from 'node:os';
import type { CredentialRecord } from './credential-store.js';
import { verifyAgainstDummy, verifyPassword } from './password-hash.js';
import { VerifiedCredentialsCache } from './verified-cache.js';

/** Thrown when every scrypt slot is busy and the waiting line is full: the caller answers 503, not a queue that grows. */
export class VerifierBusyError extends Error {
  override name = 'VerifierBusyError';
}

export interface PasswordVerifierLimits {
  /** scrypt verifies running at once (each holds a thread-pool thread and a core for tens of milliseconds). */
  concurrency: number;
  /** Verifies waiting for a slot; one more is refused with VerifierBusyError. */
  queue: number;
}

/**
 * Checks a charger's Basic-auth password against its credential record: the verified-credentials cache first,
 * then scrypt. An identity without a record, or a record without a password (certificate-only), costs a verify
 * against a dummy hash, so the time to answer does not reveal which identities exist.
 *
 * The scrypt runs are bounded. After a restart the cache is empty and a whole fleet reconnects at once: unbounded,
 * thousands of verifies would queue on the thread pool, each charger's handshake would time out before its turn,
 * and the work done for it would be wasted (it retries and queues again). A short line with a clear "busy" lets
 * the listener answer 503 with a jittered Retry-After at once, so the fleet comes back spread over time while the
 * verifies that do run finish within their chargers' handshake timeouts.
 */
export class PasswordVerifier {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly limits: PasswordVerifierLimits;

  constructor(
    limits: Partial<PasswordVerifierLimits> = {},
    private readonly cache = new VerifiedCredentialsCache(),
  ) {
    this.limits = { concurrency: limits.concurrency ?? availableParallelism(), queue: limits.queue ?? 256 };
  }

  /** Verifies running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async verify(identity: string, password: string, record: CredentialRecord | undefined): Promise<boolean> {
    const encoded = record?.passwordHash;
    if (record !== undefined && record.identity === identity && encoded !== undefined && this.cache.has(identity, password, encoded)) return true;
    await this.acquire();
    try {
      if (record === undefined || record.identity !== identity || encoded === undefined) return await verifyAgainstDummy(password);
      const ok = await verifyPassword(password, encoded);
      if (ok) this.cache.remember(identity, password, encoded);
      return ok;
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.queue) return Promise.reject(new VerifierBusyError('every password check slot is busy'));
    // The slot is handed over by release(), so `running` never drops and rises again between two waiters.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}
