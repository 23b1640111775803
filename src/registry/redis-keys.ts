/**
 * Key names of the Redis registry. Every key carries a Redis Cluster hash tag (the text between the first `{`
 * and the next `}`), so the keys one script touches always share a hash slot:
 *
 *   {prefix}conn:{<escaped identity>}           hash {instance, epoch}, expires after the claim TTL
 *   {prefix}epoch:{<escaped identity>}          string, the last epoch given to the identity
 *   {prefix}instances:{registry}                hash, instance id → "<expiry ms> <token of the registering process>"
 *   {prefix}txid:{registry}                     string, the last 1.6 transactionId reserved
 *   {prefix}start:{<escaped identity>}:<sha1>   string, the transactionId first given to one 1.6 StartTransaction
 *
 * The identity is escaped so that the tag is exactly the identity and nothing else: every UTF-8 byte outside
 * printable ASCII (0x21–0x7E) and every `%`, `{` and `}` becomes `%XX` (upper-case hex). The escape is
 * reversible, so distinct identities get distinct keys, and the keys are plain ASCII.
 */
import { createHash } from 'node:crypto';

const HEX = '0123456789ABCDEF';
const encoder = new TextEncoder();

/** Percent-encodes what could break a hash tag or a terminal: see the module comment. */
export function escapeKeyPart(text: string): string {
  let out = '';
  let plainFrom = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x20 && code < 0x7f && code !== 0x25 && code !== 0x7b && code !== 0x7d) continue;
    out += text.slice(plainFrom, i);
    // A surrogate pair is one code point: encode both halves together.
    const width = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
    for (const byte of encoder.encode(text.slice(i, i + width))) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    i += width - 1;
    plainFrom = i + 1;
  }
  return out + text.slice(plainFrom);
}

export class RegistryKeys {
  readonly instances: string;
  readonly transactionIds: string;

  constructor(readonly prefix = '') {
    if (/[{}]/.test(prefix)) throw new TypeError(`the registry key prefix must not contain "{" or "}" (it would move the hash tag), got ${JSON.stringify(prefix)}`);
    this.instances = `${prefix}instances:{registry}`;
    this.transactionIds = `${prefix}txid:{registry}`;
  }

  connection(identity: string): string {
    return `${this.prefix}conn:{${escapeKeyPart(identity)}}`;
  }

  epoch(identity: string): string {
    return `${this.prefix}epoch:{${escapeKeyPart(identity)}}`;
  }

  /** One 1.6 StartTransaction of the identity, by a digest of its key (same hash slot as the identity's claim). */
  startTransaction(identity: string, startKey: string): string {
    return `${this.prefix}start:{${escapeKeyPart(identity)}}:${createHash('sha1').update(startKey).digest('hex')}`;
  }
}
