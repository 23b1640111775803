/**
 * A scriptable test charger for the backend tests: a real WebSocket OCPP-J client that can send its own CALLs
 * (and await their answers) while it receives the central system's CALLs and answers them the way a test
 * wants: a CALLRESULT, a CALLERROR (with any errorDetails, even a string), nothing at all, or later by hand.
 */
import { WebSocket } from 'ws';

export type OcppVersionName = 'ocpp1.6' | 'ocpp2.0.1';

/** A CALL the gateway sent to this charger. */
export interface ReceivedCall {
  messageId: string;
  action: string;
  payload: Record<string, unknown>;
  /** ms since the epoch when it arrived. */
  at: number;
  /** Number of CALLs the charger had answered when this one arrived. */
  answeredBefore: number;
}

/** How the charger answers one CALL; `undefined` leaves it for the test to answer by hand (or never). */
export type Reply =
  | { result: Record<string, unknown> }
  | { error: { code: string; description?: string; details?: unknown } }
  /** Exactly these frame elements, for firmware that sends odd CALLERRORs. */
  | { frame: unknown[] }
  | undefined;

export type CallHandler = (call: ReceivedCall, charger: TestCharger) => Reply | Promise<Reply>;

/** What the charger got back for a CALL it sent. */
export type Answer = { kind: 'result'; payload: Record<string, any> } | { kind: 'error'; code: string; description: string; details: unknown };

export interface ClosedInfo {
  code: number;
  reason: string;
}

export interface TestChargerOptions {
  protocol?: OcppVersionName;
  handler?: CallHandler;
  timeoutMs?: number;
}

let counter = 0;
function messageId(): string {
  return `c${process.pid.toString(36)}-${(++counter).toString(36)}`;
}

export class TestCharger {
  /** Every CALL from the gateway, in arrival order. */
  readonly calls: ReceivedCall[] = [];
  /** Every frame that was not a CALL nor an answer to one of our CALLs (late or stray frames). */
  readonly strays: unknown[][] = [];
  readonly closed: Promise<ClosedInfo>;
  handler: CallHandler | undefined;
  private answered = 0;
  private readonly pending = new Map<string, (answer: Answer) => void>();
  private readonly callWaiters: Array<{ match: (c: ReceivedCall) => boolean; resolve: (c: ReceivedCall) => void }> = [];
  private closedInfo: ClosedInfo | undefined;

  private constructor(
    readonly identity: string,
    readonly ws: WebSocket,
    handler: CallHandler | undefined,
  ) {
    this.handler = handler;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedInfo = { code, reason: reason.toString() };
        resolve(this.closedInfo);
      });
    });
    ws.on('error', () => {
      // ws follows an error with 'close'; `closed` reports it.
    });
    ws.on('message', (data) => this.onMessage(String(data)));
  }

  /** Opens `{baseUrl}/{identity}` offering `protocol`; rejects when the gateway refuses the upgrade. */
  static connect(baseUrl: string, identity: string, options: TestChargerOptions = {}): Promise<TestCharger> {
    const protocol = options.protocol ?? 'ocpp1.6';
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${baseUrl}/${identity}`, [protocol], { handshakeTimeout: options.timeoutMs ?? 5000 });
      const charger = new TestCharger(identity, ws, options.handler);
      ws.once('open', () => {
        if (ws.protocol !== protocol) {
          ws.terminate();
          reject(new Error(`${identity}: negotiated "${ws.protocol}" instead of ${protocol}`));
          return;
        }
        resolve(charger);
      });
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(Object.assign(new Error(`${identity}: upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode }));
      });
      ws.once('close', () => reject(new Error(`${identity}: closed during the handshake`)));
      ws.once('error', (err) => reject(err));
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private onMessage(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.strays.push([text]);
      return;
    }
    if (!Array.isArray(frame)) {
      this.strays.push([frame]);
      return;
    }
    const [type, id] = frame;
    if (type === 2 && typeof id === 'string' && typeof frame[2] === 'string') {
      const call: ReceivedCall = {
        messageId: id,
        action: frame[2],
        payload: (frame[3] ?? {}) as Record<string, unknown>,
        at: Date.now(),
        answeredBefore: this.answered,
      };
      this.calls.push(call);
      const waiter = this.callWaiters.findIndex((w) => w.match(call));
      if (waiter >= 0) this.callWaiters.splice(waiter, 1)[0].resolve(call);
      if (this.handler) {
        void Promise.resolve(this.handler(call, this)).then((reply) => {
          if (reply !== undefined) this.reply(call.messageId, reply);
        });
      }
      return;
    }
    const resolve = typeof id === 'string' ? this.pending.get(id) : undefined;
    if ((type === 3 || type === 4) && resolve) {
      this.pending.delete(id as string);
      resolve(
        type === 3
          ? { kind: 'result', payload: frame[2] as Record<string, any> }
          : { kind: 'error', code: String(frame[2]), description: String(frame[3]), details: frame[4] },
      );
      return;
    }
    this.strays.push(frame);
  }

  /** Answers a CALL of the gateway (by its message id) as `reply` says. */
  reply(id: string, reply: Exclude<Reply, undefined>): void {
    this.answered++;
    if ('result' in reply) this.send([3, id, reply.result]);
    else if ('error' in reply) this.send([4, id, reply.error.code, reply.error.description ?? '', reply.error.details ?? {}]);
    else this.send(reply.frame);
  }

  send(frame: unknown[]): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** The first CALL from the gateway matching `match` (already received or yet to come). */
  waitForCall(match: (c: ReceivedCall) => boolean = () => true, timeoutMs = 5000, skip = 0): Promise<ReceivedCall> {
    const seen = this.calls.filter(match);
    if (seen.length > skip) return Promise.resolve(seen[skip]);
    return new Promise((resolve, reject) => {
      const waiter = {
        match: (c: ReceivedCall) => match(c) && this.calls.filter(match).length > skip,
        resolve: (c: ReceivedCall) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        const i = this.callWaiters.indexOf(waiter);
        if (i >= 0) this.callWaiters.splice(i, 1);
        reject(new Error(`${this.identity}: no matching CALL from the gateway within ${timeoutMs} ms (got ${this.calls.map((c) => c.action).join(', ') || 'none'})`));
      }, timeoutMs);
      this.callWaiters.push(waiter);
    });
  }

  /** Sends a CALL and resolves with the gateway's answer (CALLRESULT or CALLERROR). */
  call(action: string, payload: Record<string, unknown>, timeoutMs = 5000): Promise<Answer> {
    const id = messageId();
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.identity}: no answer to ${action} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      if (this.ws.readyState !== WebSocket.OPEN) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.identity}: socket not open for ${action}`));
        return;
      }
      this.ws.send(JSON.stringify([2, id, action, payload]));
    });
  }

  /** Sends a CALL and returns the CALLRESULT payload; fails on a CALLERROR. */
  async callOk(action: string, payload: Record<string, unknown>, timeoutMs = 5000): Promise<Record<string, any>> {
    const answer = await this.call(action, payload, timeoutMs);
    if (answer.kind !== 'result') throw new Error(`${this.identity}: ${action} got CALLERROR ${answer.code}: ${answer.description}`);
    return answer.payload;
  }

  /** Closes politely and waits for the close (terminates after `timeoutMs`). */
  async close(code = 1000, timeoutMs = 2000): Promise<ClosedInfo> {
    if (this.closedInfo) return this.closedInfo;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    const timer = setTimeout(() => this.ws.terminate(), timeoutMs);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }

  /** Drops the TCP connection without a close handshake and waits until the socket reports closed. */
  async terminate(): Promise<ClosedInfo> {
    this.ws.terminate();
    return this.closed;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
