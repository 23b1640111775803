/** OCPP 2.0.1 caps a charging station identity at 48 characters; 1.6 fleets fit within it too. */
export const MAX_IDENTITY_LENGTH = 48;

export type IdentityCheck = { ok: true; identity: string } | { ok: false; reason: string };

/**
 * The charger's identity from the last path segment, percent-decoded and checked: 1 to 48 visible ASCII
 * characters, no ":" (it would break HTTP Basic auth, where the identity is the username) and no "/".
 */
export function parseIdentity(rawSegment: string): IdentityCheck {
  if (rawSegment.length === 0) return { ok: false, reason: 'the URL has no charge point identity after the path prefix' };
  let identity: string;
  try {
    identity = decodeURIComponent(rawSegment);
  } catch {
    return { ok: false, reason: 'the charge point identity is not valid percent-encoding' };
  }
  if (identity.length > MAX_IDENTITY_LENGTH) {
    return { ok: false, reason: `the charge point identity is longer than ${MAX_IDENTITY_LENGTH} characters` };
  }
  for (let i = 0; i < identity.length; i++) {
    const c = identity.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return { ok: false, reason: 'the charge point identity must be printable ASCII without spaces' };
    if (c === 0x3a) return { ok: false, reason: 'the charge point identity must not contain ":"' };
    if (c === 0x2f) return { ok: false, reason: 'the charge point identity must not contain "/"' };
  }
  return { ok: true, identity };
}
