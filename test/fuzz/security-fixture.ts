/**
 * What the fuzzed gateway is given for its security lanes, made at campaign start in a temp folder: a CA, a server
 * certificate, the CA file for client certificates, a credential store file with chargers of every kind, and a
 * config file that makes the authentication throttle's memory outlast the campaign (so the test's throttle model
 * is exact, see credentials-oracle.ts). Client certificates are issued on demand and cached.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IssuedCertificate, TestCa } from '../helpers/test-pki.js';

/** The chargers in the store, by what the issue's rules demand of them. */
export type StoreGroup = 'p1' | 'p2' | 'p3';

/**
 * Failed authentications that block a key. The gateway is configured with these numbers (and windows and blocks of
 * an hour), so the oracle does not read the gateway's defaults.
 */
export const THROTTLE = { identityFailures: 5, addressFailures: 20 } as const;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface StoreCharger {
  identity: string;
  group: StoreGroup;
  /** Undefined for profile-3 chargers, which have no password. */
  password: string | undefined;
}

export interface SecurityFixture {
  dir: string;
  ca: TestCa;
  /** PEM of the CA that signed the server certificate: what a client trusts. */
  caCert: string;
  /** Environment for the gateway process (TLS files, store, config folder). */
  /** TLS_PORT is 0: the kernel picks it when the gateway binds, and the gateway reports it. */
  env(): Record<string, string>;
  chargers: Record<StoreGroup, StoreCharger[]>;
  /** Every password in the store: none may ever appear in the gateway's output. */
  passwords: string[];
  /** A client certificate of a kind, cached per identity and kind. */
  clientCertificate(kind: CertificateKind, identity: string): Promise<IssuedCertificate>;
  cleanup(): Promise<void>;
}

export type CertificateKind = 'right' | 'wrongCa' | 'expired' | 'notYetValid' | 'noCn' | 'twoCn';

/** An scrypt hash in the store's documented form, with a small N: set-up stays fast and the gateway verifies it as any other. */
function cheapHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const N = 1024;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N, r: 8, p: 1 }, (err, key) =>
      err ? reject(err) : resolve(['scrypt', N, 8, 1, salt.toString('base64'), key.toString('base64')].join('$')),
    ),
  );
}

/**
 * Identities of the store. Some carry characters that must be percent-encoded in a URL ("%", "+", "@") so the
 * lanes can check the user name is compared with the decoded identity. Passwords hold ":" and non-ASCII letters.
 */
function storeChargers(seed: number): Record<StoreGroup, StoreCharger[]> {
  const odd = ['', '%', '+', '@', '~', '%41'];
  const make = (group: StoreGroup, count: number): StoreCharger[] =>
    Array.from({ length: count }, (_, i) => ({
      identity: `fzc-${group}-${seed % 100000}-${i}${odd[i % odd.length]}`,
      group,
      password: group === 'p3' ? undefined : `pw:${randomBytes(9).toString('base64')}-é${i}`,
    }));
  // Hundreds of each, so identity blocks (which last the whole campaign) leave most of them usable in long runs.
  return { p1: make('p1', 300), p2: make('p2', 150), p3: make('p3', 100) };
}

export async function createSecurityFixture(seed: number): Promise<SecurityFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-security-'));
  const ca = await TestCa.create('Fuzz CA');
  const wrongCa = await TestCa.create('Fuzz CA');
  const server = await ca.server();
  const chargers = storeChargers(seed);
  const records: Record<string, Record<string, unknown>> = {};
  const updatedAt = new Date().toISOString();
  for (const c of [...chargers.p1, ...chargers.p2, ...chargers.p3]) {
    records[c.identity] = {
      ...(c.password !== undefined ? { passwordHash: await cheapHash(c.password) } : {}),
      ...(c.group === 'p2' ? { minProfile: 2 } : c.group === 'p3' ? { minProfile: 3 } : {}),
      updatedAt,
    };
  }
  const configDir = join(dir, 'config');
  await mkdir(configDir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'server.pem'), server.cert),
    writeFile(join(dir, 'server.key'), server.key, { mode: 0o600 }),
    writeFile(join(dir, 'ca.pem'), ca.cert),
    writeFile(join(dir, 'credentials.json'), JSON.stringify({ version: 1, chargers: records }), { mode: 0o600 }),
    // Windows and blocks of an hour: a key's failures are never forgotten, nor its block lifted, during a campaign.
    writeFile(
      join(configDir, 'application.yaml'),
      [
        'security:',
        '  identityFailures:',
        `    { maxFailures: ${THROTTLE.identityFailures}, windowMs: ${HOUR_MS}, blockMs: ${HOUR_MS}, maxBlockMs: ${HOUR_MS} }`,
        '  addressFailures:',
        `    { maxFailures: ${THROTTLE.addressFailures}, windowMs: ${HOUR_MS}, blockMs: ${HOUR_MS}, maxBlockMs: ${HOUR_MS} }`,
        '',
      ].join('\n'),
    ),
  ]);
  const cache = new Map<string, Promise<IssuedCertificate>>();
  const issue = (kind: CertificateKind, identity: string): Promise<IssuedCertificate> => {
    // @peculiar/x509 reads a JSON name's values with escapes ("\\x" is x, a leading "#" is hex): escape them so
    // the CN is exactly the identity.
    const cn = [{ CN: [identity.replace(/\\/g, '\\\\').replace(/^#/, '\\#')] }];
    switch (kind) {
      // The subject as an attribute list: a CN with ",", "+" or "=" is then exactly what it says.
      case 'right':
        return ca.charger(identity, { subject: cn });
      case 'wrongCa':
        return wrongCa.charger(identity, { subject: cn });
      case 'expired':
        return ca.charger(identity, { subject: cn, notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
      case 'notYetValid':
        return ca.charger(identity, { subject: cn, notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 30 * DAY_MS) });
      case 'noCn':
        return ca.charger(identity, { subject: [{ O: ['Fuzz'] }, { OU: cn[0].CN }] });
      case 'twoCn':
        return ca.charger(identity, { subject: [...cn, { CN: ['twin'] }] });
    }
  };
  return {
    dir,
    ca,
    caCert: ca.cert,
    env: () => ({
      TLS_PORT: '0',
      TLS_CERT_FILE: join(dir, 'server.pem'),
      TLS_KEY_FILE: join(dir, 'server.key'),
      TLS_CA_FILE: join(dir, 'ca.pem'),
      CREDENTIALS_FILE: join(dir, 'credentials.json'),
      ALLOW_UNKNOWN_CHARGERS: 'true',
      CONFIG_DIR: configDir,
    }),
    chargers,
    passwords: [...chargers.p1, ...chargers.p2].map((c) => c.password!),
    clientCertificate(kind, identity) {
      const key = `${kind}\u0000${identity}`;
      let cert = cache.get(key);
      if (cert === undefined) {
        // Bounded: identities come from fixed pools and a short list of odd names.
        cert = issue(kind, identity);
        cache.set(key, cert);
      }
      return cert;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
