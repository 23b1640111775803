/**
 * What the gateway must answer to an upgrade that carries credentials or a client certificate, written from the
 * issue's and the README's rules (never from the gateway's code):
 * - the connection's profile is what it proves: a trusted client certificate (chains to the CA, within its
 *   validity) whose subject CN is the identity is profile 3; Basic credentials whose user name is the identity
 *   and whose password matches the store are profile 1 on the plain port, 2 on TLS; anything else proves 0.
 *   Credentials for a charger without a password on record cannot be checked and prove nothing;
 * - a certificate that is untrusted or names someone else: 403. An `Authorization` header that is not
 *   `Basic <base64 of UTF-8 user:password>` (or longer than 1024 characters): 401. A user name that is not the
 *   identity: 401. A wrong password: 401. Every 401 carries a `WWW-Authenticate: Basic` challenge;
 * - the profile needed: the charger's pin, else at least 1 for a charger with a password, else the default (0
 *   here). Below it: 401 when Basic credentials would be enough on this port and none were given, else 403;
 * - throttling (RFC 6585 429 with `Retry-After`): wrong passwords, user name mismatches and malformed headers count
 *   against the identity and the source address; bad certificates against the address only. A key with
 *   `THROTTLE` failures is blocked, and while blocked every attempt is 429 before anything is checked (the
 *   address first; a charger that proves itself with its certificate is not held by its identity's block). A
 *   success clears the identity's count.
 *
 * The throttle model is exact because the fuzzed gateway is configured with windows and blocks longer than any
 * campaign: failures are never forgotten and blocks never lifted (they would otherwise expire on the gateway's
 * clock, which the test cannot read to the millisecond). The lanes draw identities and source addresses
 * (127.0.x.y, never the well-behaved charger's 127.0.0.1) from pools large enough that most inputs still reach the
 * checks behind the throttle, while some keys do reach their limit and get 429.
 */
import { THROTTLE } from './security-fixture.js';

export type AuthorizationReading = { kind: 'none' } | { kind: 'malformed' } | { kind: 'basic'; user: string; password: string };

const MAX_HEADER_CHARS = 1024;
/** RFC 4648 §4 base64, padded: the alphabet, then at most two "=", in groups of four. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * RFC 7235 §2.1 credentials with the RFC 7617 Basic scheme: the scheme (any case), one or more spaces, a token68
 * that is base64 of UTF-8 `user:password` (split at the first colon). `value` is the header's value as HTTP
 * delivers it: leading and trailing spaces and tabs removed.
 */
export function readAuthorization(value: string | undefined): AuthorizationReading {
  if (value === undefined) return { kind: 'none' };
  if (value.length > MAX_HEADER_CHARS) return { kind: 'malformed' };
  const m = /^([Bb][Aa][Ss][Ii][Cc]) +([^ ]+)$/.exec(value);
  if (m === null) return { kind: 'malformed' };
  const token = m[2];
  if (token.length === 0 || token.length % 4 !== 0 || !BASE64.test(token)) return { kind: 'malformed' };
  const bytes = Buffer.from(token, 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'malformed' };
  }
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'malformed' };
  return { kind: 'basic', user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** HTTP drops a header value's surrounding spaces and tabs (RFC 7230 §3.2.4). */
export function asDelivered(raw: string): string {
  return raw.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Failed authentications the gateway has seen, per identity and per source address. */
export class ThrottleModel {
  private readonly identities = new Map<string, number>();
  private readonly addresses = new Map<string, number>();
  blockedIdentity(identity: string): boolean {
    return (this.identities.get(identity) ?? 0) >= THROTTLE.identityFailures;
  }
  blockedAddress(address: string): boolean {
    return (this.addresses.get(address) ?? 0) >= THROTTLE.addressFailures;
  }
  fail(identity: string | undefined, address: string): void {
    if (identity !== undefined) this.identities.set(identity, (this.identities.get(identity) ?? 0) + 1);
    this.addresses.set(address, (this.addresses.get(address) ?? 0) + 1);
  }
  succeed(identity: string): void {
    this.identities.delete(identity);
  }
  /** Keys at their limit, for the report. */
  get blocked(): { identities: number; addresses: number } {
    return {
      identities: [...this.identities.values()].filter((n) => n >= THROTTLE.identityFailures).length,
      addresses: [...this.addresses.values()].filter((n) => n >= THROTTLE.addressFailures).length,
    };
  }
}

/** What the test knows about the charger behind an identity. */
export interface ChargerOnRecord {
  /** Undefined: the store does not know the identity (allowed in, at the default profile 0). */
  password?: string;
  minProfile?: 1 | 2 | 3;
  known: boolean;
}

export interface AttemptFacts {
  /** The decoded identity (already checked valid). */
  identity: string;
  address: string;
  secure: boolean;
  /** The Authorization value as delivered, undefined when absent. */
  authorization: string | undefined;
  certificate: { trusted: boolean; commonName: string | undefined } | undefined;
  charger: ChargerOnRecord;
}

export type AuthExpectation = { status: 101; profile: 0 | 1 | 2 | 3 } | { status: 401; challenge: true } | { status: 403 } | { status: 429; retryAfter: true };

/** The one right answer to an attempt; updates the throttle model as the gateway must update its own. */
export function expectedAttempt(f: AttemptFacts, model: ThrottleModel): AuthExpectation & { why: string } {
  if (model.blockedAddress(f.address)) return { status: 429, retryAfter: true, why: 'address blocked' };
  const certifiedAsIdentity = f.certificate?.trusted === true && f.certificate.commonName === f.identity;
  if (!certifiedAsIdentity && model.blockedIdentity(f.identity)) return { status: 429, retryAfter: true, why: 'identity blocked' };
  let proven: 0 | 1 | 2 | 3 = 0;
  let presented = false;
  if (f.certificate !== undefined) {
    if (!f.certificate.trusted) {
      model.fail(undefined, f.address);
      return { status: 403, why: 'untrusted certificate' };
    }
    if (f.certificate.commonName !== f.identity) {
      model.fail(undefined, f.address);
      return { status: 403, why: 'certificate names someone else' };
    }
    proven = 3;
  } else {
    const auth = readAuthorization(f.authorization);
    if (auth.kind === 'malformed') {
      model.fail(f.identity, f.address);
      return { status: 401, challenge: true, why: 'malformed Authorization' };
    }
    if (auth.kind === 'basic') {
      if (auth.user !== f.identity) {
        model.fail(f.identity, f.address);
        return { status: 401, challenge: true, why: 'user name is not the identity' };
      }
      if (f.charger.password !== undefined) {
        if (auth.password !== f.charger.password) {
          model.fail(f.identity, f.address);
          return { status: 401, challenge: true, why: 'wrong password' };
        }
        proven = f.secure ? 2 : 1;
        presented = true;
      }
    }
  }
  const required = f.charger.minProfile ?? (f.charger.password !== undefined ? 1 : 0);
  if (proven < required) {
    const credentialsWouldDo = !presented && (required === 1 || (required === 2 && f.secure));
    return credentialsWouldDo
      ? { status: 401, challenge: true, why: `needs profile ${required}, no credentials` }
      : { status: 403, why: `needs profile ${required}, proved ${proven}` };
  }
  model.succeed(f.identity);
  return { status: 101, profile: proven, why: `profile ${proven}` };
}
