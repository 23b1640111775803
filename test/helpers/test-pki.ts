/**
 * Certificates generated inside the test process (ECDSA P-256), never read from the repository: a CA and server
 * certificates it signs for 127.0.0.1, ::1 and localhost.
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key (PEM), with the serial number a test compares against what a server served. */
export interface IssuedCertificate {
  cert: string;
  key: string;
  /** Hex, lower case, as x509 and Node's getPeerCertificate() print it (Node in upper case). */
  serialNumber: string;
  /** SHA-256 fingerprint as `AB:CD:...`, the form of Node's `getPeerCertificate().fingerprint256`. */
  fingerprint256: string;
}

let serial = Date.now();
/** Unique within the process, and positive (a leading 01). */
function nextSerial(): string {
  return `01${(serial++).toString(16)}`;
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

async function describe(cert: x509.X509Certificate, privateKey: webcrypto.CryptoKey): Promise<IssuedCertificate> {
  const thumbprint = Buffer.from(await cert.getThumbprint('SHA-256'));
  return {
    cert: cert.toString('pem'),
    key: KeyObject.from(privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprint256: [...thumbprint].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':'),
  };
}

export class TestCa {
  private constructor(
    private readonly name: string,
    private readonly keys: KeyPair,
    readonly certificate: IssuedCertificate,
  ) {}

  /** The CA certificate (PEM) a client trusts. */
  get cert(): string {
    return this.certificate.cert;
  }

  static async create(commonName = 'Test OCPP CA'): Promise<TestCa> {
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: `CN=${commonName}`,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 30 * DAY_MS),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(commonName, keys, await describe(cert, keys.privateKey));
  }

  /** A server certificate for 127.0.0.1, ::1 and localhost. */
  async server(): Promise<IssuedCertificate> {
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: 'CN=localhost',
      issuer: `CN=${this.name}`,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 30 * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
          { type: 'ip', value: '::1' },
        ]),
      ],
    });
    return describe(cert, keys.privateKey);
  }
}
