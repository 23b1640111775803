import type { OcppVersion } from '../ocpp/versions.js';
import { jitteredRetryAfter } from '../transport/token-bucket.js';
import { BASIC_CHALLENGE, parseBasicAuthorization } from './basic-auth.js';
import type { CredentialRecord, CredentialStore, SecurityProfile } from './credential-store.js';
import { FailureThrottle, type FailureThrottleOptions } from './failure-throttle.js';
import { VerifierBusyError } from './password-verifier.js';

/** What the authenticator needs to know about one upgrade request; nothing here is ever logged whole. */
export interface ConnectionFacts {
  /** The percent-decoded identity from the path. */
  identity: string;
  remoteAddress: string;
  /** Arrived on the TLS port. */
  secure: boolean;
  /** The raw `Authorization` header(s). */
  authorization: string | string[] | undefined;
  /** The client certificate, when one was presented on the TLS port (only asked for when a CA is configured). */
  certificate: ClientCertificate | undefined;
}

export interface ClientCertificate {
  /** It chains to the configured CA and is within its validity (Node's `socket.authorized`). */
  trusted: boolean;
  /** The subject's CN; undefined when absent or when the subject has several. */
  commonName: string | undefined;
}

export type AuthenticationVerdict =
  /** `protocol`: the charger's protocol pin; the listener picks it among the offered versions or refuses (403). */
  { ok: true; profile: SecurityProfile; protocol?: OcppVersion } | { ok: false; status: number; reason: string; outcome: string; headers?: Record<string, string> };

export interface ChargerAuthenticatorOptions {
  store: CredentialStore;
  /**
   * Checks a password against the record's salted hash (scrypt, constant-time compare, a cache of verified
   * credentials); must never throw for a malformed hash.
   */
  verifyPassword(identity: string, password: string, record: CredentialRecord | undefined): Promise<boolean>;
  /** Undefined: allowed while the store holds no record at all (the quick start), refused once it does. */
  allowUnknown: boolean | undefined;
  /** The lowest profile for a charger without a pin of its own (unknown chargers included). */
  defaultProfile: SecurityProfile;
  perIdentity: FailureThrottleOptions;
  perAddress: FailureThrottleOptions;
  /** Tells the operator why the store could not be read (never called with a secret). */
  onStoreError(err: unknown): void;
  now?: () => number;
}

/** How long a seen "the store exists / does not exist yet" is trusted before it is asked again. */
const PRESENCE_RECHECK_MS = 2000;

/** What a connection proved (certificate, password or nothing), or why it is refused. */
type ProvenProfile = { ok: true; profile: SecurityProfile; presentedCredentials: boolean } | Extract<AuthenticationVerdict, { ok: false }>;

const CHALLENGE = { 'WWW-Authenticate': BASIC_CHALLENGE };

function retryAfter(ms: number): Record<string, string> {
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) };
}

/**
 * Decides whether an upgrade may become a session, and with which OCPP security profile: 0 (plain, nothing
 * proven), 1 (Basic auth on the plain port), 2 (Basic auth over TLS), 3 (a client certificate over TLS that
 * chains to the CA and names the identity). The profile is what the gateway verified, never what a charger
 * claims: credentials for an identity the store does not know cannot be checked and are ignored.
 *
 * Refusals: 401 with a Basic challenge for missing, malformed or wrong credentials; 403 for a profile below the
 * charger's pin (or the default), a certificate that is untrusted or names someone else (the protocol pin is
 * enforced by the listener, which knows the offered versions);
 * 404 for an unknown identity when those are not allowed; 429 while a throttle holds the address or identity.
 */
export class ChargerAuthenticator {
  private readonly identities: FailureThrottle;
  private readonly addresses: FailureThrottle;
  private readonly now: () => number;
  private presence: { exists: boolean; checkedAt: number } | undefined;
  private presenceCheck: Promise<boolean> | undefined;

  constructor(private readonly options: ChargerAuthenticatorOptions) {
    this.identities = new FailureThrottle(options.perIdentity, options.now);
    this.addresses = new FailureThrottle(options.perAddress, options.now);
    this.now = options.now ?? Date.now;
  }

  /** Keys tracked by the two throttles (bounded by their `maxTracked`). */
  get trackedFailures(): { identities: number; addresses: number } {
    return { identities: this.identities.size, addresses: this.addresses.size };
  }

  /**
   * A verdict at once when nothing has to be waited for: no credential store in use (the quick start, and any fleet
   * without credentials) and no password to verify (no credentials presented, or a client certificate). The
   * upgrade is then decided inside ws's handling of the request, with no promise, no microtask and no async frame
   * per connection, which a reconnect storm pays 19,000 times. A promise when the store must be read (whenever one
   * is in use, certificates included: the record holds the pins) or a password verified.
   */
  authenticate(facts: ConnectionFacts): AuthenticationVerdict | Promise<AuthenticationVerdict> {
    const { identity, remoteAddress } = facts;
    const addressWait = this.addresses.retryAfterMs(remoteAddress);
    if (addressWait > 0) return this.throttled('throttled_address', 'too many failed authentications from this address', addressWait);
    const certificate = facts.secure ? facts.certificate : undefined;
    // A certificate naming this identity cannot be guessed: the identity's lock (meant for password guessing) does
    // not keep the real charger out when it proves itself that way.
    const certifiedAsIdentity = certificate?.trusted === true && certificate.commonName === identity;
    if (!certifiedAsIdentity) {
      const identityWait = this.identities.retryAfterMs(identity);
      if (identityWait > 0) return this.throttled('throttled_identity', 'too many failed authentications for this identity', identityWait);
    }
    // With the default (unknown chargers allowed while there is no store) a fleet without credentials never
    // reads the store per connection: only whether one exists yet, checked now and then.
    if (this.options.allowUnknown === undefined && this.recentPresence() === false) return this.decide(facts, undefined, false);
    return this.authenticateFromStore(facts);
  }

  /** Whether the store exists, as last seen, while that is recent enough to trust; undefined: it must be asked. */
  private recentPresence(): boolean | undefined {
    const presence = this.presence;
    return presence !== undefined && this.now() - presence.checkedAt < PRESENCE_RECHECK_MS ? presence.exists : undefined;
  }

  private async authenticateFromStore(facts: ConnectionFacts): Promise<AuthenticationVerdict> {
    let record: CredentialRecord | undefined;
    let storeInUse: boolean;
    try {
      storeInUse = this.options.allowUnknown !== undefined || (await this.storeExists());
      record = storeInUse ? await this.options.store.get(facts.identity) : undefined;
    } catch (err) {
      this.options.onStoreError(err);
      return {
        ok: false,
        status: 503,
        reason: 'the credential store cannot be read; reconnect later',
        outcome: 'credentials_unavailable',
        headers: { 'Retry-After': '10' },
      };
    }
    return this.decide(facts, record, storeInUse);
  }

  /** With the charger's record read (or none to read): whether it may connect, and with which profile. */
  private decide(facts: ConnectionFacts, record: CredentialRecord | undefined, storeInUse: boolean): AuthenticationVerdict | Promise<AuthenticationVerdict> {
    if (record === undefined && !(this.options.allowUnknown ?? !storeInUse)) {
      this.addresses.fail(facts.remoteAddress);
      return { ok: false, status: 404, reason: 'this charge point identity is not known to the gateway', outcome: 'unknown_identity' };
    }
    const proven = this.provenProfile(facts, record);
    return proven instanceof Promise ? proven.then((p) => this.judge(facts, record, p)) : this.judge(facts, record, proven);
  }

  /** The profile proven against the one required. */
  private judge(facts: ConnectionFacts, record: CredentialRecord | undefined, proven: ProvenProfile): AuthenticationVerdict {
    if (!proven.ok) return proven;
    const required = this.requiredProfile(record);
    if (proven.profile < required) {
      // Credentials would lift a plain or TLS connection to profile 1 or 2: ask for them, as HTTP does.
      const credentialsWouldDo = !proven.presentedCredentials && (required === 1 || (required === 2 && facts.secure));
      if (credentialsWouldDo) return { ok: false, status: 401, reason: 'this charger must authenticate (HTTP Basic)', outcome: 'auth_missing', headers: CHALLENGE };
      return {
        ok: false,
        status: 403,
        reason: `this charger must connect with security profile ${required} or higher; this connection is profile ${proven.profile}`,
        outcome: 'profile_too_low',
      };
    }
    this.identities.reset(facts.identity);
    return { ok: true, profile: proven.profile, protocol: record?.protocol };
  }

  /**
   * Whether the store holds (or held) any record, re-checked at most every PRESENCE_RECHECK_MS: a Redis store
   * costs a round trip, and a fleet without credentials must not depend on Redis (or wait for it) to connect.
   * Once a store exists it never stops existing, so a stale "absent" lasts at most one re-check, and a store that
   * cannot be read is taken to be as it was last seen (absent: nothing to check; present: the record read fails).
   */
  private async storeExists(): Promise<boolean> {
    const recent = this.recentPresence();
    if (recent !== undefined) return recent;
    this.presenceCheck ??= this.options.store
      .exists()
      .then((exists) => {
        this.presence = { exists, checkedAt: this.now() };
        return exists;
      })
      .finally(() => {
        this.presenceCheck = undefined;
      });
    try {
      return await this.presenceCheck;
    } catch (err) {
      if (this.presence === undefined) throw err;
      this.options.onStoreError(err);
      return this.presence.exists;
    }
  }

  /** A charger with a password is at least profile 1 whatever the default; a pin overrides both. */
  private requiredProfile(record: CredentialRecord | undefined): SecurityProfile {
    const { defaultProfile } = this.options;
    if (record?.minProfile !== undefined) return record.minProfile;
    if (record?.passwordHash !== undefined) return Math.max(1, defaultProfile) as SecurityProfile;
    return defaultProfile;
  }

  /** What the connection proved; a promise only when a password has to be verified. */
  private provenProfile(facts: ConnectionFacts, record: CredentialRecord | undefined): ProvenProfile | Promise<ProvenProfile> {
    const { identity, remoteAddress, secure } = facts;
    const certificate = secure ? facts.certificate : undefined;
    if (certificate !== undefined) {
      if (!certificate.trusted) {
        this.addresses.fail(remoteAddress);
        return { ok: false, status: 403, reason: 'the client certificate is not trusted (unknown CA, expired or not yet valid)', outcome: 'certificate_untrusted' };
      }
      if (certificate.commonName !== identity) {
        this.addresses.fail(remoteAddress);
        return { ok: false, status: 403, reason: "the client certificate's subject CN is not this charge point identity", outcome: 'certificate_mismatch' };
      }
      return { ok: true, profile: 3, presentedCredentials: true };
    }
    const credentials = parseBasicAuthorization(facts.authorization);
    if (credentials.kind === 'none') return { ok: true, profile: 0, presentedCredentials: false };
    if (credentials.kind === 'malformed') {
      this.failed(identity, remoteAddress);
      return { ok: false, status: 401, reason: credentials.reason, outcome: 'auth_malformed', headers: CHALLENGE };
    }
    if (credentials.username !== identity) {
      this.failed(identity, remoteAddress);
      return { ok: false, status: 401, reason: 'the Basic auth user name must be the charge point identity', outcome: 'username_mismatch', headers: CHALLENGE };
    }
    return this.verifiedProfile(facts, credentials.password, record);
  }

  private async verifiedProfile(facts: ConnectionFacts, password: string, record: CredentialRecord | undefined): Promise<ProvenProfile> {
    const { identity, remoteAddress, secure } = facts;
    // Nothing to check them against (an unknown charger, or one that authenticates by certificate only): the
    // connection has proven nothing, and the required profile decides.
    if (record?.passwordHash === undefined) {
      // The same scrypt run a wrong password costs a charger that has one, so timing does not tell which do.
      await this.options.verifyPassword(identity, password, record).catch(() => false);
      return { ok: true, profile: 0, presentedCredentials: false };
    }
    let verified: boolean;
    try {
      verified = await this.options.verifyPassword(identity, password, record);
    } catch (err) {
      if (!(err instanceof VerifierBusyError)) throw err;
      // Not a failure of the charger's: nothing is counted against it, and it comes back after a spread wait.
      return {
        ok: false,
        status: 503,
        reason: 'the gateway is checking many passwords at once (a reconnect storm); reconnect later',
        outcome: 'auth_busy',
        headers: { 'Retry-After': jitteredRetryAfter(5) },
      };
    }
    if (!verified) {
      this.failed(identity, remoteAddress);
      return { ok: false, status: 401, reason: 'wrong user name or password', outcome: 'auth_failed', headers: CHALLENGE };
    }
    return { ok: true, profile: secure ? 2 : 1, presentedCredentials: true };
  }

  private failed(identity: string, remoteAddress: string): void {
    this.identities.fail(identity);
    this.addresses.fail(remoteAddress);
  }

  private throttled(outcome: string, reason: string, waitMs: number): Extract<AuthenticationVerdict, { ok: false }> {
    return { ok: false, status: 429, reason: `${reason}; retry later`, outcome, headers: retryAfter(waitMs) };
  }
}
