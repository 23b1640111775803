import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import { answerTurns } from '../ocpp/answer-turns.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { AuthenticationVerdict, ClientCertificate, ConnectionFacts } from '../security/charger-authenticator.js';
import type { SecurityProfile } from '../security/credential-store.js';
import { droppedByAdmission } from './admission-limits.js';
import { parseIdentity } from './identity.js';
import type { KeepaliveSubject } from './keepalive.js';
import { copyListener } from './listener-copies.js';
import { type Outbox, truncateReason } from './outbox.js';
import { makeRepeatedReceiverEndFree } from './receiver-end.js';
import { chooseSubprotocol, offeredSubprotocols, type SubprotocolChoice } from './subprotocol.js';
import { readTextFramesDirectly } from './text-frame-reader.js';

/** A charger that passed admission, about to become a session. */
export interface AdmittedCharger {
  identity: string;
  /**
   * Order in which this process accepted the TCP connection. A charger that gave up on a slow handshake and
   * retried has two connections in flight; the one accepted later is the newer, whichever upgrade is read first.
   */
  acceptSequence: number;
  protocol: OcppVersion;
  remoteAddress: string;
  /** The OCPP security profile the connection proved (0: none). */
  securityProfile: SecurityProfile;
  request: IncomingMessage;
}

/** The transport's view of an open connection; the gateway's session implements it. */
export interface TransportConnection extends KeepaliveSubject {
  readonly outbox: Outbox;
  /** True while the connection waits to show life (a frame, ping or pong); `showedLife` is then called once. */
  awaitingLife: boolean;
  showedLife(): void;
  onFrame(data: Buffer, isBinary: boolean): void;
  onSocketClosed(code: number, reason: string): void;
}

export type AdmissionVerdict = { ok: true } | { ok: false; status: number; reason: string; outcome: string; headers?: Record<string, string> };

/** The TLS listener (wss): security profiles 2 and 3. */
export interface ChargerTlsOptions {
  port: number;
  /** Certificate, key, CA, versions and ciphers; replaced later with `setSecureContext`. */
  material: SecureContextOptions;
  /** Ask for a client certificate (profile 3); only when a CA to check it against is configured. */
  requestClientCertificates: boolean;
  /** From TCP accept to a completed TLS handshake; a client slower than this is dropped (Node's default: 120 s). */
  handshakeTimeoutMs?: number;
}

export interface ChargerServerOptions {
  host: string;
  port: number;
  /** False: no plain ws listener at all (only `tls`). */
  plainEnabled?: boolean;
  tls?: ChargerTlsOptions;
  pathPrefix: string;
  maxFrameBytes: number;
  backlog: number;
  /**
   * Connections the plain listener may accept per turn of the event loop: one per listening descriptor, the rest
   * copies of the first (listener-copies.ts). 1: the first only.
   */
  acceptsPerTurn?: number;
  protocols: readonly OcppVersion[];
  fallbackProtocol: OcppVersion | null;
  log: Logger;
  /** Counts every upgrade attempt by outcome (the list is in the metric's help and README). */
  countAttempt(outcome: string): void;
  /**
   * Gateway-level admission (capacity, credentials, draining) after the path and identity passed. `forSession`
   * is false for a connection that offered no supported subprotocol: it will be closed, not become a session.
   */
  admit(identity: string, request: IncomingMessage, forSession: boolean): AdmissionVerdict;
  /**
   * Who the charger proved to be (Basic auth, client certificate) and its pins, after `admit`; without it every
   * connection is profile 0.
   */
  authenticate?(facts: ConnectionFacts): AuthenticationVerdict | Promise<AuthenticationVerdict>;
  /** Counts a TLS handshake a client cut, garbled or could not agree on, by a short reason. */
  countTlsClientError?(reason: string): void;
  /** Builds the session for an accepted socket. */
  accept(socket: WebSocket, charger: AdmittedCharger): TransportConnection;
  /** The upgrade of this socket completed: its handshake no longer counts against admission limits. */
  upgraded?(socket: Duplex): void;
}

const CONNECTION = Symbol('connection');
const ACCEPT_SEQUENCE = Symbol('acceptSequence');
type SequencedSocket = { [ACCEPT_SEQUENCE]?: number };
type TaggedSocket = WebSocket & { [CONNECTION]: TransportConnection };

// Listeners shared by every socket: EventEmitter calls them with `this` bound to the socket, so a connection
// costs no closures of its own.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  frameArrived(this, data, isBinary);
}
/** A message, from ws's receiver (`onMessage`) or read without it (text-frame-reader.ts). */
function frameArrived(ws: WebSocket, data: Buffer, isBinary: boolean): void {
  const connection = (ws as TaggedSocket)[CONNECTION];
  connection.lastSeenAt = Date.now();
  if (connection.awaitingLife) connection.showedLife();
  connection.onFrame(data, isBinary);
}
function onPong(this: WebSocket): void {
  const connection = (this as TaggedSocket)[CONNECTION];
  connection.lastSeenAt = Date.now();
  if (connection.awaitingLife) connection.showedLife();
}
function onPing(this: WebSocket, data: Buffer): void {
  const connection = (this as TaggedSocket)[CONNECTION];
  connection.lastSeenAt = Date.now();
  if (connection.awaitingLife) connection.showedLife();
  connection.outbox.pong(data);
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  (this as TaggedSocket)[CONNECTION].onSocketClosed(code, reason.toString());
  // The charger is expected back: turns stay shared a while so that its reconnect is accepted promptly.
  answerTurns.chargerLeft();
}
function onError(this: WebSocket): void {
  // ws follows every error with 'close', where the session ends; the listener keeps the error from being thrown.
}

/**
 * Handshakes ws refuses before asking us (it checks these headers first), by the reason it gives: each has an
 * outcome label of its own. ws words them in lib/websocket-server.js; an unknown wording counts as bad_handshake.
 */
const WS_REFUSALS: ReadonlyArray<{ wording: string; outcome: string; status: number; headers?: Record<string, string> }> = [
  { wording: 'Invalid HTTP method', outcome: 'bad_method', status: 405 },
  { wording: 'Invalid Upgrade header', outcome: 'bad_upgrade_header', status: 400 },
  { wording: 'Missing or invalid Sec-WebSocket-Key header', outcome: 'bad_key', status: 400 },
  { wording: 'Missing or invalid Sec-WebSocket-Version header', outcome: 'bad_version', status: 400, headers: { 'Sec-WebSocket-Version': '13, 8' } },
  { wording: 'Invalid Sec-WebSocket-Protocol header', outcome: 'bad_subprotocol_header', status: 400 },
  { wording: 'Invalid or unacceptable Sec-WebSocket-Extensions header', outcome: 'bad_extensions_header', status: 400 },
];

const PLAIN_TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/**
 * Answers a handshake ws refused on its own. ws has already put its error listener on this socket (the first
 * thing handleUpgrade does), so a client that resets it cannot turn the write into an uncaught error.
 */
function answerWsRefusal(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = `${reason}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/** What admission decided about a request, carried on it from verifyClient to the upgrade callback. */
interface Admission {
  identity: string;
  choice: SubprotocolChoice;
  securityProfile: SecurityProfile;
}

/**
 * TLS handshake failures by a reason with few values (a metric label): OpenSSL's codes for the usual ones, the
 * rest as `other`. A client that goes away mid-handshake shows up as a reset or an end of stream.
 */
function tlsErrorReason(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || code.includes('VERSION')) return 'protocol_version';
  if (code.includes('NO_SHARED_CIPHER')) return 'no_shared_cipher';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /timeout/i.test(err.message)) return 'timeout';
  if (code.startsWith('ERR_SSL_') || code === 'ECONNABORTED') return 'bad_handshake';
  return 'other';
}

/** The client certificate of a TLS connection, if one was presented. */
function clientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  const peer = socket.getPeerCertificate();
  if (peer === null || typeof peer !== 'object' || Object.keys(peer).length === 0) return undefined;
  const cn = peer.subject?.CN as string | string[] | undefined;
  return { trusted: socket.authorized, commonName: typeof cn === 'string' ? cn : undefined };
}
const ADMISSION = Symbol('admission');
type AdmittedRequest = IncomingMessage & { [ADMISSION]?: Admission };
type Verdict = (accept: boolean, status?: number, message?: string, headers?: Record<string, string>) => void;
/** Refuses one upgrade with an outcome for the attempts metric, a status and a reason the charger can read. */
type Refuse = (outcome: string, status: number, reason: string, headers?: Record<string, string>) => void;

/**
 * The chargers' HTTP listener: admits WebSocket upgrades at `{pathPrefix}/{identity}` (path, identity,
 * subprotocol, then the gateway's own checks) and hands each accepted socket to the gateway.
 */
export class ChargerServer {
  /** The plain listener (created even when it is switched off, so hooks can attach to it alike). */
  readonly http: Server;
  /** The TLS listener, when configured. */
  readonly https: TlsServer | undefined;
  /** Port the TLS listener is bound to once listening; 0 without one. */
  tlsPort = 0;
  /** More descriptors of the plain listening socket, each accepting for it (`acceptsPerTurn`). */
  private listenerCopies: NetServer[] = [];
  private readonly wss: WebSocketServer;
  private readonly prefix: string;
  private held = 0;
  private readonly release = (): void => {
    this.held--;
  };

  constructor(private readonly options: ChargerServerOptions) {
    this.prefix = options.pathPrefix === '/' ? '/' : `${options.pathPrefix}/`;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Pongs leave through the outbox like every other frame.
      autoPong: false,
      // Every message of one read is emitted within that read's callback (ws's default, stated because the RPC
      // endpoint's rule for pipelined CALLs, all of one read held before the first is answered, relies on it).
      allowSynchronousEvents: true,
      // Admission runs inside ws's upgrade handling, on a socket ws already guards against errors, and after
      // ws's own header checks; its refusals are written by ws.
      verifyClient: (info: { req: IncomingMessage }, verdict: Verdict) => this.verify(info.req, verdict),
      // The choice was made during admission; ws only writes it into the handshake.
      handleProtocols: (_offered, request) => {
        const choice = (request as AdmittedRequest)[ADMISSION]?.choice;
        return choice?.kind === 'chosen' && choice.header !== null ? choice.header : false;
      },
    });
    this.wss.on('wsClientError', (err, socket) => this.onRefusedByWs(err, socket));
    this.http = createServer((req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
    let accepted = 0;
    this.http.on('connection', (socket) => {
      (socket as SequencedSocket)[ACCEPT_SEQUENCE] = ++accepted;
    });
    const tls = options.tls;
    if (tls !== undefined) {
      const https = createTlsServer(
        // rejectUnauthorized false: a bad client certificate still completes the handshake, so the charger gets an
        // HTTP 403 that says why instead of a TLS alert its log may not show.
        { ...tls.material, requestCert: tls.requestClientCertificates, rejectUnauthorized: false, handshakeTimeout: tls.handshakeTimeoutMs },
        (req, res) => this.onPlainRequest(req, res),
      );
      this.https = https;
      https.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
      https.on('clientError', (_err, socket) => socket.destroy());
      // Without this listener a handshake that fails is only dropped; with it, it is counted. Never thrown.
      https.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
        if (!droppedByAdmission(socket)) this.options.countTlsClientError?.(tlsErrorReason(err));
        socket.destroy();
      });
      // The order of completed TLS handshakes: the TLS socket is the one a request reaches.
      https.on('secureConnection', (socket) => {
        (socket as SequencedSocket)[ACCEPT_SEQUENCE] = ++accepted;
      });
    }
  }

  /** Starts the listeners; resolves with their ports (0 for one that is off). */
  async listen(): Promise<{ port: number; tlsPort: number }> {
    const { host, backlog } = this.options;
    const port = this.options.plainEnabled === false ? 0 : await listenOn(this.http, host, this.options.port, backlog);
    if (port !== 0) await this.copyPlainListener(backlog);
    if (this.https !== undefined && this.options.tls !== undefined) {
      try {
        this.tlsPort = await listenOn(this.https, host, this.options.tls.port, backlog);
      } catch (err) {
        if (this.http.listening) this.http.close();
        throw err;
      }
    }
    return { port, tlsPort: this.tlsPort };
  }

  /**
   * The plain listener's copies, so a turn of the event loop accepts up to `acceptsPerTurn` connections. Without
   * them the gateway still serves, accepting one per turn, so a failure is logged and not thrown.
   */
  private async copyPlainListener(backlog: number): Promise<void> {
    const wanted = (this.options.acceptsPerTurn ?? 1) - 1;
    if (wanted <= 0) return;
    try {
      const copies = await copyListener(this.http, wanted, backlog);
      // Stopped while the copies were made: they go with the listener.
      if (!this.http.listening) for (const copy of copies) copy.close();
      else this.listenerCopies = copies;
    } catch (err) {
      this.options.log.warn({ err, acceptsPerTurn: this.options.acceptsPerTurn }, 'could not copy the listening socket; accepting one connection per turn');
    }
  }

  /** New certificate, key or CA for connections from now on; open ones keep what they began with. */
  setSecureContext(material: SecureContextOptions): void {
    this.https?.setSecureContext(material);
  }

  /**
   * Stops accepting new connections. Open ones are the gateway's to close, so this does not wait for them
   * (Node's close callback would wait for every charger's socket to end).
   */
  stopAccepting(): void {
    // Every copy too: a copy left open would keep the socket listening, and accepting, after the server closed.
    for (const copy of this.listenerCopies) copy.close();
    this.listenerCopies = [];
    if (this.http.listening) this.http.close();
    if (this.https?.listening) this.https.close();
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    // Turned away at accept (admission limits): it already has its answer.
    if (!req.socket.writable) {
      req.socket.destroy();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    const isChargerPath = path.startsWith(this.prefix);
    res.writeHead(isChargerPath ? 426 : 404, { 'Content-Type': 'text/plain; charset=utf-8', ...(isChargerPath ? { Upgrade: 'websocket' } : {}) });
    res.end(isChargerPath ? 'OCPP-J chargers connect here with a WebSocket upgrade\n' : 'not found\n');
  }

  /** Connections completed only to be closed (no supported subprotocol): they hold a descriptor until closed. */
  get heldWithoutSession(): number {
    return this.held;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Turned away at accept (admission limits): it already has its answer, and its request is now read.
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // Synchronously, so the socket is never without an error listener: Node removed its own before emitting
    // 'upgrade', and handleUpgrade's first step is to add ws's.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onUpgraded(ws, req as AdmittedRequest));
  }

  private onRefusedByWs(err: Error, socket: Duplex): void {
    const known = WS_REFUSALS.find((r) => r.wording === err.message);
    this.options.countAttempt(known?.outcome ?? 'bad_handshake');
    answerWsRefusal(socket, known?.status ?? 400, err.message, known?.headers);
  }

  /** Path, identity, subprotocol, then the gateway's own checks; every refusal says why and is counted. */
  private verify(req: IncomingMessage, verdict: Verdict): void {
    const { countAttempt } = this.options;
    const refuse: Refuse = (outcome, status, reason, headers) => {
      countAttempt(outcome);
      // Never the request's headers: they may carry credentials.
      this.options.log.debug({ path: (req.url ?? '').split('?')[0].slice(0, 100), outcome, status, remoteAddress: req.socket.remoteAddress }, 'upgrade refused');
      verdict(false, status, `${reason}\n`, { ...PLAIN_TEXT, ...headers });
    };
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith(this.prefix)) {
      refuse('bad_path', 404, `chargers connect at ${this.prefix}{identity}`);
      return;
    }
    const segment = path.slice(this.prefix.length);
    if (segment.includes('/')) {
      refuse('bad_identity', 400, 'the charge point identity must be a single path segment');
      return;
    }
    const identity = parseIdentity(segment);
    if (!identity.ok) {
      refuse('bad_identity', 400, identity.reason);
      return;
    }
    const offered = offeredSubprotocols(req.headers['sec-websocket-protocol']);
    const choice = chooseSubprotocol(offered, this.options.protocols, this.options.fallbackProtocol);
    // A connection without a supported version still holds a descriptor until it is closed: admitted the same way.
    const admission = this.options.admit(identity.identity, req, choice.kind === 'chosen');
    if (!admission.ok) {
      refuse(admission.outcome, admission.status, admission.reason, admission.headers);
      return;
    }
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) {
      (req as AdmittedRequest)[ADMISSION] = { identity: identity.identity, choice, securityProfile: 0 };
      verdict(true);
      return;
    }
    const socket = req.socket as Socket & Partial<TLSSocket>;
    const secure = socket.encrypted === true;
    const facts: ConnectionFacts = {
      identity: identity.identity,
      remoteAddress: socket.remoteAddress ?? '',
      secure,
      authorization: req.headers.authorization,
      certificate: secure ? clientCertificate(socket as TLSSocket) : undefined,
    };
    let auth: AuthenticationVerdict | Promise<AuthenticationVerdict>;
    try {
      auth = authenticate(facts);
    } catch (err) {
      this.authenticationFailed(err, identity.identity, refuse);
      return;
    }
    if (!(auth instanceof Promise)) {
      this.authenticated(req as AdmittedRequest, verdict, identity.identity, choice, offered, auth, refuse);
      return;
    }
    // ws checks the socket is still open before it completes an upgrade, and guards it against errors meanwhile.
    auth.then(
      (settled) => this.authenticated(req as AdmittedRequest, verdict, identity.identity, choice, offered, settled, refuse),
      (err: unknown) => this.authenticationFailed(err, identity.identity, refuse),
    );
  }

  /** The authenticator's verdict, applied: the charger's protocol pin, then the upgrade goes ahead or is refused. */
  private authenticated(
    req: AdmittedRequest,
    verdict: Verdict,
    identity: string,
    choice: SubprotocolChoice,
    offered: ReturnType<typeof offeredSubprotocols>,
    auth: AuthenticationVerdict,
    refuse: Refuse,
  ): void {
    if (!auth.ok) {
      refuse(auth.outcome, auth.status, auth.reason, auth.headers);
      return;
    }
    let granted = choice;
    const pin = auth.protocol;
    if (pin !== undefined && choice.kind === 'chosen' && choice.protocol !== pin) {
      // The charger's pinned version, if it offered it among others; else it may not connect with another.
      granted = chooseSubprotocol(offered, this.options.protocols.includes(pin) ? [pin] : [], this.options.fallbackProtocol === pin ? pin : null);
      if (granted.kind !== 'chosen') {
        refuse('protocol_not_allowed', 403, `this charger may only connect with ${pin}; offer it as a subprotocol`);
        return;
      }
    }
    req[ADMISSION] = { identity, choice: granted, securityProfile: auth.profile };
    verdict(true);
  }

  private authenticationFailed(err: unknown, identity: string, refuse: Refuse): void {
    this.options.log.error({ err, chargePointId: identity }, 'authentication failed unexpectedly; refusing the connection');
    refuse('auth_error', 500, 'the gateway could not check this connection; reconnect later');
  }

  private onUpgraded(ws: WebSocket, req: AdmittedRequest): void {
    const { identity, choice, securityProfile } = req[ADMISSION]!;
    req[ADMISSION] = undefined;
    this.options.upgraded?.(req.socket);
    if (choice.kind !== 'chosen') {
      // OCPP-J: a server that agrees to no offered version completes the handshake without the header and closes.
      this.options.countAttempt('no_subprotocol');
      const offered = choice.offered.length ? choice.offered.join(', ') : 'none';
      this.options.log.debug({ chargePointId: identity, offered }, 'charger offered no supported OCPP version');
      this.held++;
      ws.on('error', onError);
      ws.once('close', this.release);
      ws.close(1002, truncateReason(`no supported OCPP version offered (offered: ${offered}; supported: ${this.options.protocols.join(', ')})`));
      return;
    }
    this.options.countAttempt('accepted');
    const tagged = ws as TaggedSocket;
    tagged[CONNECTION] = this.options.accept(ws, {
      identity,
      acceptSequence: (req.socket as SequencedSocket)[ACCEPT_SEQUENCE] ?? 0,
      protocol: choice.protocol,
      remoteAddress: req.socket.remoteAddress ?? '',
      securityProfile,
      request: req,
    });
    ws.on('message', onMessage);
    // A read's CALLs are answered as the read ends, in its callback, without a tick of their own (answer-turns.ts).
    readTextFramesDirectly(ws, frameArrived, answerTurns);
    makeRepeatedReceiverEndFree(ws);
    ws.on('pong', onPong);
    ws.on('ping', onPing);
    ws.on('close', onClose);
    ws.on('error', onError);
  }
}

function listenOn(server: Server | TlsServer, host: string, port: number, backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog }, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
