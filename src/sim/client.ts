/**
 * One simulated charge point's OCPP-J connection: the small client that tests drive directly and
 * that the load generator runs by the thousand.
 *
 * It keeps strictly one outstanding CALL (later calls wait in order), answers every central-system
 * CALL (by default from the table in charger-answers.ts), and holds as little per connection as it
 * can: no timer per charger (timeouts are swept by one shared interval), no closures per socket (the
 * ws listeners are shared functions that find their charger on the socket).
 */
import { performance } from 'node:perf_hooks';
import type { SecureContext } from 'node:tls';
import WebSocket from 'ws';
import { defaultAnswer, type SimVersion } from './charger-answers.js';
import { CallError, CallTimeoutError, ConnectError, connectFailureReason, NotConnectedError } from './errors.js';
import type { ShardMetrics } from './metrics.js';
import { encodeCall, encodeCallError, encodeCallResult, isCall, messageText, openChargerSocket, parseFrame, readAnswer } from './ocpp-j.js';

export const OCPP16 = 'ocpp1.6';
export const OCPP201 = 'ocpp2.0.1';

/** Returned by an onCall handler to leave a central-system CALL unanswered (to test the server's timeouts). */
export const NO_REPLY: unique symbol = Symbol('NO_REPLY');

/** Answers a central-system CALL: the CALLRESULT payload, a promise of it, or throw CallError for a CALLERROR. */
// biome-ignore lint/suspicious/noExplicitAny: the payload is the central system's JSON as sent; handlers read the fields they expect
export type CallHandler = (action: string, payload: any, charger: SimulatedCharger) => unknown | typeof NO_REPLY | Promise<unknown | typeof NO_REPLY>;

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when this side started the close (close() or terminate()). */
  byUs: boolean;
}

export interface ChargerOptions {
  /** Central system endpoint, e.g. ws://127.0.0.1:8080/ocpp; the identity is appended as a path segment. */
  url: string;
  identity: string;
  /** Subprotocols offered, most preferred first. Default: ['ocpp1.6']. */
  protocols?: string | string[];
  /** Basic auth password (security profile 1/2); the username is the identity. */
  password?: string;
  /** Source address to bind, to spread sockets over several loopback addresses. */
  localAddress?: string;
  /**
   * Source port to bind with localAddress. Naming it spares the kernel a search for a free port,
   * which becomes slow once tens of thousands of sockets (TIME_WAIT included) exist.
   */
  localPort?: number;
  family?: number;
  /** Per-call timeout. Default 30 s. */
  callTimeoutMs?: number;
  /** Opening handshake timeout. Default 20 s. */
  handshakeTimeoutMs?: number;
  headers?: Record<string, string>;
  /** For wss:// against a self-signed certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** For wss://: the CA(s) (PEM) to trust for the server's certificate instead of the system's. */
  ca?: string | Buffer;
  /**
   * For wss://: one TLS context shared by many connections. Without it Node builds a context per connection (and
   * parses the CA again each time), which makes a simulator of thousands of chargers the bottleneck of a storm.
   */
  secureContext?: SecureContext;
  /** Keep frames nobody consumed for waitForMessage(). Default true; the load generator turns it off. */
  inbox?: boolean;
  /** Do not append the identity to the URL (the URL already names it). */
  rawUrl?: boolean;
  /** Counters shared by all chargers of a load-generating process. */
  metrics?: ShardMetrics;
}

/** Callback form of a call's outcome; `latencyMs` is from send to answer. */
export type CallDone = (error: Error | null, result: unknown, latencyMs: number) => void;

interface PendingCall {
  id: string;
  action: string;
  sentAt: number;
  deadline: number;
  timeoutMs: number;
  done: CallDone;
}

interface QueuedCall {
  action: string;
  payload: unknown;
  timeoutMs: number;
  done: CallDone;
}

interface MessageWaiter {
  predicate: (frame: unknown[]) => boolean;
  resolve: (frame: unknown[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const INBOX_LIMIT = 1000;
const CHARGER = Symbol('charger');

type ChargerSocket = WebSocket & { [CHARGER]?: SimulatedCharger };

// ---- one sweep for every outstanding call of the process ----

const inflight = new Set<SimulatedCharger>();
let sweeper: NodeJS.Timeout | null = null;

function watchTimeout(charger: SimulatedCharger): void {
  inflight.add(charger);
  if (!sweeper) {
    sweeper = setInterval(sweepTimeouts, 100);
    sweeper.unref(); // an outstanding call always has a socket keeping the process alive
  }
}

function unwatchTimeout(charger: SimulatedCharger): void {
  inflight.delete(charger);
  if (inflight.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

function sweepTimeouts(): void {
  const now = performance.now();
  for (const charger of inflight) charger.expireCall(now);
}

// ---- ws listeners shared by every socket: `this` is the socket ----

function onSocketMessage(this: ChargerSocket, data: WebSocket.RawData, isBinary: boolean): void {
  this[CHARGER]?.receive(data, isBinary);
}

function onSocketClose(this: ChargerSocket, code: number, reason: Buffer): void {
  this[CHARGER]?.socketClosed(this, code, reason.toString());
}

function onSocketError(this: ChargerSocket, error: Error): void {
  this[CHARGER]?.socketError(this, error);
}

function onSocketOpen(this: ChargerSocket): void {
  this[CHARGER]?.socketOpened(this);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** A simulated charge point connection. */
export class SimulatedCharger {
  readonly identity: string;
  readonly url: string;
  readonly options: ChargerOptions;
  protected readonly metrics: ShardMetrics | undefined;

  private ws: ChargerSocket | null = null;
  private seq = 0;
  private pending: PendingCall | null = null;
  private queue: QueuedCall[] | null = null;
  private handler: CallHandler | null = null;
  private closeListener: ((info: CloseInfo, charger: SimulatedCharger) => void) | null = null;
  private closeWaiters: Array<(info: CloseInfo) => void> | null = null;
  private messageWaiters: MessageWaiter[] | null = null;
  private inbox: unknown[][] | null;
  private lastClose: CloseInfo | null = null;
  private closingByUs = false;
  private connectAttempt: {
    startedAt: number;
    /** When its TCP connection was made; -1 until then. */
    tcpAt: number;
    resolve: (protocol: string) => void;
    reject: (error: ConnectError) => void;
  } | null = null;
  private negotiated = '';
  private wasOpen = false;
  /** How long the last opening handshake that succeeded took, in ms (TCP connect, TLS, upgrade); -1 before the first. */
  lastConnectMs = -1;
  /** The TCP connect alone of that handshake, in ms; -1 before the first. */
  lastTcpConnectMs = -1;

  constructor(options: ChargerOptions) {
    this.options = options;
    this.identity = options.identity;
    this.metrics = options.metrics;
    this.inbox = options.inbox === false ? null : [];
    if (options.rawUrl) this.url = options.url;
    else {
      const u = new URL(options.url);
      u.pathname = u.pathname.replace(/\/*$/, '/') + encodeURIComponent(options.identity);
      this.url = u.toString();
    }
  }

  /** The subprotocol the server selected ('' before the first open). */
  get protocol(): string {
    return this.negotiated;
  }

  /** The negotiated OCPP version, as the answer table names it. */
  get version(): SimVersion {
    return this.negotiated === OCPP201 ? 'ocpp2.0.1' : 'ocpp1.6';
  }

  get isOpen(): boolean {
    return this.openSocket() !== null;
  }

  /** The socket while it is open, else null. */
  private openSocket(): ChargerSocket | null {
    const ws = this.ws;
    return ws !== null && ws.readyState === WebSocket.OPEN ? ws : null;
  }

  /** True while a CALL is outstanding. */
  get busy(): boolean {
    return this.pending !== null;
  }

  /** Opens the WebSocket; resolves with the negotiated subprotocol, rejects with ConnectError. */
  connect(): Promise<string> {
    if (this.ws) return Promise.reject(new ConnectError('already-connected', 'connect() while a socket is open'));
    const o = this.options;
    const headers: Record<string, string> = { ...o.headers };
    if (o.password !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${this.identity}:${o.password}`).toString('base64')}`;
    }
    const protocols = o.protocols ?? [OCPP16];
    this.closingByUs = false;
    this.lastClose = null;
    return new Promise<string>((resolve, reject) => {
      const attempt = { startedAt: performance.now(), tcpAt: -1, resolve, reject };
      this.connectAttempt = attempt;
      let ws: ChargerSocket;
      try {
        ws = openChargerSocket(
          this.url,
          protocols,
          {
            handshakeTimeout: o.handshakeTimeoutMs ?? 20_000,
            localAddress: o.localAddress,
            localPort: o.localPort,
            family: o.family,
            headers,
            rejectUnauthorized: o.rejectUnauthorized ?? true,
            ...(o.secureContext !== undefined ? { secureContext: o.secureContext } : o.ca !== undefined ? { ca: o.ca } : {}),
            maxPayload: 16 * 1024 * 1024,
          },
          () => {
            attempt.tcpAt = performance.now();
          },
        );
      } catch (error) {
        this.connectAttempt = null;
        reject(new ConnectError('invalid-request', (error as Error).message));
        return;
      }
      ws[CHARGER] = this;
      ws.on('open', onSocketOpen);
      ws.on('message', onSocketMessage);
      ws.on('close', onSocketClose);
      ws.on('error', onSocketError);
      this.ws = ws;
    });
  }

  /**
   * Sends a CALL and resolves with the CALLRESULT payload. Rejects with CallError (the server's
   * CALLERROR code), CallTimeoutError or NotConnectedError. Calls made while one is outstanding wait.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the CALLRESULT is the server's JSON; callers name its type or read it as sent
  call<T = any>(action: string, payload: unknown = {}, options: { timeoutMs?: number } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.callWith(action, payload, options.timeoutMs ?? this.options.callTimeoutMs ?? 30_000, (error, result) => {
        if (error) reject(error);
        else resolve(result as T);
      });
    });
  }

  /** call() without a promise, for the load generator's hot path. */
  callWith(action: string, payload: unknown, timeoutMs: number, done: CallDone): void {
    if (!this.isOpen) {
      done(new NotConnectedError(`${action}: not connected`), undefined, 0);
      return;
    }
    if (this.pending) {
      (this.queue ??= []).push({ action, payload, timeoutMs, done });
      return;
    }
    this.dispatch(action, payload, timeoutMs, done);
  }

  /** Sends any text as it is: for malformed frames, hand-made CALLRESULTs and the like. */
  sendRaw(text: string): void {
    const ws = this.openSocket();
    if (!ws) throw new NotConnectedError('sendRaw: not connected');
    ws.send(text);
    if (this.metrics) this.metrics.framesSent++;
  }

  /** Replaces the answerer of central-system CALLs (null: back to the default table). */
  onCall(handler: CallHandler | null): this {
    this.handler = handler;
    return this;
  }

  /** Called on every close of the socket (not on a failed connect). */
  onClose(listener: ((info: CloseInfo, charger: SimulatedCharger) => void) | null): this {
    this.closeListener = listener;
    return this;
  }

  /**
   * The next incoming frame that matches, among those no call consumed (central-system CALLs,
   * answers nobody waited for, frames that are not valid JSON arrive as [text]).
   */
  waitForMessage(predicate: (frame: unknown[]) => boolean = () => true, timeoutMs = 10_000): Promise<unknown[]> {
    if (this.inbox) {
      const i = this.inbox.findIndex(predicate);
      if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    }
    return new Promise<unknown[]>((resolve, reject) => {
      const waiter: MessageWaiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.messageWaiters = this.messageWaiters?.filter((w) => w !== waiter) ?? null;
          reject(new Error(`no matching message within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      (this.messageWaiters ??= []).push(waiter);
    });
  }

  /** Resolves when the socket closes (at once if it is already closed). */
  waitForClose(): Promise<CloseInfo> {
    if (!this.ws) {
      return Promise.resolve(this.lastClose ?? { code: 1006, reason: 'never connected', byUs: false });
    }
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /** Starts the closing handshake and resolves when the socket is closed. */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    const ws = this.ws;
    if (!ws) return this.waitForClose();
    this.closingByUs = true;
    const closed = this.waitForClose();
    ws.close(code, reason);
    return closed;
  }

  /** Drops the TCP connection without a closing handshake. */
  terminate(): void {
    if (!this.ws) return;
    this.closingByUs = true;
    this.ws.terminate();
  }

  // ---- internals (public only for the shared listeners and the sweep) ----

  private dispatch(action: string, payload: unknown, timeoutMs: number, done: CallDone): void {
    const id = (this.seq++).toString(36);
    const now = performance.now();
    this.pending = { id, action, sentAt: now, deadline: now + timeoutMs, timeoutMs, done };
    watchTimeout(this);
    // Callers checked that the socket is open (callWith, settle).
    (this.ws as ChargerSocket).send(encodeCall(id, action, payload ?? {}));
    this.metrics?.callSent(action);
  }

  /** Ends the outstanding call and starts the next queued one before telling the caller, so order holds. */
  private settle(error: Error | null, result: unknown, now: number): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    unwatchTimeout(this);
    const next = this.queue?.shift();
    if (next) {
      if (this.isOpen) this.dispatch(next.action, next.payload, next.timeoutMs, next.done);
      else next.done(new NotConnectedError(`${next.action}: not connected`), undefined, 0);
    }
    p.done(error, result, now - p.sentAt);
  }

  /** @internal Times out the outstanding call if its deadline passed. */
  expireCall(now: number): void {
    const p = this.pending;
    if (!p || p.deadline > now) return;
    if (this.metrics) this.metrics.callsTimedOut++;
    this.settle(new CallTimeoutError(p.action, p.timeoutMs), undefined, now);
  }

  /** @internal */
  socketOpened(ws: ChargerSocket): void {
    if (ws !== this.ws) return;
    this.negotiated = ws.protocol;
    this.wasOpen = true;
    const attempt = this.connectAttempt;
    this.connectAttempt = null;
    if (attempt) {
      this.lastConnectMs = performance.now() - attempt.startedAt;
      this.lastTcpConnectMs = attempt.tcpAt >= 0 ? attempt.tcpAt - attempt.startedAt : -1;
      this.metrics?.connected(this.lastConnectMs * 1000);
      attempt.resolve(ws.protocol);
    }
  }

  /** @internal */
  socketError(ws: ChargerSocket, error: Error): void {
    if (ws !== this.ws) return;
    const attempt = this.connectAttempt;
    if (attempt) {
      // ws reports a failed handshake as 'error' then 'close'; the error says why.
      this.connectAttempt = null;
      attempt.reject(new ConnectError(connectFailureReason(error), error.message));
    }
  }

  /** @internal */
  socketClosed(ws: ChargerSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    ws[CHARGER] = undefined;
    this.ws = null;
    const info: CloseInfo = { code, reason, byUs: this.closingByUs };
    this.lastClose = info;
    const attempt = this.connectAttempt;
    if (attempt) {
      this.connectAttempt = null;
      attempt.reject(new ConnectError(this.closingByUs ? 'closed-by-client' : 'closed-before-open', `closed with ${code} before open`));
    }
    const wasOpen = this.wasOpen;
    this.wasOpen = false;
    if (this.pending) {
      const m = this.metrics;
      if (m) {
        if (m.ending) m.callsUnansweredAtEnd++;
        else if (this.closingByUs) m.callsCutByDrop++;
        else m.callsAborted++;
      }
      this.settle(new NotConnectedError(`${this.pending.action}: connection closed (${code})`), undefined, performance.now());
    }
    if (this.queue) {
      const queued = this.queue;
      this.queue = null;
      for (const q of queued) q.done(new NotConnectedError(`${q.action}: connection closed (${code})`), undefined, 0);
    }
    const waiters = this.closeWaiters;
    this.closeWaiters = null;
    if (waiters) for (const w of waiters) w(info);
    // A failed connect is reported by connect() itself, not as a close.
    if (wasOpen) this.closeListener?.(info, this);
  }

  /** @internal Handles one incoming frame. */
  receive(data: WebSocket.RawData, isBinary: boolean): void {
    const m = this.metrics;
    if (m) m.framesReceived++;
    const text = messageText(data);
    const frame = isBinary ? undefined : parseFrame(text);
    if (!frame || typeof frame[1] !== 'string') {
      if (m) m.malformedFrames++;
      this.deliver([text]);
      return;
    }
    const answer = readAnswer(frame);
    if (answer) {
      const p = this.pending;
      if (!p || p.id !== answer.messageId) {
        if (m) m.unmatchedResponses++;
        this.deliver(frame);
        return;
      }
      const now = performance.now();
      const latencyUs = (now - p.sentAt) * 1000;
      if (answer.kind === 'result') {
        m?.callAnswered(latencyUs);
        this.settle(null, answer.payload, now);
      } else {
        m?.callFailed(answer.code, latencyUs);
        this.settle(new CallError(answer.code, answer.description, answer.details), undefined, now);
      }
      return;
    }
    if (isCall(frame)) {
      this.deliver(frame);
      this.answer(frame[1] as string, frame[2] as string, frame[3]);
      return;
    }
    if (m) m.malformedFrames++;
    this.deliver(frame);
  }

  /** Hands a frame no call consumed to a waiter, or keeps it in the (bounded) inbox. */
  private deliver(frame: unknown[]): void {
    const waiters = this.messageWaiters;
    if (waiters) {
      const i = waiters.findIndex((w) => w.predicate(frame));
      if (i >= 0) {
        const [w] = waiters.splice(i, 1);
        clearTimeout(w.timer);
        if (waiters.length === 0) this.messageWaiters = null;
        w.resolve(frame);
        return;
      }
    }
    const inbox = this.inbox;
    if (!inbox) return;
    if (inbox.length >= INBOX_LIMIT) inbox.shift();
    inbox.push(frame);
  }

  private answer(id: string, action: string, payload: unknown): void {
    this.metrics?.csCall(action);
    let result: unknown;
    try {
      result = this.handler ? this.handler(action, payload, this) : defaultAnswer(this.version, action, payload);
    } catch (error) {
      this.replyError(id, error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.replyResult(id, value),
        (error) => this.replyError(id, error),
      );
    } else this.replyResult(id, result);
  }

  private replyResult(id: string, result: unknown): void {
    const ws = this.openSocket();
    if (result === NO_REPLY || !ws) return;
    ws.send(encodeCallResult(id, result ?? {}));
    this.metrics?.csAnswered();
  }

  private replyError(id: string, error: unknown): void {
    const ws = this.openSocket();
    if (!ws) return;
    const e = error instanceof CallError ? error : new CallError('InternalError', (error as Error)?.message ?? String(error));
    const details = typeof e.details === 'object' && e.details !== null && !Array.isArray(e.details) ? e.details : {};
    ws.send(encodeCallError(id, e.code, e.description, details));
    this.metrics?.csAnswered(e.code);
  }
}
