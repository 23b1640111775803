/**
 * What the gateway needs to serve a benchmark fleet over TLS with Basic auth (security profile 2), made fresh for
 * each run in a temporary folder: a CA and a server certificate for 127.0.0.1 (ECDSA P-256, from the same
 * generator the tests use), and a credential file holding every charger of the fleet, pinned to profile 2.
 *
 * Every record carries the same encoded hash of one shared bench password. Hashing 19,000 passwords with scrypt
 * would take minutes before the run could start, and would not change what the gateway does: it still verifies
 * each charger once, with a full scrypt, on that charger's first connection, because its cache of verified
 * credentials is keyed by identity, password and stored hash (src/security/verified-cache.ts), so one charger's
 * success never lets another in. Nothing here is a secret worth keeping: the folder is removed after the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../src/security/password-hash.js';
import { TestCa } from '../test/helpers/test-pki.js';

export interface TlsFleetFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  /** The CA that signed the server certificate: what the simulator trusts (`caFile`). */
  caFile: string;
  credentialsFile: string;
  /** The one password of every charger (the username is the identity). */
  password: string;
  remove(): Promise<void>;
}

/** Writes the server certificate, its CA and a credential file for `identities` (each pinned to profile 2). */
export async function makeTlsFleetFiles(identities: string[]): Promise<TlsFleetFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tls-'));
  try {
    const ca = await TestCa.create('Bench OCPP CA');
    const server = await ca.server();
    const password = randomBytes(18).toString('base64url');
    const passwordHash = await hashPassword(password);
    const updatedAt = new Date().toISOString();
    const chargers: Record<string, { passwordHash: string; minProfile: 2; updatedAt: string }> = {};
    for (const identity of identities) chargers[identity] = { passwordHash, minProfile: 2, updatedAt };
    const files = {
      certFile: join(dir, 'server.pem'),
      keyFile: join(dir, 'server-key.pem'),
      caFile: join(dir, 'ca.pem'),
      credentialsFile: join(dir, 'credentials.json'),
    };
    await writeFile(files.certFile, server.cert);
    await writeFile(files.keyFile, server.key, { mode: 0o600 });
    await writeFile(files.caFile, ca.cert);
    await writeFile(files.credentialsFile, `${JSON.stringify({ version: 1, chargers })}\n`, { mode: 0o600 });
    return { dir, ...files, password, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
