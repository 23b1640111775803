import type { Logger } from 'pino';
import { type AnswerTurnRunner, answerTurns } from './answer-turns.js';
import { CallFailure } from './call-failure.js';
import { type ActionId, actionId } from './catalogue.js';
import { OcppCallError, type OcppErrorReason, spelledErrorCode } from './errors.js';
import { type CallFrame, type JsonObject, parseFrame, serializeCall, serializeCallError, serializeCallResult } from './framing.js';
import type { RpcShared } from './rpc-shared.js';
import type { OcppVersion } from './versions.js';

/** Where an endpoint's frames go: the connection's outbox, the only writer of its socket. */
export interface FrameSink {
  /** false when the frame could not be queued (connection closing or closed). */
  sendText(text: string): boolean;
}

/** A charger's CALL waiting behind the one being answered. */
interface WaitingCall {
  frame: CallFrame;
  /** Its action's id in the connection's version, looked up once as it arrives. */
  action: ActionId;
  /** Its frame's size, counted while it waits. */
  bytes: number;
}

interface OutboundCall {
  messageId: string;
  action: string;
  payload: unknown;
  timeoutMs: number;
  sentAt: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (response: JsonObject) => void;
  reject: (failure: CallFailure) => void;
}

/**
 * One connection's OCPP-J RPC: parses frames, answers the charger's CALLs in order (one at a time), and sends the
 * gateway's CALLs one at a time from a bounded FIFO, matching answers by message id. It knows nothing of sockets.
 *
 * Pipelined CALLs follow one rule whatever the action and however it is answered: the CALLs of one read are all
 * held before the first is answered (answering starts once the read's callback has returned: ws emits every
 * message of a read synchronously within it; under load, in a later turn of the event loop, see answer-turns.ts),
 * then answered one at a time, in order. Up to `maxQueuedInboundCalls` (and `maxQueuedInboundBytes`) may wait behind the one being
 * answered; one more gets a GenericError at once. Without that deferral a burst of CALLs answered synchronously
 * would never queue while the same burst of CALLs answered asynchronously would overflow: a charger cannot tell
 * which is which.
 */
export class RpcEndpoint<Owner = unknown> implements AnswerTurnRunner {
  /**
   * The charger's CALL being answered (or about to be), and its action. Kept in fields rather than at the head of a
   * list: a charger sends one CALL at a time, and a list that once held one would keep its backing store (176
   * bytes with the list, by V8's growth rule) for as long as the charger stays connected, and a list entry would be
   * made for every CALL.
   */
  private headFrame: CallFrame | null = null;
  private headAction: ActionId = 0;
  /** CALLs that arrived while another was being answered, in arrival order; dropped once empty. */
  private waiting: WaitingCall[] | null = null;
  /** Bytes of the waiting CALLs. */
  private inboundWaitingBytes = 0;
  /** Answering is scheduled or under way (an answer is awaited): new CALLs only join the queue. */
  private inboundRunning = false;
  private inFlight: OutboundCall | null = null;
  private outboundQueue: OutboundCall[] | null = null;
  private closed = false;
  /** Id of the last CALL that timed out, so its late answer is told apart from a stranger's. */
  private lastTimedOutId: string | undefined;
  /** Resolvers waiting for this endpoint to have nothing in flight (graceful shutdown). */
  private idleWaiters: Array<() => void> | null = null;

  constructor(
    readonly version: OcppVersion,
    private readonly shared: RpcShared<Owner>,
    private readonly sink: FrameSink,
    private readonly owner: Owner,
  ) {}

  /** Handles one frame from the charger. Binary frames are not OCPP-J; they are answered, not obeyed. */
  receive(text: string, isBinary = false): void {
    const frame = parseFrame(text);
    if (isBinary) {
      this.shared.metrics.malformed('binary_frame');
      const id = frame.kind === 'invalid' ? frame.answer?.messageId : frame.kind === 'call' ? frame.messageId : undefined;
      if (id !== undefined) this.sendError(id, 'framing', 'binary frames are not OCPP-J: send text frames');
      return;
    }
    switch (frame.kind) {
      case 'call': {
        const action = actionId(this.version, frame.action);
        this.shared.metrics.inboundCall(action);
        const limited = this.shared.limitInboundCall?.(this.owner) ?? null;
        if (limited !== null) {
          this.sendError(frame.messageId, limited.reason, limited.message);
          limited.afterAnswer?.();
          return;
        }
        this.holdInbound(frame, action, text);
        return;
      }
      case 'result':
        this.settle(frame.messageId, (call) => call.resolve(frame.payload));
        return;
      case 'error': {
        const { errorCode, errorDetails } = this.shared.readCallError?.(this.owner, this.version, frame) ?? frame;
        this.shared.metrics.callErrorReceived(errorCode);
        this.settle(frame.messageId, (call) => call.reject(new CallFailure('CALL_ERROR', frame.errorDescription || errorCode, errorCode, errorDetails)));
        return;
      }
      case 'invalid':
        this.shared.metrics.malformed(frame.problem);
        this.shared.warnings.write(
          'warn',
          `malformed:${frame.problem}`,
          { chargePointId: this.shared.identityOf(this.owner), protocol: this.version, problem: frame.problem, detail: frame.message },
          'charger sent a frame that is not OCPP-J',
        );
        if (frame.answer) {
          this.sendError(frame.answer.messageId, frame.answer.reason, frame.message);
        } else if (frame.responseTo !== undefined) {
          // A broken answer to our CALL still ends that CALL: waiting for the timeout would help nobody.
          this.settle(frame.responseTo, (call) =>
            call.reject(new CallFailure('CALL_ERROR', `charger answered with a malformed frame: ${frame.message}`, 'ProtocolError')),
          );
        } else if (this.version === 'ocpp2.0.1' && frame.isResponse !== true) {
          // OCPP-J 2.0.1: a message whose id cannot be read is answered with id "-1".
          this.sendError('-1', 'framing', frame.message);
        }
        return;
    }
  }

  /** Holds a CALL for answering in turn, or refuses it at once when the queue behind the current one is full. */
  private holdInbound(frame: CallFrame, action: ActionId, text: string): void {
    if (this.closed) return;
    if (this.headFrame === null) {
      this.headFrame = frame;
      this.headAction = action;
    } else {
      // Only a CALL that has to wait is measured: the common case, one CALL at a time, costs nothing.
      const bytes = Buffer.byteLength(text);
      const { maxQueuedInboundCalls, maxQueuedInboundBytes } = this.shared;
      if ((this.waiting?.length ?? 0) >= maxQueuedInboundCalls || this.inboundWaitingBytes + bytes > maxQueuedInboundBytes) {
        this.shared.metrics.inboundCallRejected();
        this.sendError(
          frame.messageId,
          'generic',
          `too many CALLs waiting for an answer: at most ${maxQueuedInboundCalls} (${maxQueuedInboundBytes} bytes) may wait behind the one being answered; wait for answers before sending more`,
        );
        return;
      }
      this.inboundWaitingBytes += bytes;
      (this.waiting ??= []).push({ frame, action, bytes });
    }
    if (!this.inboundRunning) {
      this.inboundRunning = true;
      // In this turn of the event loop, after the read's callback (every CALL of the read is then held), or in a
      // later turn when this one has answered its share (answer-turns.ts).
      answerTurns.schedule(this);
    }
  }

  /** Its turn (AnswerTurnRunner). */
  runHeld(): void {
    this.answerHeld();
  }

  /** Answers the held CALLs in order; stops at one whose answer must be awaited and resumes when it is sent. */
  private answerHeld(): void {
    for (;;) {
      const head = this.closed ? null : this.headFrame;
      if (head === null) {
        this.inboundRunning = false;
        this.notifyIfIdle();
        return;
      }
      const pending = this.handleInbound(head, this.headAction);
      if (pending !== undefined) {
        const resume = () => {
          this.releaseHead();
          this.answerHeld();
        };
        pending.then(resume, resume);
        return;
      }
      this.releaseHead();
    }
  }

  /** The CALL being answered was answered: the first waiting one, if any, is next. */
  private releaseHead(): void {
    const next = this.waiting?.shift();
    if (next === undefined) {
      this.headFrame = null;
      return;
    }
    if (this.waiting?.length === 0) this.waiting = null;
    this.headFrame = next.frame;
    this.headAction = next.action;
    this.inboundWaitingBytes -= next.bytes;
  }

  /** Answers one CALL; returns a promise that settles once its answer is sent when that answer must be awaited. */
  private handleInbound(frame: CallFrame, action: ActionId): Promise<void> | undefined {
    const check = this.shared.checkInboundCall(this.version, action, frame.action, frame.payload, this.owner);
    if (check !== null) {
      this.sendError(frame.messageId, check.reason, check.message, check.details);
      return undefined;
    }
    const startedAt = performance.now();
    let answer: JsonObject | Promise<JsonObject>;
    try {
      answer = this.shared.handler(this.owner, frame, action, this.version);
    } catch (err) {
      this.failInbound(frame, err);
      return undefined;
    }
    if (answer instanceof Promise) {
      return answer.then(
        (payload) => this.answerInbound(frame, action, payload, startedAt),
        (err) => this.failInbound(frame, err),
      );
    }
    this.answerInbound(frame, action, answer, startedAt);
    return undefined;
  }

  private get isIdle(): boolean {
    return !this.inboundRunning && this.headFrame === null && this.inFlight === null && (this.outboundQueue?.length ?? 0) === 0;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters === null || !this.isIdle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = null;
    for (const resolve of waiters) resolve();
  }

  /** Resolves when no CALL is in flight or waiting in either direction, or after `maxWaitMs`. */
  whenIdle(maxWaitMs: number): Promise<void> {
    if (this.isIdle || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      (this.idleWaiters ??= []).push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private answerInbound(frame: CallFrame, action: ActionId, payload: JsonObject, startedAt: number): void {
    if (this.closed) return;
    this.shared.metrics.inboundAnswered(action, performance.now() - startedAt);
    this.sink.sendText(serializeCallResult(frame.messageId, payload));
  }

  private failInbound(frame: CallFrame, err: unknown): void {
    if (this.closed) return;
    if (err instanceof OcppCallError) {
      this.sendError(frame.messageId, err.reason, err.message, err.details);
      return;
    }
    this.shared.log.error({ err, chargePointId: this.shared.identityOf(this.owner), action: frame.action }, 'handling a charger CALL failed');
    this.sendError(frame.messageId, 'internal', 'the gateway could not handle this CALL; retry later');
  }

  private sendError(messageId: string, reason: OcppErrorReason, description: string, details: JsonObject = {}): void {
    const code = spelledErrorCode(this.version, reason, this.shared.errorSpellingOf?.(this.owner) ?? this.version);
    this.shared.metrics.callErrorSent(code);
    this.sink.sendText(serializeCallError(messageId, code, description, details));
  }

  /**
   * Sends a CALL to the charger and resolves with its CALLRESULT payload. One CALL is in flight at a time;
   * others wait in a bounded FIFO and are refused with QUEUE_FULL beyond it.
   */
  call(action: string, payload: unknown, timeoutMs = this.shared.callTimeoutMs): Promise<JsonObject> {
    if (this.closed) return Promise.reject(new CallFailure('DEVICE_OFFLINE', 'the charger is not connected'));
    return new Promise<JsonObject>((resolve, reject) => {
      const call: OutboundCall = { messageId: '', action, payload, timeoutMs, sentAt: 0, timer: undefined, resolve, reject };
      if (this.inFlight === null) {
        this.send(call);
        return;
      }
      const queue = (this.outboundQueue ??= []);
      if (queue.length >= this.shared.maxQueuedOutboundCalls) {
        reject(new CallFailure('QUEUE_FULL', `${queue.length} calls already wait for this charger; retry later`));
        return;
      }
      queue.push(call);
    });
  }

  /** Calls waiting behind the one in flight, for status pages. */
  get pendingOutboundCalls(): number {
    return (this.inFlight ? 1 : 0) + (this.outboundQueue?.length ?? 0);
  }

  private send(call: OutboundCall): void {
    call.messageId = this.shared.nextMessageId();
    call.sentAt = performance.now();
    this.inFlight = call;
    if (!this.sink.sendText(serializeCall(call.messageId, call.action, call.payload))) {
      this.inFlight = null;
      call.reject(new CallFailure('DEVICE_OFFLINE', 'the charger connection is closing'));
      this.sendNext();
      return;
    }
    this.shared.metrics.outboundCall(call.action, this.version);
    call.timer = setTimeout(() => this.timeOut(call), call.timeoutMs);
  }

  private timeOut(call: OutboundCall): void {
    if (this.inFlight !== call) return;
    this.inFlight = null;
    this.lastTimedOutId = call.messageId;
    this.shared.metrics.outboundTimeout(call.action);
    call.reject(new CallFailure('TIMEOUT', `the charger did not answer ${call.action} within ${call.timeoutMs} ms`));
    this.sendNext();
  }

  private settle(messageId: string, outcome: (call: OutboundCall) => void): void {
    const call = this.inFlight;
    if (call === null || call.messageId !== messageId) {
      this.shared.metrics.unmatchedResponse(messageId === this.lastTimedOutId ? 'late' : 'unknown');
      return;
    }
    clearTimeout(call.timer);
    this.inFlight = null;
    this.shared.metrics.outboundAnswered(call.action, this.version, performance.now() - call.sentAt);
    outcome(call);
    this.sendNext();
  }

  private sendNext(): void {
    const next = this.outboundQueue?.shift();
    // An emptied queue is dropped, not kept (with its backing store) for the rest of the connection.
    if (this.outboundQueue?.length === 0) this.outboundQueue = null;
    if (next !== undefined) this.send(next);
    else this.notifyIfIdle();
  }

  /** The connection is gone: every CALL in flight or waiting fails at once, nothing waits for a timeout. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.headFrame = null;
    this.waiting = null;
    this.inboundWaitingBytes = 0;
    const pending = this.inFlight ? [this.inFlight, ...(this.outboundQueue ?? [])] : (this.outboundQueue ?? []);
    this.inFlight = null;
    this.outboundQueue = null;
    if (pending.length > 0) {
      // Made only when a command waits: an Error and its stack trace per disconnect showed in a storm's profile.
      const failure = new CallFailure('DEVICE_OFFLINE', 'the charger disconnected');
      for (const call of pending) {
        clearTimeout(call.timer);
        call.reject(failure);
      }
    }
    const waiters = this.idleWaiters ?? [];
    this.idleWaiters = null;
    for (const resolve of waiters) resolve();
  }
}
