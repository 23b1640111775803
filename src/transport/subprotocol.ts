import type { OcppVersion } from '../ocpp/versions.js';

export type SubprotocolChoice =
  /** `header`: the value to echo, exactly as the charger offered it (RFC 6455), or null when it offered none. */
  { kind: 'chosen'; protocol: OcppVersion; header: string | null } | { kind: 'none-acceptable'; offered: string[] };

/**
 * Picks the OCPP version for a connection. The charger lists versions most preferred first, so its order
 * decides among the ones the gateway accepts. A charger that sends no header at all gets the configured
 * fallback version, if any (some field firmware never sends one).
 */
export function chooseSubprotocol(offered: ReadonlySet<string> | undefined, accepted: readonly OcppVersion[], fallback: OcppVersion | null): SubprotocolChoice {
  if (offered === undefined || offered.size === 0) {
    return fallback !== null ? { kind: 'chosen', protocol: fallback, header: null } : { kind: 'none-acceptable', offered: [] };
  }
  for (const candidate of offered) {
    const match = accepted.find((version) => version === candidate.toLowerCase());
    if (match !== undefined) return { kind: 'chosen', protocol: match, header: candidate };
  }
  return { kind: 'none-acceptable', offered: [...offered] };
}

/** Reads `Sec-WebSocket-Protocol` in the client's order (ws's own parser returns a Set, which keeps order). */
export function offeredSubprotocols(header: string | undefined): Set<string> | undefined {
  if (header === undefined) return undefined;
  const values = header
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  return new Set(values);
}
