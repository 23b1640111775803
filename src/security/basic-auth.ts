/**
 * HTTP Basic credentials (RFC 7617) as OCPP security profiles 1 and 2 send them. Only parsing: whether they are
 * right is the authenticator's job.
 */

/**
 * The longest `Authorization` value read at all. OCPP passwords are at most 40 characters (1.6) or 64 (2.0.1) and
 * identities 48, so anything near this is not a charger; refusing it before decoding keeps decoding cheap.
 */
export const MAX_AUTHORIZATION_HEADER_CHARS = 1024;

export type BasicCredentials = { kind: 'none' } | { kind: 'malformed'; reason: string } | { kind: 'credentials'; username: string; password: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads an `Authorization` header; never throws, and a reason never repeats any part of the header. */
export function parseBasicAuthorization(header: string | string[] | undefined): BasicCredentials {
  if (header === undefined) return { kind: 'none' };
  if (Array.isArray(header)) return { kind: 'malformed', reason: 'more than one Authorization header' };
  if (header.length > MAX_AUTHORIZATION_HEADER_CHARS)
    return { kind: 'malformed', reason: `the Authorization header is longer than ${MAX_AUTHORIZATION_HEADER_CHARS} characters` };
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(header);
  if (match === null) return { kind: 'malformed', reason: 'the Authorization header is not "Basic <base64>"' };
  const encoded = match[1];
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return { kind: 'malformed', reason: 'the Basic credentials are not valid base64' };
  const decoded = Buffer.from(encoded, 'base64');
  // RFC 7617 with charset="UTF-8" (the challenge we send): bytes that are not UTF-8 cannot be a charger's identity.
  let text: string;
  try {
    // ignoreBOM: a leading U+FEFF is part of the user name (and so never matches an identity), not dropped.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(decoded);
  } catch {
    return { kind: 'malformed', reason: 'the Basic credentials are not UTF-8' };
  }
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'malformed', reason: 'the Basic credentials have no ":" between user name and password' };
  return { kind: 'credentials', username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The challenge of every 401: the realm chargers are configured with, and the charset we decode with. */
export const BASIC_CHALLENGE = 'Basic realm="OCPP", charset="UTF-8"';
