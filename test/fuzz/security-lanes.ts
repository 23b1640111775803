/**
 * The campaign's security lanes, against the same gateway process as the others (it also serves TLS and has a
 * credential store, see security-fixture.ts):
 * - credentials: upgrade requests with every kind of `Authorization` header, over plain and TLS, to chargers of
 *   every profile and to unknown ones, from many source addresses; credentials-oracle.ts says the one right answer;
 * - client certificates: from the right CA, a wrong one, expired, not yet valid, naming someone else, without a CN,
 *   with two, with odd characters; the same oracle;
 * - TLS handshakes: a real client (node:tls) whose bytes pass through a cutter that stops, garbles or stalls the
 *   handshake at each step, plus random bytes and plain HTTP on the TLS port. Each must be counted once in
 *   `ocpp_tls_client_errors_total`, and a stalled one dropped by the gateway within its handshake timeout.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { type AuthExpectation, asDelivered, type ChargerOnRecord, expectedAttempt, type ThrottleModel } from './credentials-oracle.js';
import { identityValid } from './handshake-oracle.js';
import { describeInput, FuzzFailure, type Lane, Recent, sleep, type Tally } from './lane.js';
import type { CertificateKind, SecurityFixture, StoreCharger } from './security-fixture.js';
import { RawConnection, standardHeaders, upgradeRequest } from './wire.js';

export interface SecurityTarget {
  port: number;
  tlsPort: number;
  fixture: SecurityFixture;
  throttle: ThrottleModel;
  /** Expected outcomes by kind (shows the oracle was exercised) and accepted connections by proven profile. */
  tally: Tally;
  profiles: Tally;
  /** Strings the gateway must never print: every Authorization value sent and every password in it. */
  secrets: Set<string>;
}

const SECRETS_KEPT = 500;

/**
 * Source addresses of a lane: a few "hot" ones that soon reach the address limit (so 429 is exercised), and
 * thousands of others that rarely do (so the checks behind the throttle stay reachable in long runs). Each lane
 * has its own 127.N.0.0/16; the well-behaved charger and the older lanes use 127.0.0.1.
 */
const addressArb = fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 4, arbitrary: fc.integer({ min: 3, max: 3000 }) });
function sourceAddress(lane: number, n: number): string {
  return `127.${lane}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}
/** Likewise identities: a hot few of each pool, and the rest. */
const indexArb = fc.oneof({ weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 4, arbitrary: fc.nat(100_000) });

function keepSecret(t: SecurityTarget, s: string): void {
  // Short strings would match log text by chance; a bounded sample keeps the final scan cheap.
  if (s.length >= 12 && t.secrets.size < SECRETS_KEPT) t.secrets.add(s);
}

// ---------------------------------------------------------------------------------------------------------------
// Connections.

/** A TLS connection from `localAddress`, the handshake done, as a raw connection for HTTP bytes. */
async function openTls(t: SecurityTarget, localAddress: string, cert?: { cert: string; key: string }): Promise<RawConnection> {
  const socket = tlsConnect({
    socket: netConnect({ host: '127.0.0.1', port: t.tlsPort, localAddress }),
    servername: 'localhost',
    ca: t.fixture.caCert,
    ...(cert ?? {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return RawConnection.over(socket);
}

/** Sends the upgrade and checks the answer against the expectation. */
async function checkAnswer(c: RawConnection, expected: AuthExpectation | { status: 400 }, what: string): Promise<void> {
  const head = await c.readHead(5000);
  if (head === undefined) throw new FuzzFailure(`${what}: no HTTP answer (expected ${expected.status})${c.ended ? '; the connection was closed' : ''}`);
  if (head.status !== expected.status) {
    throw new FuzzFailure(`${what}: expected HTTP ${expected.status}, got ${head.raw.split('\r\n')[0]} (${(await c.readRefusalBody(500)).trim().slice(0, 200)})`);
  }
  if ('challenge' in expected && !/^basic\b/i.test(head.headers['www-authenticate'] ?? '')) {
    throw new FuzzFailure(`${what}: a 401 without a Basic WWW-Authenticate challenge: ${head.raw}`);
  }
  if ('retryAfter' in expected && !/^[1-9]\d*$/.test(head.headers['retry-after'] ?? '')) throw new FuzzFailure(`${what}: a 429 without a Retry-After: ${head.raw}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials.

type Group = 'p1' | 'p2' | 'p3' | 'unknown';
type UserSpec = 'identity' | 'upper' | 'other' | 'empty' | 'encoded' | 'padded';
type PasswordSpec = 'right' | 'wrong' | 'empty' | 'rightPlusSpace' | 'prefix' | 'long';

export type AuthSpec =
  | { kind: 'none' }
  | { kind: 'basic'; scheme: string; spaces: number; user: UserSpec; password: PasswordSpec; pad: string }
  | { kind: 'token'; scheme: string; token: string }
  | { kind: 'undecodable'; bytes: Buffer }
  | { kind: 'raw'; value: string }
  | { kind: 'huge'; length: number };

export interface CredentialCase {
  group: Group;
  index: number;
  /** Which characters of the identity are percent-encoded in the path (all, none, or the bits of a mask). */
  spelling: 'plain' | 'all' | number;
  secure: boolean;
  address: number;
  auth: AuthSpec;
}

/** Bytes a header value may hold (RFC 7230 field-vchar, obs-text, space, tab), as a latin1 string. */
const headerChar = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.constantFrom(0x09) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
const headerValue = (max: number) => fc.array(headerChar, { maxLength: max }).map((codes) => String.fromCharCode(...codes));

const schemeArb = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('Basic') }, { weight: 1, arbitrary: fc.constantFrom('basic', 'BASIC', 'bAsIc') });

const authArb: fc.Arbitrary<AuthSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('basic' as const),
      scheme: schemeArb,
      spaces: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) }),
      user: fc.oneof(
        { weight: 8, arbitrary: fc.constant('identity' as const) },
        { weight: 1, arbitrary: fc.constantFrom('upper' as const, 'other' as const, 'empty' as const, 'encoded' as const, 'padded' as const) },
      ),
      password: fc.oneof(
        { weight: 5, arbitrary: fc.constant('right' as const) },
        { weight: 3, arbitrary: fc.constant('wrong' as const) },
        { weight: 1, arbitrary: fc.constantFrom('empty' as const, 'rightPlusSpace' as const, 'prefix' as const, 'long' as const) },
      ),
      // Spaces around the value, which HTTP drops.
      pad: fc.constantFrom('', '', '', ' ', '\t', '  '),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('token' as const),
      scheme: fc.constantFrom('Basic', 'Bearer', 'Digest', 'Basicx', 'Negotiate', 'Basic:', ''),
      token: fc.oneof(
        fc.constantFrom('', 'dXNlcjpwYXNz', 'dXNlcjpwYXNz=', 'dXNlcjpwYXN', 'dXNl cjpw', 'dXNlcjpw_-==', '====', 'YQ', 'YWI6Yw==Zg==', '!!!!', 'dXNlcjpwYXNz dXNl'),
        fc.base64String({ maxLength: 40 }),
        fc.string({ unit: fc.constantFrom(...'ABCabc012+/=-_.~!'.split('')), maxLength: 30 }),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('undecodable' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      value: fc.oneof(
        headerValue(80),
        headerValue(40).map((v) => `Basic ${v}`),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('huge' as const), length: fc.oneof(fc.integer({ min: 1000, max: 1100 }), fc.integer({ min: 1100, max: 12_000 })) }),
  },
);

export const credentialCaseArb: fc.Arbitrary<CredentialCase> = fc.record({
  group: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('p1' as const, 'p2' as const) }, { weight: 1, arbitrary: fc.constantFrom('p3' as const, 'unknown' as const) }),
  index: indexArb,
  spelling: fc.oneof(
    { weight: 6, arbitrary: fc.constant('plain' as const) },
    { weight: 1, arbitrary: fc.constant('all' as const) },
    { weight: 1, arbitrary: fc.nat(255) },
  ),
  secure: fc.boolean(),
  address: addressArb,
  auth: authArb,
});

/** The credentials lane's chargers: the store's, less those the certificate lane uses. */
function credentialCharger(t: SecurityTarget, seed: number, c: CredentialCase): { identity: string; record: ChargerOnRecord } {
  if (c.group === 'unknown') return { identity: `fzc-u-${seed % 100000}-${c.index % 500}`, record: { known: false } };
  const pool = credentialPool(t.fixture, c.group);
  const charger = pool[c.index % pool.length];
  return { identity: charger.identity, record: recordOf(charger) };
}

function credentialPool(f: SecurityFixture, group: 'p1' | 'p2' | 'p3'): StoreCharger[] {
  const all = f.chargers[group];
  return group === 'p2' ? all : all.slice(0, Math.floor(all.length / 2));
}

function certificatePool(f: SecurityFixture, group: 'p1' | 'p3'): StoreCharger[] {
  const all = f.chargers[group];
  return all.slice(Math.floor(all.length / 2));
}

function recordOf(c: StoreCharger): ChargerOnRecord {
  return { known: true, password: c.password, minProfile: c.group === 'p2' ? 2 : c.group === 'p3' ? 3 : undefined };
}

/** The identity as it appears in the path: percent-encoded where asked (an unreserved character may be too). */
function spell(identity: string, spelling: CredentialCase['spelling']): string {
  const chars = [...identity];
  const encodeChar = (ch: string) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  return chars
    .map((ch, i) => {
      const must = !/[A-Za-z0-9\-._~!$&'()*+,;=@]/.test(ch);
      const asked = spelling === 'all' || (typeof spelling === 'number' && ((spelling >> (i % 8)) & 1) === 1);
      return must || asked ? encodeChar(ch) : ch;
    })
    .join('');
}

function authorizationValue(spec: AuthSpec, identity: string, password: string | undefined): string | undefined {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'basic': {
      const user =
        spec.user === 'identity'
          ? identity
          : spec.user === 'upper'
            ? identity.toUpperCase()
            : spec.user === 'other'
              ? `${identity}x`
              : spec.user === 'empty'
                ? ''
                : spec.user === 'encoded'
                  ? encodeURIComponent(identity).replace(/-/g, '%2D')
                  : `${identity} `;
      const right = password ?? 'no-password-on-record';
      const pass =
        spec.password === 'right'
          ? right
          : spec.password === 'wrong'
            ? `${right}-wrong`
            : spec.password === 'empty'
              ? ''
              : spec.password === 'rightPlusSpace'
                ? `${right} `
                : spec.password === 'prefix'
                  ? right.slice(0, -1)
                  : 'p'.repeat(2000);
      return `${spec.pad}${spec.scheme}${' '.repeat(spec.spaces)}${b64(`${user}:${pass}`)}${spec.pad}`;
    }
    case 'token':
      return spec.scheme === '' ? spec.token : `${spec.scheme} ${spec.token}`;
    case 'undecodable':
      return `Basic ${spec.bytes.toString('base64')}`;
    case 'raw':
      return spec.value;
    case 'huge':
      return `Basic ${b64(`${identity}:`)}${'A'.repeat(Math.max(0, spec.length - 40))}`;
  }
}

export function credentialsLane(t: SecurityTarget, seed: number): Lane<CredentialCase> {
  const recent = new Recent();
  return {
    name: 'credentials',
    arb: credentialCaseArb,
    recent,
    async run(input) {
      recent.add(describeInput(input));
      const { identity, record } = credentialCharger(t, seed, input);
      const segment = spell(identity, input.spelling);
      if (!identityValid(segment)) throw new FuzzFailure(`the lane spelled ${identity} as ${segment}, which is not a valid identity`);
      const address = sourceAddress(2, input.address);
      const raw = authorizationValue(input.auth, identity, record.password);
      const headers = standardHeaders(input.secure ? t.tlsPort : t.port, 'ocpp1.6');
      if (raw !== undefined) {
        headers.push(['Authorization', raw]);
        keepSecret(t, asDelivered(raw));
      }
      const expected = expectedAttempt(
        { identity, address, secure: input.secure, authorization: raw === undefined ? undefined : asDelivered(raw), certificate: undefined, charger: record },
        t.throttle,
      );
      t.tally.add(`${input.secure ? 'tls' : 'plain'} ${expected.status} (${expected.why})`);
      if (expected.status === 101) t.profiles.add(String(expected.profile));
      const c = input.secure ? await openTls(t, address) : await RawConnection.open(t.port, address);
      try {
        c.write(Buffer.from(upgradeRequest(`/ocpp/${segment}`, headers), 'latin1'));
        await checkAnswer(c, expected, `${identity} (${expected.why})`);
      } finally {
        c.destroy();
      }
    },
    async close() {},
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Client certificates.

export interface CertificateCase {
  target: { kind: 'p1' | 'p3' | 'unknown'; index: number } | { kind: 'odd'; cn: string };
  certificate: CertificateKind | 'none' | 'otherIdentity' | 'caseChanged';
  address: number;
}

/** Subject CNs with characters a string form of a name escapes, or that the identity rules refuse. */
const ODD_CNS = ['a+b', 'a,b', 'a=b', 'a"b', 'a\\b', 'a;b', '<x>', '*', '#x', 'x y', 'é', 'a:b', 'a/b', '%41', 'CN=x', 'x'.repeat(48), 'y'.repeat(49), 'a\u0000b'];

export const certificateCaseArb: fc.Arbitrary<CertificateCase> = fc.record({
  target: fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('p1' as const, 'p3' as const, 'unknown' as const), index: indexArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('odd' as const), cn: fc.constantFrom(...ODD_CNS) }) },
  ),
  certificate: fc.oneof(
    { weight: 4, arbitrary: fc.constant('right' as const) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'wrongCa' as const,
        'expired' as const,
        'notYetValid' as const,
        'noCn' as const,
        'twoCn' as const,
        'none' as const,
        'otherIdentity' as const,
        'caseChanged' as const,
      ),
    },
  ),
  address: addressArb,
});

const UNTRUSTED: ReadonlySet<string> = new Set(['wrongCa', 'expired', 'notYetValid']);

export function certificateLane(t: SecurityTarget, seed: number): Lane<CertificateCase> {
  const recent = new Recent();
  return {
    name: 'client certificates',
    arb: certificateCaseArb,
    recent,
    async run(input) {
      recent.add(describeInput(input));
      let identity: string;
      let record: ChargerOnRecord = { known: false };
      const target = input.target;
      if (target.kind === 'odd') identity = target.cn;
      else if (target.kind === 'unknown') identity = `fzx-u-${seed % 100000}-${target.index % 500}`;
      else {
        const pool = certificatePool(t.fixture, target.kind);
        const charger = pool[target.index % pool.length];
        identity = charger.identity;
        record = recordOf(charger);
      }
      const segment = encodeURIComponent(identity);
      const address = sourceAddress(3, input.address);
      const kind = input.certificate;
      // The name the certificate is issued to, and what the gateway reads from it.
      const subjectOf: Record<string, string> = {
        otherIdentity: `${identity}-other`,
        caseChanged: identity.toUpperCase() === identity ? identity.toLowerCase() : identity.toUpperCase(),
      };
      const issuedTo = subjectOf[kind] ?? identity;
      const issued = kind === 'none' ? undefined : await t.fixture.clientCertificate(kind === 'otherIdentity' || kind === 'caseChanged' ? 'right' : kind, issuedTo);
      const commonName = kind === 'noCn' || kind === 'twoCn' ? undefined : issuedTo;
      let expected: (AuthExpectation | { status: 400 }) & { why: string };
      if (!identityValid(segment)) expected = { status: 400, why: 'identity the rules refuse' };
      else
        expected = expectedAttempt(
          {
            identity,
            address,
            secure: true,
            authorization: undefined,
            certificate: issued === undefined ? undefined : { trusted: !UNTRUSTED.has(kind), commonName },
            charger: record,
          },
          t.throttle,
        );
      t.tally.add(`certificate ${kind}: ${expected.status} (${expected.why})`);
      if (expected.status === 101) t.profiles.add(String(expected.profile));
      const c = await openTls(t, address, issued);
      try {
        c.write(upgradeRequest(`/ocpp/${segment}`, standardHeaders(t.tlsPort, 'ocpp1.6')));
        await checkAnswer(c, expected, `${JSON.stringify(identity)} with certificate ${kind}`);
      } finally {
        c.destroy();
      }
    },
    async close() {},
  };
}

// ---------------------------------------------------------------------------------------------------------------
// TLS handshakes cut, garbled and stalled.

export type CutPoint = { at: 'clientHello'; fraction: number } | { at: 'afterServerHello' } | { at: 'midCertificate' } | { at: 'beforeFinished' };
export type Ending = 'reset' | 'end' | 'stall';

export type TlsCase =
  | ({ kind: 'cut'; version: 'TLSv1.2' | 'TLSv1.3'; ending: Ending } & CutPoint)
  | { kind: 'garble'; version: 'TLSv1.2' | 'TLSv1.3'; offset: number; xor: number }
  | { kind: 'random'; bytes: Buffer; ending: Ending }
  | { kind: 'plainHttp'; ending: Ending }
  | { kind: 'completeThenLeave'; ending: 'reset' | 'end' };

const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('reset' as const, 'end' as const) },
  { weight: 1, arbitrary: fc.constant('stall' as const) },
);
const versionArb = fc.constantFrom('TLSv1.2' as const, 'TLSv1.3' as const);

export const tlsCaseArb: fc.Arbitrary<TlsCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.oneof(
      fc.record({
        kind: fc.constant('cut' as const),
        version: versionArb,
        ending: endingArb,
        at: fc.constant('clientHello' as const),
        fraction: fc.double({ min: 0, max: 0.999, noNaN: true }),
      }),
      fc.record({
        kind: fc.constant('cut' as const),
        version: versionArb,
        ending: endingArb,
        at: fc.constantFrom('afterServerHello' as const, 'midCertificate' as const, 'beforeFinished' as const),
      }),
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('garble' as const), version: versionArb, offset: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
  // Random bytes may start a record the server waits to complete: never stalled, so none fails as a timeout.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('random' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }).map((a) => Buffer.from(a)),
      ending: fc.constantFrom('reset' as const, 'end' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plainHttp' as const), ending: endingArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('completeThenLeave' as const), ending: fc.constantFrom('reset' as const, 'end' as const) }) },
);

/** Complete TLS records at the start of `buf`: [start, end) of each, and how many bytes they take. */
function records(buf: Buffer): Array<{ type: number; start: number; end: number }> {
  const out: Array<{ type: number; start: number; end: number }> = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const end = at + 5 + buf.readUInt16BE(at + 3);
    if (end > buf.length) break;
    out.push({ type: buf[at], start: at, end });
    at = end;
  }
  return out;
}

/**
 * Sits between a real TLS client and its TCP connection to the gateway, forwarding bytes until the cut point;
 * then `stop` is called with what is to happen to the connection. Client flights are taken as the client writes
 * them (node:tls writes a flight at once).
 */
class HandshakeCutter extends Duplex {
  private flights = 0;
  private serverBytes = Buffer.alloc(0);
  private stopped = false;

  constructor(
    private readonly raw: Socket,
    private readonly tc: TlsCase,
    private readonly stop: () => void,
  ) {
    super();
    raw.on('data', (chunk: Buffer) => this.fromServer(chunk));
    raw.on('close', () => this.push(null));
    raw.on('error', () => {});
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    done();
    if (this.stopped) return;
    const tc = this.tc;
    this.flights++;
    if (tc.kind === 'garble' && this.flights === 1) {
      const garbled = Buffer.from(chunk);
      garbled[tc.offset % garbled.length] ^= tc.xor;
      this.raw.write(garbled);
      return;
    }
    if (tc.kind !== 'cut') {
      this.raw.write(chunk);
      return;
    }
    if (tc.at === 'clientHello') {
      this.raw.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length * tc.fraction))));
      this.halt();
      return;
    }
    if (tc.at === 'beforeFinished' && this.flights >= 2) {
      const recs = records(chunk);
      // Everything of the client's second flight but its last record (the Finished).
      if (recs.length > 1) this.raw.write(chunk.subarray(0, recs[recs.length - 2].end));
      this.halt();
      return;
    }
    this.raw.write(chunk);
  }

  private fromServer(chunk: Buffer): void {
    if (this.stopped) return;
    const tc = this.tc;
    if (tc.kind === 'cut' && (tc.at === 'afterServerHello' || tc.at === 'midCertificate')) {
      this.serverBytes = Buffer.concat([this.serverBytes, chunk]);
      const recs = records(this.serverBytes);
      if (recs.length === 0) return;
      const helloEnd = recs[0].end;
      const upTo = tc.at === 'afterServerHello' ? helloEnd : helloEnd + Math.max(1, Math.floor((this.serverBytes.length - helloEnd) / 2));
      this.push(this.serverBytes.subarray(0, Math.min(upTo, this.serverBytes.length)));
      this.halt();
      return;
    }
    this.push(chunk);
  }

  private halt(): void {
    this.stopped = true;
    this.stop();
  }
}

export interface TlsLaneCounts {
  /** Handshakes the gateway must count as failed. */
  failed: number;
  /** Of those, stalled ones it must drop on its handshake timeout. */
  stalled: number;
  /**
   * Of those, ones the lane ends with a reset right after writing: when the reset reaches the gateway's kernel
   * before the process read the bytes, they are discarded with the connection, and Node drops a socket that never
   * delivered a byte without reporting a TLS error. Each of these is counted at most once, the rest exactly once.
   */
  resetAfterWrite: number;
  /**
   * Handshakes the client completed and reset at once (TLS 1.3). The client is done when it has sent its Finished;
   * the gateway is done only once it has read it. When the reset reaches the gateway's kernel first, the Finished
   * is discarded and the gateway's side of the handshake fails with a reset. Each of these is counted at most once.
   */
  resetAtClientFinished: number;
}

export function tlsHandshakeLane(t: SecurityTarget, handshakeTimeoutMs: number, counts: TlsLaneCounts, tally: Tally): Lane<TlsCase> {
  const recent = new Recent();
  let n = 0;
  /** Waits for the gateway to end the connection: a stalled handshake must be dropped within its timeout. */
  const droppedWithin = (raw: Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (raw.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      raw.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  const finish = async (raw: Socket, ending: Ending, what: string) => {
    if (ending === 'reset') raw.resetAndDestroy();
    else if (ending === 'end') {
      raw.end();
      await droppedWithin(raw, 5000);
      raw.destroy();
    } else {
      const started = Date.now();
      if (!(await droppedWithin(raw, handshakeTimeoutMs + 5000))) {
        raw.destroy();
        throw new FuzzFailure(`${what}: a stalled TLS handshake was still open ${Date.now() - started} ms later (handshake timeout ${handshakeTimeoutMs} ms)`);
      }
    }
  };
  return {
    name: 'tls handshakes',
    arb: tlsCaseArb,
    recent,
    async run(input) {
      recent.add(describeInput(input));
      const address = sourceAddress(4, ++n % 3000);
      const raw = netConnect({ host: '127.0.0.1', port: t.tlsPort, localAddress: address });
      raw.setNoDelay(true);
      raw.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        raw.once('connect', resolve);
        raw.once('error', reject);
      });
      const what = `${input.kind}${'at' in input ? ` ${input.at}` : ''}${'ending' in input ? ` then ${input.ending}` : ''}`;
      const fails = input.kind !== 'completeThenLeave';
      tally.add(fails ? `${what}: counted${input.kind === 'cut' && input.ending === 'stall' ? ' as a timeout' : ''}` : `${what}: not a TLS error`);
      if (fails) counts.failed++;
      // Only a cut handshake waits for more on the gateway's side; random bytes or HTTP fail at once, stalled or not.
      if (input.kind === 'cut' && input.ending === 'stall') counts.stalled++;
      if (fails && 'ending' in input && input.ending === 'reset') counts.resetAfterWrite++;
      if (input.kind === 'completeThenLeave' && input.ending === 'reset') counts.resetAtClientFinished++;
      if (input.kind === 'random' || input.kind === 'plainHttp') {
        raw.write(input.kind === 'random' ? input.bytes : Buffer.from(`GET /ocpp/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
        await finish(raw, input.ending, what);
        return;
      }
      let stop!: () => void;
      const halted = new Promise<void>((resolve) => (stop = resolve));
      const cutter = new HandshakeCutter(raw, input, stop);
      const client: TLSSocket = tlsConnect({
        socket: cutter,
        servername: 'localhost',
        ca: t.fixture.caCert,
        ...(input.kind !== 'completeThenLeave' && input.version === 'TLSv1.2' ? { maxVersion: 'TLSv1.2' as const } : { minVersion: 'TLSv1.3' as const }),
      });
      client.on('error', () => {});
      try {
        if (input.kind === 'garble') {
          // The server refuses the garbled hello, or the transcripts differ at Finished, or a garbled length has it
          // wait for bytes that never come: the lane leaves after a second, well before the handshake timeout, so
          // every garbled handshake fails once and none as a timeout.
          if (!(await droppedWithin(raw, 1000))) raw.resetAndDestroy();
          return;
        }
        if (input.kind === 'completeThenLeave') {
          await new Promise<void>((resolve, reject) => {
            client.once('secureConnect', resolve);
            client.once('error', reject);
          });
          await finish(raw, input.ending, what);
          return;
        }
        const outcome = await Promise.race([halted.then(() => 'halted' as const), sleep(5000).then(() => 'silent' as const)]);
        if (outcome === 'silent') throw new FuzzFailure(`${what}: the handshake never reached its cut point (no answer from the gateway?)`);
        await finish(raw, input.ending, what);
      } finally {
        client.destroy();
        raw.destroy();
      }
    },
    async close() {},
  };
}
