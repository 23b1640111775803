/**
 * A small, real WebSocket OCPP-J client for tests: it speaks to the gateway through a socket exactly as a
 * charger would, and keeps every frame it receives so tests can assert on the exact bytes of each answer.
 * The wire itself (framing, message ids, matching answers, the charger's socket) is the simulator's
 * src/sim/ocpp-j.ts, so tests and the load generator speak OCPP-J the same way.
 */
import type { IncomingMessage } from 'node:http';
import { type ClientOptions, WebSocket } from 'ws';
import {
  answers,
  callInText,
  encodeCall,
  encodeCallResult,
  type Frame,
  isCall,
  messageText,
  openChargerSocket,
  processMessageIds,
  readFrame,
} from '../../src/sim/ocpp-j.js';

/** A parsed frame as received (an array for OCPP-J), or `[text]` when the text was not a JSON array. */
export type { Frame };

export interface ClosedInfo {
  code: number;
  reason: string;
  /** ms since the epoch when the client saw the close. */
  at: number;
}

export interface ConnectOptions {
  /** Extra ws client options, e.g. `{ autoPong: false }`. */
  ws?: ClientOptions;
  /** Answers central-system CALLs instead of queueing them; return the CALLRESULT payload. */
  autoAnswer?: (action: string, payload: unknown) => Record<string, unknown>;
  /** How long to wait for the handshake. */
  timeoutMs?: number;
}

/** The HTTP answer to an upgrade the server refused. */
export interface Refusal {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

export type ConnectOutcome = { ok: true; client: OcppClient } | { ok: false; refusal?: Refusal; error?: Error };

/** Message ids unique within the test process. */
export const nextId: () => string = processMessageIds('t');

export class OcppClient {
  /** Every frame received, in order (auto-answered CALLs included). */
  readonly received: Frame[] = [];
  /** CALLs this client sent, by message id, so answers can be checked against the action's schema. */
  readonly sentCalls = new Map<string, string>();
  /** Resolves once, when the socket has closed. */
  readonly closed: Promise<ClosedInfo>;
  private readonly inbox: Frame[] = [];
  private waiter: ((frame: Frame) => void) | undefined;
  private closedInfo: ClosedInfo | undefined;
  /** ws 'error' events seen (ws emits them before 'close'; kept for diagnosis). */
  readonly errors: Error[] = [];
  pings = 0;

  private constructor(
    readonly ws: WebSocket,
    private readonly autoAnswer: ConnectOptions['autoAnswer'],
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedInfo = { code, reason: reason.toString(), at: Date.now() };
        resolve(this.closedInfo);
      });
    });
    ws.on('error', (err) => this.errors.push(err));
    ws.on('ping', () => this.pings++);
    ws.on('message', (data) => this.onMessage(messageText(data)));
  }

  /** Connects to `{url}/{identity}` (identity used as given, so tests control its encoding). */
  static async connect(url: string, identity: string, protocols: string[] = ['ocpp1.6'], options: ConnectOptions = {}): Promise<OcppClient> {
    const outcome = await OcppClient.tryConnect(url, identity, protocols, options);
    if (outcome.ok) return outcome.client;
    if (outcome.refusal) throw new Error(`upgrade refused: HTTP ${outcome.refusal.status} ${outcome.refusal.body.trim()}`);
    throw outcome.error ?? new Error('connection failed');
  }

  /**
   * Like `connect`, but a 503 is retried every 250 ms for up to `withinMs`, as a charger retries it: for instances
   * that refuse chargers for a moment (a cluster registration lapsed or lost with an empty Redis, then renewed).
   */
  static async connectRetrying503(
    url: string,
    identity: string,
    protocols: string[] = ['ocpp1.6'],
    options: ConnectOptions = {},
    withinMs = 20_000,
  ): Promise<OcppClient> {
    const until = Date.now() + withinMs;
    let outcome = await OcppClient.tryConnect(url, identity, protocols, options);
    while (!outcome.ok && outcome.refusal?.status === 503 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      outcome = await OcppClient.tryConnect(url, identity, protocols, options);
    }
    if (outcome.ok) return outcome.client;
    if (outcome.refusal) throw new Error(`upgrade refused: HTTP ${outcome.refusal.status} ${outcome.refusal.body.trim()}`);
    throw outcome.error ?? new Error('connection failed');
  }

  /** Like `connect`, but reports a refusal (HTTP status and body) or a handshake error instead of throwing. */
  static tryConnect(url: string, identity: string, protocols: string[] = ['ocpp1.6'], options: ConnectOptions = {}): Promise<ConnectOutcome> {
    return new Promise((resolve) => {
      const ws = openChargerSocket(`${url}/${identity}`, protocols, { handshakeTimeout: options.timeoutMs ?? 5000, ...options.ws });
      const client = new OcppClient(ws, options.autoAnswer);
      let settled = false;
      const settle = (outcome: ConnectOutcome) => {
        if (!settled) {
          settled = true;
          resolve(outcome);
        }
      };
      ws.once('open', () => settle({ ok: true, client }));
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          settle({ ok: false, refusal: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers } });
          ws.terminate();
        });
        res.on('error', () => settle({ ok: false, refusal: { status: res.statusCode ?? 0, body: '', headers: res.headers } }));
      });
      ws.once('error', (error) => settle({ ok: false, error }));
      ws.once('close', () => settle({ ok: false, error: new Error('closed during the handshake') }));
    });
  }

  /** The negotiated subprotocol ('' when none). */
  get protocol(): string {
    return this.ws.protocol;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private onMessage(text: string): void {
    const frame = readFrame(text);
    this.received.push(frame);
    if (this.autoAnswer && isCall(frame)) {
      this.ws.send(encodeCallResult(frame[1] as string, this.autoAnswer(frame[2] as string, frame[3])));
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(frame);
    } else {
      this.inbox.push(frame);
    }
  }

  /** The next frame from the gateway; rejects after `timeoutMs` or when the socket closes first. */
  nextFrame(timeoutMs = 3000): Promise<Frame> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.waiter) return Promise.reject(new Error('nextFrame is already waiting'));
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = (info: ClosedInfo) => {
        if (this.waiter !== take) return;
        this.waiter = undefined;
        clearTimeout(timer);
        reject(new Error(`socket closed (${info.code} ${info.reason}) while waiting for a frame`));
      };
      const take = (frame: Frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.waiter = take;
      if (this.closedInfo) onClose(this.closedInfo);
      else void this.closed.then(onClose);
    });
  }

  /** Resolves true when no frame arrives within `ms` (a frame stays queued for nextFrame). */
  async quietFor(ms: number): Promise<boolean> {
    if (this.inbox.length > 0) return false;
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.length === 0;
  }

  /** Takes every frame received and not yet taken (to resynchronise after a failed expectation). */
  drain(): Frame[] {
    return this.inbox.splice(0, this.inbox.length);
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.inbox.length;
  }

  /** Sends a CALL without waiting; returns its message id. */
  sendCall(action: string, payload: unknown, messageId = nextId()): string {
    this.sentCalls.set(messageId, action);
    this.ws.send(encodeCall(messageId, action, payload));
    return messageId;
  }

  /**
   * Sends a CALL and resolves with the raw reply frame. The reply must be the very next frame: the gateway sends
   * nothing else unasked here, so anything in between is a failure worth seeing.
   */
  async call(action: string, payload: unknown, options: { messageId?: string; timeoutMs?: number } = {}): Promise<Frame> {
    const id = this.sendCall(action, payload, options.messageId);
    const frame = await this.nextFrame(options.timeoutMs ?? 3000);
    if (!answers(frame, id)) throw new Error(`expected the answer to ${action} ${id}, got ${JSON.stringify(frame).slice(0, 300)}`);
    return frame;
  }

  /** Sends text or bytes as they are; a text CALL is remembered so its answer can be schema-checked. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.rememberCall(typeof data === 'string' ? data : data.toString());
    this.ws.send(data, { binary: options.binary ?? false });
  }

  /** Remembers a CALL sent as raw text, so that its answer can be schema-checked. */
  private rememberCall(text: string): void {
    const call = callInText(text);
    if (call) this.sentCalls.set(call.messageId, call.action);
  }

  /** Writes already-encoded WebSocket frames to the socket in one write, so the server reads them in one chunk. */
  writeFramesAtOnce(texts: string[]): void {
    for (const text of texts) this.rememberCall(text);
    const socket = (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.write(Buffer.concat(texts.map((t) => encodeClientFrame(Buffer.from(t), 0x1))));
  }

  /** The underlying TCP socket (to pause reading, for instance). */
  get socket(): import('node:net').Socket {
    return (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
  }

  /** Closes politely and waits for the close to complete (terminates after `timeoutMs`). */
  async close(code = 1000, timeoutMs = 2000): Promise<ClosedInfo> {
    if (this.closedInfo) return this.closedInfo;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    const timer = setTimeout(() => this.ws.terminate(), timeoutMs);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** One masked client-to-server frame (RFC 6455 §5.2), FIN set. */
export function encodeClientFrame(payload: Buffer, opcode: number): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const header = Buffer.alloc(headerLength + 4);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  mask.copy(header, headerLength);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, masked]);
}

/** An HTTP Basic `Authorization` value (user name and password as UTF-8, base64). */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
