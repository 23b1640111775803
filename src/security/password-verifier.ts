import type { CredentialRecord } from './credential-store.js';
import { verifyAgainstDummy, verifyPassword } from './password-hash.js';
import { VerifiedCredentialsCache } from './verified-cache.js';

/**
 * Checks a charger's Basic-auth password against its credential record: the verified-credentials cache first,
 * then scrypt. An identity without a record, or a record without a password (certificate-only), costs a verify
 * against a dummy hash, so the time to answer does not reveal which identities exist.
 */
export class PasswordVerifier {
  constructor(private readonly cache = new VerifiedCredentialsCache()) {}

  async verify(identity: string, password: string, record: CredentialRecord | undefined): Promise<boolean> {
    const encoded = record?.passwordHash;
    if (record === undefined || record.identity !== identity || encoded === undefined) return verifyAgainstDummy(password);
    if (this.cache.has(identity, password, encoded)) return true;
    const ok = await verifyPassword(password, encoded);
    if (ok) this.cache.remember(identity, password, encoded);
    return ok;
  }
}
