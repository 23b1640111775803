import { isOcppVersion } from '../ocpp/versions.js';
import { parseIdentity } from '../transport/identity.js';
import type { CredentialRecord, CredentialStore, SecurityProfile } from './credential-store.js';
import { isPasswordHash } from './password-hash.js';

/** A store that could not be read or written; the message names the file or key, never a secret. */
export class CredentialStoreError extends Error {
  override name = 'CredentialStoreError';
}

/** The stores this project ships can also add a record only when its identity is new (the CLI's `add`). */
export interface ManagedCredentialStore extends CredentialStore {
  /** False, and nothing written, when the identity already has a record. */
  add(record: CredentialRecord): Promise<boolean>;
}

export function isSecurityProfile(value: unknown): value is SecurityProfile {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

/**
 * Checks an identity as typed by an operator: the same rules as the charger's URL segment, applied to the
 * identity itself (the charger percent-encodes it in its URL; the store holds it decoded).
 */
export function checkStoredIdentity(identity: string): { ok: true } | { ok: false; reason: string } {
  let encoded: string;
  try {
    encoded = encodeURIComponent(identity);
  } catch {
    return { ok: false, reason: 'the charge point identity must be printable ASCII without spaces' };
  }
  const check = parseIdentity(encoded);
  return check.ok ? { ok: true } : { ok: false, reason: check.reason };
}

/** The stored form of one record, checked; a string says what is wrong (never echoing a hash). */
export function parseStoredRecord(identity: string, value: unknown): CredentialRecord | string {
  if (!checkStoredIdentity(identity).ok) return 'an identity the gateway would refuse';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `the record of ${identity} is not an object`;
  const raw = value as Record<string, unknown>;
  const record: CredentialRecord = { identity, updatedAt: '' };
  if (raw.passwordHash !== undefined) {
    if (!isPasswordHash(raw.passwordHash)) return `the password hash of ${identity} is not a scrypt hash this gateway accepts`;
    record.passwordHash = raw.passwordHash;
  }
  if (raw.minProfile !== undefined) {
    if (!isSecurityProfile(raw.minProfile)) return `the minProfile of ${identity} must be 0, 1, 2 or 3`;
    record.minProfile = raw.minProfile;
  }
  if (raw.protocol !== undefined) {
    if (!isOcppVersion(raw.protocol)) return `the protocol of ${identity} must be ocpp1.6 or ocpp2.0.1`;
    record.protocol = raw.protocol;
  }
  if (typeof raw.updatedAt !== 'string' || Number.isNaN(Date.parse(raw.updatedAt))) return `the updatedAt of ${identity} is not an ISO time`;
  record.updatedAt = raw.updatedAt;
  return record;
}

/** What is written for a record: everything but the identity, which is the key it is stored under. */
export function storedForm(record: CredentialRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (record.passwordHash !== undefined) out.passwordHash = record.passwordHash;
  if (record.minProfile !== undefined) out.minProfile = record.minProfile;
  if (record.protocol !== undefined) out.protocol = record.protocol;
  out.updatedAt = record.updatedAt;
  return out;
}

/** Throws when a record about to be written would not be read back. */
export function assertWritable(record: CredentialRecord): void {
  const parsed = parseStoredRecord(record.identity, storedForm(record));
  if (typeof parsed === 'string') throw new CredentialStoreError(`refusing to store ${checkStoredIdentity(record.identity).ok ? parsed : 'an invalid identity'}`);
}
