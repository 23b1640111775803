/**
 * Certificates made inside a test (nothing from the repository or the machine): a CA, server certificates for
 * 127.0.0.1/localhost, charger (client) certificates with CN=<identity>, and the bad ones a test needs (another
 * CA's, an expired one). ECDSA P-256 throughout.
 */
import 'reflect-metadata';
import { KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's webcrypto is the WebCrypto the library expects; only the DOM and Node typings differ.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1] & object);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, both PEM, with what a test compares against what a server served. */
export interface IssuedCertificate {
  cert: string;
  key: string;
  /** Hex serial number, as x509 prints it (lower case, no separators). */
  serialNumber: string;
  /** SHA-256 fingerprint, `AB:CD:...` as Node's `getPeerCertificate().fingerprint256` prints it. */
  fingerprint256: string;
}

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** The whole subject instead of `CN=<name>`: no CN, two CNs, or a CN with characters a string form would escape. */
  subject?: x509.JsonName;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function keyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function described(cert: x509.X509Certificate, key: CryptoKey): Promise<IssuedCertificate> {
  const thumbprint = Buffer.from(await cert.getThumbprint('SHA-256'));
  return {
    cert: cert.toString('pem'),
    key: keyPem(key),
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprint256: [...thumbprint].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':'),
  };
}

let serial = Date.now();
/** Positive, unique within the test process. */
function nextSerial(): string {
  return `01${(serial++).toString(16)}`;
}

export class TestCa {
  private constructor(
    private readonly name: string,
    private readonly keys: CryptoKeyPair,
    readonly certificate: IssuedCertificate,
  ) {}

  /** The CA's certificate (PEM): what TLS_CA_FILE holds, or what a client trusts for the server. */
  get cert(): string {
    return this.certificate.cert;
  }

  static async create(commonName = 'Test OCPP CA'): Promise<TestCa> {
    const keys = await keyPair();
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
    return new TestCa(commonName, keys, await described(cert, keys.privateKey));
  }

  /** A server certificate valid for 127.0.0.1, ::1 and localhost. */
  server(options: IssueOptions = {}): Promise<IssuedCertificate> {
    return this.issue('localhost', x509.ExtendedKeyUsage.serverAuth, options, [
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
  }

  /** A charger's certificate: subject CN=<identity>, client authentication. */
  charger(identity: string, options: IssueOptions = {}): Promise<IssuedCertificate> {
    return this.issue(identity, x509.ExtendedKeyUsage.clientAuth, options);
  }

  /** A charger certificate that expired yesterday. */
  expiredCharger(identity: string): Promise<IssuedCertificate> {
    return this.charger(identity, { notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  }

  private async issue(commonName: string, usage: string, options: IssueOptions, altNames?: x509.JsonGeneralNames): Promise<IssuedCertificate> {
    const keys = await keyPair();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([usage]),
      await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
    ];
    if (altNames !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: options.subject ?? `CN=${commonName}`,
      issuer: `CN=${this.name}`,
      notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
      notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions,
    });
    return described(cert, keys.privateKey);
  }
}
