import type { OcppVersion } from '../ocpp/versions.js';

/**
 * OCPP security profiles: 1 is HTTP Basic auth over plain ws, 2 is Basic auth over TLS, 3 is a client
 * certificate over TLS. 0 is no authentication at all (plain ws, no credentials), which only chargers not pinned
 * above it may use.
 */
export type SecurityProfile = 0 | 1 | 2 | 3;

/** One charger's entry in the credential store. The password is only ever kept as a salted slow hash. */
export interface CredentialRecord {
  identity: string;
  /** `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`; absent for a charger that authenticates by certificate only. */
  passwordHash?: string;
  /** The lowest security profile this charger may connect with. */
  minProfile?: SecurityProfile;
  /** The only OCPP version this charger may connect with. */
  protocol?: OcppVersion;
  /** ISO time of the last add or rotate: tells a rotated record from the one a cache saw. */
  updatedAt: string;
}

/**
 * Where chargers' credentials live: a file by default, Redis in cluster mode. Reads see a change (add, rotate,
 * remove) made by another process from the next call on, without a restart.
 */
export interface CredentialStore {
  /** True once the store holds (or has held) any record: the default for ALLOW_UNKNOWN_CHARGERS depends on it. */
  exists(): Promise<boolean>;
  get(identity: string): Promise<CredentialRecord | undefined>;
  put(record: CredentialRecord): Promise<void>;
  /** False when there was no such identity. */
  remove(identity: string): Promise<boolean>;
  list(): Promise<CredentialRecord[]>;
  close(): Promise<void>;
}
