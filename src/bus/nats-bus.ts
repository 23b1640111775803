import { type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect,
  Empty,
  errors,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription as NatsSubscription,
  type NodeConnectionOptions,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import type { GatewayEvent } from '../events/envelope.js';
import { KeyedSequencer } from './keyed-sequencer.js';
import { isEventType, type NatsSubjects, natsSubjects } from './nats-subjects.js';
import { PublishSlots, SlotsExhaustedError } from './publish-slots.js';
import { DEFAULT_EVENT_STREAM, type EventStreamOptions, ensureEventStream } from './stream-setup.js';
import { encodeSubjectToken } from './subject-token.js';
import {
  type Bus,
  type BusHandler,
  type BusMessage,
  type BusResponder,
  BusResponderError,
  BusTimeoutError,
  BusUnavailableError,
  NoRespondersError,
  type Subscription,
} from './types.js';

export interface NatsBusOptions {
  /** NATS server URLs (`nats://host:4222`); the client reconnects to any of them. */
  servers: string | string[];
  /** Connection name shown by the server (monitoring); e.g. the gateway id. */
  name?: string;
  /** First token(s) of every subject; default `gateway`. */
  subjectRoot?: string;
  stream?: Partial<EventStreamOptions>;
  /** How long a publish may take in all (waiting for a place, for the charger's earlier events, for the ack). */
  ackTimeoutMs?: number;
  /** Publishes held at once (sent and awaiting their ack, or queued behind an earlier event of their charger). */
  maxInFlight?: number;
  /** Publishes waiting for a place beyond maxInFlight; more fail at once. Default 4 × maxInFlight. */
  maxWaiting?: number;
  /** Queue group of `respond`: one member of the group answers each request. Default `gateway`. */
  queueGroup?: string;
  /** Requests this bus answers at once (over all `respond` subjects); more are refused with a responder error. Default 1000. */
  maxConcurrentAnswers?: number;
  /** First reconnect delay; doubles per failed attempt up to maxReconnectWaitMs. Reconnects never stop. */
  reconnectWaitMs?: number;
  maxReconnectWaitMs?: number;
  /** Anything else of the NATS client (auth, TLS, ping interval). */
  connection?: Partial<NodeConnectionOptions>;
  /**
   * Errors that concern one message or the connection, not a caller (a subscriber threw, a message was not
   * JSON, the stream could not be set up again after a reconnect). Route them to a rate-limited log.
   */
  onError?: (err: unknown, context: string) => void;
}

/** A stored event read back from the stream, with its stream sequence (an SSE id for `Last-Event-ID`). */
export interface StoredBusMessage<T = unknown> extends BusMessage<T> {
  seq: number;
}

export interface NatsBusStats {
  /** Publishes holding a place (sent, or queued behind their charger's earlier event). */
  inFlight: number;
  /** Publishes waiting for a place. */
  waiting: number;
  /** Chargers with a publish in progress. */
  chargers: number;
}

/** Header a responder's failure travels in, so the requester can tell it from an answer. */
export const RESPONDER_ERROR_HEADER = 'Gateway-Responder-Error';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeJson(data: unknown): Uint8Array {
  const text = JSON.stringify(data);
  return text === undefined ? Empty : encoder.encode(text);
}

function decodeJson(bytes: Uint8Array): unknown {
  return bytes.length === 0 ? undefined : JSON.parse(decoder.decode(bytes));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The cluster bus over NATS:
 * - events go to a JetStream stream, de-duplicated by their eventId and stored in order per charger;
 * - backend requests are core NATS requests (`{root}.requests.{action}`), answered by one member of a queue group;
 * - `subscribe` is a plain NATS subscription, `replayEvents` reads the stream from a sequence.
 *
 * Order: publishes of one charger run one after the other (each waits for its predecessor's ack), so retries
 * and reconnects cannot reorder them; when one fails, those queued behind it fail too instead of overtaking.
 * Different chargers' publishes are pipelined, bounded by maxInFlight (then publish waits, up to its timeout).
 */
export class NatsBus implements Bus {
  readonly subjects: NatsSubjects;
  readonly streamName: string;
  private readonly ackTimeoutMs: number;
  private readonly queueGroup: string;
  private readonly maxConcurrentAnswers: number;
  private answering = 0;
  private readonly slots: PublishSlots;
  private readonly lanes = new KeyedSequencer();
  private readonly replays = new Set<ConsumerMessages>();
  private readonly onError: (err: unknown, context: string) => void;
  private connected = true;
  private streamReady = true;
  private closing = false;
  private statusLoop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly streamOptions: EventStreamOptions,
    options: NatsBusOptions,
    private readonly reconnectBackoff: { reset(): void },
  ) {
    this.subjects = natsSubjects(options.subjectRoot ?? 'gateway');
    this.streamName = streamOptions.name;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.queueGroup = options.queueGroup ?? 'gateway';
    this.maxConcurrentAnswers = options.maxConcurrentAnswers ?? 1000;
    const maxInFlight = options.maxInFlight ?? 1024;
    this.slots = new PublishSlots(maxInFlight, options.maxWaiting ?? maxInFlight * 4);
    this.onError = options.onError ?? (() => {});
  }

  /** Connects, creates or updates the events stream, and starts watching the connection. Rejects if either fails. */
  static async start(options: NatsBusOptions): Promise<NatsBus> {
    const subjects = natsSubjects(options.subjectRoot ?? 'gateway');
    const streamOptions: EventStreamOptions = { ...DEFAULT_EVENT_STREAM, ...options.stream };
    const backoff = exponentialBackoff(options.reconnectWaitMs ?? 250, options.maxReconnectWaitMs ?? 5000);
    const nc = await connect({
      ...options.connection,
      servers: options.servers,
      ...(options.name !== undefined ? { name: options.name } : {}),
      maxReconnectAttempts: -1,
      reconnectDelayHandler: backoff.next,
      // Without this the client builds two Error objects with stack traces for every request, each acknowledged
      // event publish included, in case it fails: in a CPU profile of a flood in cluster mode that was 13 % of the
      // gateway's time, and more in garbage collection. A failed publish still says what failed; only the stack of
      // the code that called it is lost (bench/analysis.md).
      noAsyncTraces: true,
    });
    try {
      const jsm = await jetstreamManager(nc);
      const bus = new NatsBus(nc, jetstream(nc), jsm, streamOptions, options, backoff);
      // Watch before the stream setup's round trips, so that no disconnect goes unnoticed.
      bus.statusLoop = bus.watchConnection().catch((err: unknown) => bus.onError(err, 'connection status'));
      await ensureEventStream(jsm, streamOptions, subjects.allEvents);
      return bus;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
      } else if (status.type === 'reconnect') {
        this.reconnectBackoff.reset();
        this.connected = true;
        // The server may have come back without the stream (new storage): set it up again before reporting ready.
        this.streamReady = false;
        void this.restoreStream();
      }
    }
  }

  private async restoreStream(): Promise<void> {
    let wait = 100;
    while (this.connected && !this.closing && !this.streamReady) {
      try {
        await ensureEventStream(this.jsm, this.streamOptions, this.subjects.allEvents);
        this.streamReady = this.connected;
        return;
      } catch (err) {
        this.onError(err, 'events stream setup after reconnect');
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  isReady(): boolean {
    return this.connected && this.streamReady && !this.closing;
  }

  stats(): NatsBusStats {
    return { inFlight: this.slots.inUse, waiting: this.slots.waiting, chargers: this.lanes.size };
  }

  /** Stores one event on `{root}.events.{eventType}.{charger token}`. */
  publishEvent(event: GatewayEvent): Promise<void> {
    let subject: string;
    try {
      subject = this.subjects.chargerEvent(event.eventType, event.chargePointId);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.publishStored(subject, event.chargePointId, event.eventId, event);
  }

  /**
   * Subjects under `{root}.events.` carry a GatewayEvent and go to the stream: either the full subject
   * (`...events.{eventType}.{token}`, the token matching the event's chargePointId) or `...events.{eventType}`,
   * to which the charger token is appended. Other subjects are plain NATS messages (at most once, not stored):
   * the promise resolves once the message is handed to the connection.
   */
  publish(subject: string, data: unknown): Promise<void> {
    if (this.closing) return Promise.reject(new BusUnavailableError('the bus is closed'));
    if (!subject.startsWith(this.subjects.eventsPrefix)) return this.publishPlain(subject, data);
    const event = data as Partial<GatewayEvent> | null;
    const chargePointId = event?.chargePointId;
    const eventId = event?.eventId;
    if (typeof chargePointId !== 'string' || typeof eventId !== 'string' || eventId === '') {
      return Promise.reject(new TypeError(`an event on ${subject} must carry a string eventId and chargePointId`));
    }
    const rest = subject.slice(this.subjects.eventsPrefix.length);
    if (isEventType(rest)) return this.publishStored(`${subject}.${encodeSubjectToken(chargePointId)}`, chargePointId, eventId, data);
    const lastDot = rest.lastIndexOf('.');
    if (!isEventType(rest.slice(0, lastDot)) || rest.slice(lastDot + 1) !== encodeSubjectToken(chargePointId)) {
      return Promise.reject(
        new TypeError(`${subject} is not ${this.subjects.eventsPrefix}{eventType} or ${this.subjects.eventsPrefix}{eventType}.{token of ${chargePointId}}`),
      );
    }
    return this.publishStored(subject, chargePointId, eventId, data);
  }

  private publishPlain(subject: string, data: unknown): Promise<void> {
    if (!this.connected) return Promise.reject(new BusUnavailableError('not connected to NATS'));
    try {
      this.nc.publish(subject, encodeJson(data));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(new BusUnavailableError(`could not publish on ${subject}: ${describe(err)}`, { cause: err }));
    }
  }

  private publishStored(subject: string, chargePointId: string, eventId: string, data: unknown): Promise<void> {
    if (this.closing) return Promise.reject(new BusUnavailableError('the bus is closed'));
    const deadline = Date.now() + this.ackTimeoutMs;
    let payload: Uint8Array;
    try {
      payload = encodeJson(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.lanes.run(chargePointId, (previous) => this.storeInTurn(subject, eventId, payload, deadline, previous));
  }

  /** Runs inside the charger's lane: takes a place (in call order), waits for the predecessor, then publishes. */
  private async storeInTurn(subject: string, eventId: string, payload: Uint8Array, deadline: number, previous: Promise<unknown>): Promise<void> {
    let granted: boolean;
    try {
      granted = await this.slots.acquire(deadline);
    } catch (err) {
      if (err instanceof SlotsExhaustedError) throw new BusUnavailableError(err.message, { cause: err });
      throw err;
    }
    if (!granted) throw new BusTimeoutError(subject, this.ackTimeoutMs);
    try {
      try {
        await previous;
      } catch (cause) {
        throw new BusUnavailableError(`an earlier event of the same charger was not stored, so ${eventId} is not sent ahead of it`, { cause });
      }
      if (!this.connected) throw new BusUnavailableError('not connected to NATS');
      const remaining = deadline - Date.now();
      if (remaining < 1) throw new BusTimeoutError(subject, this.ackTimeoutMs);
      try {
        await this.js.publish(subject, payload, { msgID: eventId, timeout: remaining });
      } catch (err) {
        throw this.publishError(err, subject);
      }
    } finally {
      this.slots.release();
    }
  }

  private publishError(err: unknown, subject: string): Error {
    if (err instanceof TimeoutError) return new BusTimeoutError(subject, this.ackTimeoutMs);
    return new BusUnavailableError(`the events stream did not store ${subject}: ${describe(err)}`, { cause: err });
  }

  /** Resolves once the server has processed everything sent so far, subscriptions and responders included. */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  /** NATS cannot tell cheaply whether someone listens; while disconnected, nobody can answer. */
  mayHaveResponders(_subject: string): boolean {
    return this.connected && !this.closing;
  }

  async request(subject: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closing) throw new BusUnavailableError('the bus is closed');
    if (!this.connected) throw new BusUnavailableError('not connected to NATS');
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, encodeJson(data), { timeout: timeoutMs });
    } catch (err) {
      if (err instanceof TimeoutError) throw new BusTimeoutError(subject, timeoutMs);
      if (err instanceof RequestError && err.isNoResponders()) throw new NoRespondersError(subject);
      if (err instanceof errors.NoRespondersError) throw new NoRespondersError(subject);
      throw new BusUnavailableError(`request on ${subject} failed: ${describe(err)}`, { cause: err });
    }
    const failure = reply.headers?.get(RESPONDER_ERROR_HEADER);
    if (failure) throw new BusResponderError(failure);
    return decodeJson(reply.data);
  }

  subscribe<T = unknown>(pattern: string, handler: BusHandler<T>): Subscription {
    const sub = this.nc.subscribe(pattern, {
      callback: (err, msg) => {
        if (err !== null) {
          this.onError(err, `subscription ${pattern}`);
          return;
        }
        let data: T;
        try {
          data = decodeJson(msg.data) as T;
        } catch (parseErr) {
          this.onError(parseErr, `message on ${msg.subject} is not JSON`);
          return;
        }
        try {
          handler({ subject: msg.subject, data });
        } catch (handlerErr) {
          this.onError(handlerErr, `subscriber of ${pattern}`);
        }
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  /** Serves requests on `subject` as one member of the queue group: each request reaches one member. */
  respond(subject: string, responder: BusResponder): Subscription {
    const sub: NatsSubscription = this.nc.subscribe(subject, {
      queue: this.queueGroup,
      callback: (err, msg) => {
        if (err !== null) {
          this.onError(err, `responder ${subject}`);
          return;
        }
        if (this.answering >= this.maxConcurrentAnswers) {
          // Whoever floods the subject gets refusals, not an ever-growing set of pending answers.
          this.refuse(msg, `busy: ${this.maxConcurrentAnswers} requests are being answered`);
          return;
        }
        this.answering++;
        void this.answer(msg, responder).finally(() => this.answering--);
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  private async answer(msg: Msg, responder: BusResponder): Promise<void> {
    let payload: Uint8Array;
    try {
      const data = decodeJson(msg.data);
      payload = encodeJson(await responder({ subject: msg.subject, data }));
    } catch (err) {
      this.refuse(msg, describe(err));
      return;
    }
    msg.respond(payload);
  }

  private refuse(msg: Msg, reason: string): void {
    const h = headers();
    // Header values are one line.
    const line = reason.replace(/[\r\n]+/g, ' ').slice(0, 500);
    h.set(RESPONDER_ERROR_HEADER, line === '' ? 'responder failed' : line);
    msg.respond(Empty, { headers: h });
  }

  /**
   * Reads the events stream from `fromSeq` on (1 = the oldest kept), then follows new events, in stream order,
   * through an ordered consumer (it recreates itself after a gap or reconnect and never redelivers). Events
   * whose body is not JSON are reported through onError and skipped. `fromSeq` 'new' skips everything stored
   * before the call and follows only what comes after.
   */
  async replayEvents<T = unknown>(
    fromSeq: number | 'new',
    handler: (message: StoredBusMessage<T>) => void,
    options: { filterSubject?: string } = {},
  ): Promise<Subscription> {
    if (this.closing) throw new BusUnavailableError('the bus is closed');
    const consumer = await this.js.consumers.get(this.streamName, {
      ...(fromSeq === 'new' ? { deliver_policy: DeliverPolicy.New } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, Math.floor(fromSeq)) }),
      ...(options.filterSubject !== undefined ? { filter_subjects: options.filterSubject } : {}),
    });
    const messages = await consumer.consume();
    this.replays.add(messages);
    void (async () => {
      for await (const m of messages) {
        let data: T;
        try {
          data = decodeJson(m.data) as T;
        } catch (err) {
          this.onError(err, `stored event ${m.seq} is not JSON`);
          continue;
        }
        try {
          handler({ subject: m.subject, data, seq: m.seq });
        } catch (err) {
          this.onError(err, 'replay handler');
        }
      }
    })().catch((err: unknown) => this.onError(err, 'replay'));
    return {
      unsubscribe: () => {
        this.replays.delete(messages);
        void messages.close();
      },
    };
  }

  /** Stops taking publishes, waits for those in progress (each ends by its timeout), then drains the connection. */
  async close(): Promise<void> {
    if (this.closing) return this.statusLoop;
    this.closing = true;
    await this.lanes.idle();
    await Promise.allSettled([...this.replays].map((m) => m.close()));
    this.replays.clear();
    if (this.connected) {
      // A server that stopped answering would hold a drain for ever.
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.ackTimeoutMs);
      });
      const drained = await Promise.race([
        this.nc.drain().then(
          () => 'drained' as const,
          () => 'failed' as const,
        ),
        gaveUp,
      ]);
      clearTimeout(timer);
      if (drained !== 'drained') await this.nc.close();
    } else {
      await this.nc.close();
    }
    await this.statusLoop;
  }
}

/** Reconnect delays that double from `first` to `max`, with jitter so that many gateways do not return in step. */
function exponentialBackoff(first: number, max: number): { next: () => number; reset(): void } {
  let attempt = 0;
  return {
    next: () => {
      const base = Math.min(max, first * 2 ** Math.min(attempt++, 20));
      return Math.round(base * (0.75 + Math.random() * 0.5));
    },
    reset: () => {
      attempt = 0;
    },
  };
}
