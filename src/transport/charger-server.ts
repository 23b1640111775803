import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { OcppVersion } from '../ocpp/versions.js';
import { parseIdentity } from './identity.js';
import { chooseSubprotocol, offeredSubprotocols } from './subprotocol.js';
import { truncateReason, type Outbox } from './outbox.js';
import type { KeepaliveSubject } from './keepalive.js';

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
  request: IncomingMessage;
}

/** The transport's view of an open connection; the gateway's session implements it. */
export interface TransportConnection extends KeepaliveSubject {
  readonly outbox: Outbox;
  onFrame(data: Buffer, isBinary: boolean): void;
  onSocketClosed(code: number, reason: string): void;
}

export type AdmissionVerdict = { ok: true } | { ok: false; status: number; reason: string; outcome: string; headers?: Record<string, string> };

export interface ChargerServerOptions {
  host: string;
  port: number;
  pathPrefix: string;
  maxFrameBytes: number;
  backlog: number;
  protocols: readonly OcppVersion[];
  fallbackProtocol: OcppVersion | null;
  log: Logger;
  /** Counts every upgrade attempt by outcome. */
  countAttempt(outcome: string): void;
  /** Gateway-level admission (capacity, credentials, draining) after the path, identity and subprotocol passed. */
  admit(identity: string, request: IncomingMessage): AdmissionVerdict;
  /** Builds the session for an accepted socket. */
  accept(socket: WebSocket, charger: AdmittedCharger): TransportConnection;
}

const CONNECTION = Symbol('connection');
const ACCEPT_SEQUENCE = Symbol('acceptSequence');
type SequencedSocket = { [ACCEPT_SEQUENCE]?: number };
type TaggedSocket = WebSocket & { [CONNECTION]: TransportConnection };

// Listeners shared by every socket: EventEmitter calls them with `this` bound to the socket, so a connection
// costs no closures of its own.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const connection = (this as TaggedSocket)[CONNECTION];
  connection.lastSeenAt = Date.now();
  connection.onFrame(data, isBinary);
}
function onPong(this: WebSocket): void {
  (this as TaggedSocket)[CONNECTION].lastSeenAt = Date.now();
}
function onPing(this: WebSocket, data: Buffer): void {
  const connection = (this as TaggedSocket)[CONNECTION];
  connection.lastSeenAt = Date.now();
  connection.outbox.pong(data);
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  (this as TaggedSocket)[CONNECTION].onSocketClosed(code, reason.toString());
}
function onError(this: WebSocket): void {
  // ws follows every error with 'close', where the session ends; the listener keeps the error from being thrown.
}

const HTTP_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Refuses an upgrade with a plain HTTP answer that says why, before any WebSocket exists. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = `${reason}\n`;
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${HTTP_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/**
 * The chargers' HTTP listener: admits WebSocket upgrades at `{pathPrefix}/{identity}` (path, identity,
 * subprotocol, then the gateway's own checks) and hands each accepted socket to the gateway.
 */
export class ChargerServer {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly prefix: string;

  constructor(private readonly options: ChargerServerOptions) {
    this.prefix = options.pathPrefix === '/' ? '/' : `${options.pathPrefix}/`;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Pongs leave through the outbox like every other frame.
      autoPong: false,
      // The choice was made during admission; ws only writes it into the handshake.
      handleProtocols: (_offered, request) => (request as IncomingMessage & { ocppProtocolHeader?: string }).ocppProtocolHeader ?? false,
    });
    this.http = createServer((req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
    let accepted = 0;
    this.http.on('connection', (socket) => {
      (socket as SequencedSocket)[ACCEPT_SEQUENCE] = ++accepted;
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen({ host: this.options.host, port: this.options.port, backlog: this.options.backlog }, () => {
        this.http.off('error', reject);
        const address = this.http.address();
        resolve(typeof address === 'object' && address !== null ? address.port : this.options.port);
      });
    });
  }

  /**
   * Stops accepting new connections. Open ones are the gateway's to close, so this does not wait for them
   * (Node's close callback would wait for every charger's socket to end).
   */
  stopAccepting(): void {
    if (this.http.listening) this.http.close();
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const isChargerPath = path.startsWith(this.prefix);
    res.writeHead(isChargerPath ? 426 : 404, { 'Content-Type': 'text/plain; charset=utf-8', ...(isChargerPath ? { Upgrade: 'websocket' } : {}) });
    res.end(isChargerPath ? 'OCPP-J chargers connect here with a WebSocket upgrade\n' : 'not found\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { log, countAttempt } = this.options;
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith(this.prefix)) {
      countAttempt('bad_path');
      return refuseUpgrade(socket, 404, `chargers connect at ${this.prefix}{identity}`);
    }
    const segment = path.slice(this.prefix.length);
    if (segment.includes('/')) {
      countAttempt('bad_identity');
      return refuseUpgrade(socket, 400, 'the charge point identity must be a single path segment');
    }
    const identity = parseIdentity(segment);
    if (!identity.ok) {
      countAttempt('bad_identity');
      return refuseUpgrade(socket, 400, identity.reason);
    }
    const choice = chooseSubprotocol(
      offeredSubprotocols(req.headers['sec-websocket-protocol']),
      this.options.protocols,
      this.options.fallbackProtocol,
    );
    if (choice.kind === 'chosen') {
      const verdict = this.options.admit(identity.identity, req);
      if (!verdict.ok) {
        countAttempt(verdict.outcome);
        return refuseUpgrade(socket, verdict.status, verdict.reason, verdict.headers);
      }
      if (choice.header !== null) (req as IncomingMessage & { ocppProtocolHeader?: string }).ocppProtocolHeader = choice.header;
    }

    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (choice.kind !== 'chosen') {
        // OCPP-J: a server that agrees to no offered version completes the handshake without the header and closes.
        countAttempt('no_subprotocol');
        const offered = choice.offered.length ? choice.offered.join(', ') : 'none';
        log.debug({ chargePointId: identity.identity, offered }, 'charger offered no supported OCPP version');
        ws.on('error', () => {});
        ws.close(1002, truncateReason(`no supported OCPP version offered (offered: ${offered}; supported: ${this.options.protocols.join(', ')})`));
        return;
      }
      countAttempt('accepted');
      const tagged = ws as TaggedSocket;
      tagged[CONNECTION] = this.options.accept(ws, {
        identity: identity.identity,
        acceptSequence: (req.socket as SequencedSocket)[ACCEPT_SEQUENCE] ?? 0,
        protocol: choice.protocol,
        remoteAddress: req.socket.remoteAddress ?? '',
        request: req,
      });
      ws.on('message', onMessage);
      ws.on('pong', onPong);
      ws.on('ping', onPing);
      ws.on('close', onClose);
      ws.on('error', onError);
    });
  }
}
