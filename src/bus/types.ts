import { encodeSubjectToken } from './subject-token.js';

/**
 * The seam between the gateway and a charging platform's backend. The embedded implementation delivers in
 * process; a JetStream implementation gives the same contract across a cluster.
 *
 * Subjects are dot-separated tokens; subscriptions may use `*` (one token) and `>` (the rest), as NATS does.
 */
export interface BusMessage<T = unknown> {
  subject: string;
  data: T;
}

export type BusHandler<T = unknown> = (message: BusMessage<T>) => void;
export type BusResponder = (message: BusMessage) => unknown | Promise<unknown>;

export interface Subscription {
  unsubscribe(): void;
}

export interface Bus {
  /**
   * Resolves once the bus holds the message durably (for JetStream: the stream's acknowledgement). A bus that
   * has already delivered the message when it returns (the in-process one) returns undefined instead: the
   * per-message path then stays synchronous, with no promise to allocate and await.
   */
  publish(subject: string, data: unknown): Promise<void> | undefined;
  /** false when the bus knows nobody answers `subject`, so a caller can skip the request; true when they may. */
  mayHaveResponders(subject: string): boolean;
  /**
   * false when nothing would receive a message published on `subject` now (the in-process bus with no matching
   * subscription), so its publisher need not build it. A bus that keeps what is published for later readers (a
   * JetStream stream) does not implement it: everything published there is kept.
   */
  hasListeners?(subject: string): boolean;
  /** Asks whoever answers `subject`; rejects with NoRespondersError at once when nobody does, TimeoutError after `timeoutMs`. */
  request(subject: string, data: unknown, timeoutMs: number): Promise<unknown>;
  subscribe<T = unknown>(pattern: string, handler: BusHandler<T>): Subscription;
  /** Serves requests on `subject` (one responder per subject). */
  respond(subject: string, responder: BusResponder): Subscription;
  /** Whether the bus can take messages now (for readiness). */
  isReady(): boolean;
  close(): Promise<void>;
}

export class NoRespondersError extends Error {
  override name = 'NoRespondersError';
  constructor(subject: string) {
    super(`no backend answers ${subject}`);
  }
}

export class BusTimeoutError extends Error {
  override name = 'BusTimeoutError';
  constructor(subject: string, timeoutMs: number) {
    super(`no answer on ${subject} within ${timeoutMs} ms`);
  }
}

/**
 * The bus cannot take or deliver the message now (not connected, the stream refused it, or an earlier event of
 * the same charger failed and this one must not overtake it). `cause` holds the underlying error.
 */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}

/** The responder received the request but failed to answer it; the message is the responder's own. */
export class BusResponderError extends Error {
  override name = 'BusResponderError';
}

/** Subjects the gateway uses; a backend integrates against these names. */
export const SUBJECTS = {
  /** `gateway.events.{eventType}`: every unified event. */
  event: (eventType: string) => `gateway.events.${eventType}`,
  /**
   * `gateway.events.{eventType}.{charger token}`: where the JetStream bus stores an event (src/bus/subject-token.ts
   * encodes the identity). The JetStream bus also accepts `event(eventType)` and appends the token itself.
   */
  chargerEvent: (eventType: string, chargePointId: string) => `gateway.events.${eventType}.${encodeSubjectToken(chargePointId)}`,
  allEvents: 'gateway.events.>',
  /** `gateway.requests.{action}`: charger CALLs whose policy is `backend`. */
  backendRequest: (action: string) => `gateway.requests.${action}`,
  /** Commands to chargers sent over the bus instead of the HTTP API; the charger is named in the body. */
  commands: 'gateway.commands',
  /** Cluster mode: `gateway.commands.{charger token}`, a command to one charger (the body leaves out chargePointId). */
  chargerCommands: (chargePointId: string) => `gateway.commands.${encodeSubjectToken(chargePointId)}`,
  /** What every instance serves, in a queue group, for `chargerCommands`. */
  anyChargerCommands: 'gateway.commands.*',
  /** Cluster mode: commands for chargers held by one instance (`{instance token}` encodes its POD_ID). */
  instanceCommands: (instanceId: string) => `gateway.instance.${encodeSubjectToken(instanceId)}.commands`,
  /** Cluster mode: asks one instance to close its connection of a charger that reconnected elsewhere. */
  instanceEvict: (instanceId: string) => `gateway.instance.${encodeSubjectToken(instanceId)}.evict`,
} as const;
