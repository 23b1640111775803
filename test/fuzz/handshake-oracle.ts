/**
 * What the gateway must answer to a WebSocket upgrade request, from the README's rules for chargers and
 * RFC 6455 §4.2, written here without calling gateway code:
 * - first the WebSocket handshake itself (below), then the path, which must be `/ocpp/{identity}` (else 404); the identity one segment, percent-decoded, 1 to 48 printable
 *   ASCII characters without ":" (else 400);
 * - the first offered subprotocol that names a supported version (compared without case) is chosen and echoed
 *   exactly as offered; when none is, the handshake completes without the header and is closed with 1002;
 * - the WebSocket handshake itself: GET only (405), a 16-byte base64 Sec-WebSocket-Key (400), version 13 or 8
 *   (400), and a Sec-WebSocket-Protocol that is a list of distinct RFC 7230 tokens (400);
 * - a request without `Upgrade: websocket` is plain HTTP: 426 on the chargers' path, 404 elsewhere.
 */
import type { HandshakeCase } from './arbitraries.js';

export const PREFIX = '/ocpp/';
const SUPPORTED = ['ocpp1.6', 'ocpp2.0.1'];

export type HandshakeExpectation = { status: 101; protocol: string } | { status: 101; protocol: undefined; close: 1002 } | { status: 400 | 404 | 405 | 426 };

export function identityValid(segment: string): boolean {
  if (segment.length === 0 || segment.includes('/')) return false;
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    return false;
  }
  if (id.length > 48) return false;
  for (const ch of id) {
    const c = ch.codePointAt(0)!;
    if (c < 0x21 || c > 0x7e || ch === ':' || ch === '/') return false;
  }
  return true;
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** RFC 6455 §4.1: a comma-separated list of distinct tokens, optional whitespace around the commas. */
function protocolHeaderWellFormed(header: string): boolean {
  const items = header.split(',').map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (!items.every((t) => TCHAR.test(t))) return false;
  return new Set(items).size === items.length;
}

export function expectedHandshake(c: HandshakeCase): HandshakeExpectation {
  const path = (c.prefix + c.segment + c.query).split('?')[0];
  if (c.variant === 'plain') return { status: path.startsWith(PREFIX) ? 426 : 404 };
  // HTTP drops leading and trailing whitespace of a header value.
  const header = c.protocols?.replace(/^[ \t]+|[ \t]+$/g, '');
  // The WebSocket handshake is checked first, then the path, the identity and the versions offered.
  if (c.method !== 'GET') return { status: 405 };
  if (c.variant === 'noKey' || c.variant === 'badKey' || c.variant === 'version12') return { status: 400 };
  if (header !== undefined && !protocolHeaderWellFormed(header)) return { status: 400 };
  if (!path.startsWith(PREFIX)) return { status: 404 };
  if (!identityValid(path.slice(PREFIX.length))) return { status: 400 };
  const offered =
    header === undefined
      ? []
      : header
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  const chosen = offered.find((p) => SUPPORTED.includes(p.toLowerCase()));
  return chosen !== undefined ? { status: 101, protocol: chosen } : { status: 101, protocol: undefined, close: 1002 };
}

/** The request's bytes for this case. */
export function handshakeRequest(c: HandshakeCase, port: number, key: string): string {
  const headers: Array<[string, string]> = [['Host', `127.0.0.1:${port}`]];
  if (c.variant !== 'plain') {
    headers.push(['Connection', 'Upgrade'], ['Upgrade', 'websocket']);
    if (c.variant !== 'noKey') headers.push(['Sec-WebSocket-Key', c.variant === 'badKey' ? 'not-a-key' : key]);
    headers.push(['Sec-WebSocket-Version', c.variant === 'version8' ? '8' : c.variant === 'version12' ? '12' : '13']);
  }
  if (c.protocols !== undefined) headers.push(['Sec-WebSocket-Protocol', c.protocols]);
  headers.push(...c.extraHeaders);
  return `${c.method} ${c.prefix}${c.segment}${c.query} HTTP/1.1\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}
