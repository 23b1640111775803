import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Salted slow password hashes with node:crypto scrypt, encoded as `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`.
 *
 * scrypt runs on the libuv thread pool, so a verify never blocks the event loop. N = 2^14, r = 8 (16 MiB, some
 * tens of milliseconds a verify on a server core) is the classic interactive-login setting: slow enough that a stolen
 * file is expensive to brute-force, cheap enough that a reconnect storm (helped by the verified-credentials cache)
 * is absorbed. The parameters travel in each hash, so raising them later leaves existing hashes valid.
 */

export const SCRYPT_COST = { N: 2 ** 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Limits on the parameters a stored hash may ask for. A hash from a tampered or corrupt store must not make one
 * verify take minutes or allocate gigabytes, so anything beyond these is "malformed" and fails the verify.
 */
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
/** scrypt needs about 128·N·r bytes; this caps it (and is passed as maxmem so node:crypto enforces it too). */
const MAX_MEMORY_BYTES = 64 * 1024 * 1024;
/** A password longer than this is refused before hashing: no real charger sends one, and it bounds the work. */
export const MAX_PASSWORD_BYTES = 1024;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string | Buffer, salt: Buffer, length: number, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.N, r: cost.r, p: cost.p, maxmem: MAX_MEMORY_BYTES };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function encode(params: ScryptParams): string {
  return ['scrypt', params.N, params.r, params.p, params.salt.toString('base64'), params.hash.toString('base64')].join('$');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SMALL_INTEGER = /^[1-9][0-9]{0,7}$/;

/** The parameters of an encoded hash, or undefined when it is malformed or asks for more than the limits allow. */
function decode(encoded: unknown): ScryptParams | undefined {
  if (typeof encoded !== 'string' || encoded.length > 512) return undefined;
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, hash] = parts;
  if (!SMALL_INTEGER.test(n) || !SMALL_INTEGER.test(r) || !SMALL_INTEGER.test(p)) return undefined;
  if (!BASE64.test(salt) || !BASE64.test(hash)) return undefined;
  const params: ScryptParams = { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  const nIsPowerOfTwo = params.N >= 2 && (params.N & (params.N - 1)) === 0;
  if (!nIsPowerOfTwo || params.N > 2 ** MAX_LOG2_N || params.r > MAX_R || params.p > MAX_P) return undefined;
  // scrypt's working memory is 128·N·r bytes (plus 128·r·p); keep well inside maxmem.
  if (128 * params.N * params.r + 128 * params.r * params.p > MAX_MEMORY_BYTES / 2) return undefined;
  if (params.salt.length < 8 || params.salt.length > 64 || params.hash.length < 16 || params.hash.length > 64) return undefined;
  return params;
}

/** True when `encoded` is a hash this module can verify (the store checks what it loads with it). */
export function isPasswordHash(encoded: unknown): encoded is string {
  return decode(encoded) !== undefined;
}

/** A salted scrypt hash of `password` (random 16-byte salt: two hashes of one password differ). */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password.length === 0) throw new TypeError('the password must not be empty');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new TypeError(`the password must be at most ${MAX_PASSWORD_BYTES} bytes`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, SCRYPT_COST);
  return encode({ ...SCRYPT_COST, salt, hash });
}

/**
 * Whether `password` matches `encoded`. Never throws: a malformed or absurd hash, a password that is too long,
 * or a failure inside scrypt is a plain `false`. The comparison is constant-time.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const params = decode(encoded);
  if (params === undefined || typeof password !== 'string') return false;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    // Spend the same work as a real verify, so a length probe does not reveal anything either.
    await verifyAgainstDummy('');
    return false;
  }
  try {
    const candidate = await derive(password, params.salt, params.hash.length, params);
    return candidate.length === params.hash.length && timingSafeEqual(candidate, params.hash);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Does the work of one verify against a hash no password matches, and returns false. Called for an identity with
 * no record (or no password), so the answer takes as long as for a known identity with a wrong password and its
 * timing does not tell which identities exist.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(24).toString('base64'));
  const encoded = await dummyHash;
  const truncated = typeof password === 'string' && Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES ? password : '';
  await verifyPassword(truncated, encoded);
  return false;
}
