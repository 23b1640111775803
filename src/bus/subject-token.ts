/**
 * Turns a charger identity into exactly one NATS subject token, so that a consumer can select one charger's
 * events with a subject filter, and back again.
 *
 * Encoding (a backend decodes it the same way):
 * - `A-Z a-z 0-9 _ -` stand for themselves;
 * - every other character is written as its UTF-8 bytes, each as `%` and two UPPER-case hex digits
 *   (`.` → `%2E`, space → `%20`, `*` → `%2A`, `>` → `%3E`, `%` → `%25`, `é` → `%C3%A9`), which is what
 *   `encodeURIComponent` produces for these characters, so ordinary URL-decoding reads it back;
 * - a UTF-16 surrogate with no partner (a JavaScript string can hold one; UTF-8 cannot) is written `%uXXXX`;
 * - the empty string is written `%` (a lone `%` never occurs otherwise).
 *
 * The output only uses `A-Z a-z 0-9 _ - %`, so it is never empty and never holds `.`, `*`, `>` or white space:
 * always one valid token. The encoding is canonical (one spelling per input, upper-case hex), so decoding
 * inverts it and two identities never share a token. A 48-character identity needs at most 144 characters.
 */

const PLAIN = /^[A-Za-z0-9_-]*$/;
const HEX = '0123456789ABCDEF';

function isPlain(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x5f || // _
    code === 0x2d // -
  );
}

function byteEscape(byte: number): string {
  return `%${HEX[byte >> 4]}${HEX[byte & 0xf]}`;
}

export function encodeSubjectToken(value: string): string {
  if (value === '') return '%';
  // Most identities are plain: no allocation beyond the test.
  if (PLAIN.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (isPlain(code)) {
      out += value[i];
    } else if (code < 0x80) {
      out += byteEscape(code);
    } else if (code < 0x800) {
      out += byteEscape(0xc0 | (code >> 6)) + byteEscape(0x80 | (code & 0x3f));
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length && isLowSurrogate(value.charCodeAt(i + 1))) {
      const cp = 0x10000 + ((code - 0xd800) << 10) + (value.charCodeAt(i + 1) - 0xdc00);
      i++;
      out += byteEscape(0xf0 | (cp >> 18)) + byteEscape(0x80 | ((cp >> 12) & 0x3f)) + byteEscape(0x80 | ((cp >> 6) & 0x3f)) + byteEscape(0x80 | (cp & 0x3f));
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += `%u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    } else {
      out += byteEscape(0xe0 | (code >> 12)) + byteEscape(0x80 | ((code >> 6) & 0x3f)) + byteEscape(0x80 | (code & 0x3f));
    }
  }
  return out;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

export class InvalidSubjectTokenError extends Error {
  override name = 'InvalidSubjectTokenError';
  constructor(token: string, reason: string) {
    super(`not an encoded subject token (${reason}): ${JSON.stringify(token.slice(0, 200))}`);
  }
}

/** Inverse of encodeSubjectToken; rejects any spelling encodeSubjectToken would not produce. */
export function decodeSubjectToken(token: string): string {
  if (token === '%') return '';
  if (token === '') throw new InvalidSubjectTokenError(token, 'empty');
  if (PLAIN.test(token)) return token;
  let out = '';
  let i = 0;
  const bytes: number[] = [];
  const flushBytes = () => {
    if (bytes.length === 0) return;
    out += decodeUtf8(bytes, token);
    bytes.length = 0;
  };
  while (i < token.length) {
    const ch = token[i];
    if (ch !== '%') {
      if (!isPlain(token.charCodeAt(i))) throw new InvalidSubjectTokenError(token, `unexpected ${JSON.stringify(ch)}`);
      flushBytes();
      out += ch;
      i++;
      continue;
    }
    if (token[i + 1] === 'u') {
      const hex = token.slice(i + 2, i + 6);
      if (!/^[0-9A-F]{4}$/.test(hex)) throw new InvalidSubjectTokenError(token, 'bad %u escape');
      const code = Number.parseInt(hex, 16);
      if (code < 0xd800 || code > 0xdfff) throw new InvalidSubjectTokenError(token, '%u is only for lone surrogates');
      flushBytes();
      out += String.fromCharCode(code);
      i += 6;
      continue;
    }
    const hex = token.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) throw new InvalidSubjectTokenError(token, 'bad % escape');
    const byte = Number.parseInt(hex, 16);
    if (byte < 0x80 && isPlain(byte)) throw new InvalidSubjectTokenError(token, 'escaped a plain character');
    bytes.push(byte);
    i += 3;
  }
  flushBytes();
  // Lone surrogates must stay lone: a pair written as two %u escapes is not canonical.
  if (encodeSubjectToken(out) !== token) throw new InvalidSubjectTokenError(token, 'not canonical');
  return out;
}

// ignoreBOM: a leading U+FEFF is part of the identity, not a byte-order mark to strip (the default would drop it).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: number[], token: string): string {
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new InvalidSubjectTokenError(token, 'escapes are not UTF-8');
  }
}
