import type { Logger } from 'pino';
import { type Bus, BusTimeoutError, NoRespondersError, SUBJECTS } from '../bus/types.js';
import type { CallPolicy, GatewayConfig } from '../config/schema.js';
import { callEventId, callEventIdBase } from '../events/call-event-ids.js';
import { callEventTypes, callHasMemoryOnlyPath, callUpdatesMemory, eventsForCall, recordInMemoryOnly } from '../events/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { ActionId } from '../ocpp/catalogue.js';
import { OcppCallError } from '../ocpp/errors.js';
import type { CallFrame, JsonObject } from '../ocpp/framing.js';
import { PerAction } from '../ocpp/per-action.js';
import type { OcppValidator } from '../ocpp/validation.js';
import type { OcppVersion } from '../ocpp/versions.js';
import { startTransactionKey } from './charger-memory.js';
import type { EventPublisher, EventRoutes } from './event-publisher.js';
import type { LocalAnswer, LocalAnswers } from './local-answers.js';
import type { ChargerSession } from './session.js';

export interface ChargerCallDeps {
  local: LocalAnswers;
  bus: Bus;
  events: EventPublisher;
  validators: Record<OcppVersion, OcppValidator>;
  policy: GatewayConfig['policy'];
  metrics: Metrics;
  log: Logger;
  /** Per-message warnings and errors: one line per key and interval. */
  warnings: RateLimitedLog;
  /**
   * Give a CALL's events eventIds derived from the CALL (see call-event-ids.ts), so that the stream stores a
   * retried CALL's events once. Off: random ids (the in-process bus does not de-duplicate).
   */
  callEventIds?: boolean;
  /**
   * Cluster mode: agrees on one transactionId per 1.6 StartTransaction across the instances (returns the one first
   * given for this charger and start key). A retry that reaches another instance then gets the transactionId the
   * first instance gave, whose `transaction.started` the stream may hold already.
   */
  agreeStartTransaction?: (identity: string, startKey: string, transactionId: number) => Promise<number>;
}

/** What the backend receives on `gateway.requests.{action}`; it answers with the OCPP response payload. */
export interface BackendRequest {
  chargePointId: string;
  gatewayId: string;
  protocol: OcppVersion;
  action: string;
  payload: JsonObject;
}

/** How the gateway answers one action of one version, worked out once from the config and the catalogue. */
interface ActionPlan {
  readonly action: string;
  /** The embedded answer; undefined: the gateway does not handle the action. */
  readonly local: LocalAnswer | undefined;
  readonly policy: CallPolicy;
  /** Where the backend is asked under the `backend` policy. */
  readonly backendSubject: string;
  /** A 1.6 StartTransaction, whose answer a retry must get again. */
  readonly isStartTransaction: boolean;
  /** Mapping the CALL updates the charger's memory (see `callUpdatesMemory`). */
  readonly updatesMemory: boolean;
  /** It can update the memory without building its events (see `callHasMemoryOnlyPath`). */
  readonly memoryOnly: boolean;
  /** The routes of the event types the CALL can yield: asked whether anyone would hear them. */
  readonly eventRoutes: EventRoutes;
}

/**
 * Answers a charger's valid CALL according to the action's policy:
 * - local: answer from config at once; its events are published without holding up the answer;
 * - event: publish the events, wait for the bus's acknowledgement, then answer (a charger deletes what we
 *   acknowledge, so nothing is acknowledged before it is safe);
 * - backend: ask the backend over the bus within a timeout, else fall back to the local answer or a CALLERROR;
 *   then publish durably as for `event`.
 *
 * Events report what the charger was told. An answer that is ready only after the charger disconnected is
 * never sent, so its events are not published either (and what the gateway remembers is not updated): the
 * charger will send the CALL again. A retried 1.6 StartTransaction gets the answer the first one got (kept in
 * the charger's memory, also while it is still being decided), so a transactionId is never handed out twice
 * for one start, and the backend is not asked twice.
 */
export class ChargerCallHandler {
  private readonly backendCells = new Map<string, { value: number }>();
  private readonly plans: PerAction<ActionPlan>;

  constructor(private readonly deps: ChargerCallDeps) {
    const policies = new Map(Object.entries(deps.policy.actions));
    this.plans = new PerAction(({ version, action }) => ({
      action,
      local: deps.local.answerFor(version, action),
      policy: policies.get(action) ?? deps.policy.default,
      backendSubject: SUBJECTS.backendRequest(action),
      isStartTransaction: action === 'StartTransaction' && version === 'ocpp1.6',
      updatesMemory: callUpdatesMemory(version, action),
      memoryOnly: callHasMemoryOnlyPath(version, action),
      eventRoutes: deps.events.routesOf(callEventTypes(version, action)),
    }));
  }

  /** Answers a charger's CALL, whose action has the catalogue id `id` in `version`. */
  handle(session: ChargerSession, call: CallFrame, id: ActionId, version: OcppVersion): JsonObject | Promise<JsonObject> {
    const plan = this.plans.get(id);
    if (plan.local === undefined) {
      throw new OcppCallError('notSupported', `the gateway does not handle ${plan.action}`);
    }
    const { payload, messageId } = call;
    const answer = plan.isStartTransaction ? this.startTransactionAnswer(session, payload, version, plan) : this.decide(session, plan, payload, version);
    if (answer instanceof Promise) return answer.then((a) => this.answered(session, messageId, plan, payload, a));
    return this.answered(session, messageId, plan, payload, answer);
  }

  /**
   * A 1.6 charger retries a StartTransaction whose answer it did not get; it must get the same transactionId,
   * or the first transaction stays open for ever. So the answer (or the decision in progress) is kept in the
   * charger's memory under the start's key, and a retry takes it instead of deciding again.
   */
  private startTransactionAnswer(session: ChargerSession, payload: JsonObject, version: OcppVersion, plan: ActionPlan): JsonObject | Promise<JsonObject> {
    const record = session.charger;
    const key = startTransactionKey(payload);
    const earlier = record.startAnswer(key);
    if (earlier !== undefined) {
      this.deps.metrics.startTransactionRetries.inc();
      return earlier;
    }
    const decided = this.decide(session, plan, payload, version);
    const agree = this.deps.agreeStartTransaction;
    const answer = agree === undefined ? decided : this.agreedStart(session.identity, key, decided, agree);
    record.rememberStartAnswer(key, answer);
    return answer;
  }

  /** The decided answer, with the transactionId the cluster first gave for this start if that was another one. */
  private async agreedStart(
    identity: string,
    key: string,
    decided: JsonObject | Promise<JsonObject>,
    agree: NonNullable<ChargerCallDeps['agreeStartTransaction']>,
  ): Promise<JsonObject> {
    const answer = await decided;
    const given = answer.transactionId;
    if (typeof given !== 'number') return answer;
    let first: number;
    try {
      first = await agree(identity, key, given);
    } catch (err) {
      this.deps.warnings.write('error', 'start-not-agreed', { err, chargePointId: identity }, 'StartTransaction not recorded in the registry; the charger will retry');
      throw new OcppCallError('internal', 'the gateway could not record this transaction yet; retry later');
    }
    if (first === given) return answer;
    this.deps.metrics.startTransactionRetries.inc();
    return { ...answer, transactionId: first };
  }

  /** The answer as the policy decides it, before anything is recorded or published. */
  private decide(session: ChargerSession, plan: ActionPlan, payload: JsonObject, version: OcppVersion): JsonObject | Promise<JsonObject> {
    const { bus, policy } = this.deps;
    if (plan.policy === 'backend') {
      if (bus.mayHaveResponders(plan.backendSubject)) return this.askBackend(session, plan, payload, version);
      // Nobody to ask: the fallback applies at once, not after the timeout.
      this.countBackend(plan.action, 'no_backend');
      if (policy.backend.fallback === 'error') throw new OcppCallError('internal', 'the central system cannot answer right now; retry later');
    }
    return localAnswer(plan, payload);
  }

  private countBackend(action: string, outcome: string): void {
    const key = `${action}\u0001${outcome}`;
    let cell = this.backendCells.get(key);
    if (cell === undefined) this.backendCells.set(key, (cell = this.deps.metrics.backendRequests.cell(action, outcome)));
    cell.value++;
  }

  /**
   * Records what the gateway learned and publishes the call's events. Durable ones are awaited, unless the bus
   * held them on return (the in-process bus): then the answer goes out in the same tick, with no promise.
   */
  private answered(session: ChargerSession, messageId: string, plan: ActionPlan, payload: JsonObject, answer: JsonObject): JsonObject | Promise<JsonObject> {
    const { action } = plan;
    if (session.state !== 'open') {
      // The answer waited (backend, transactionId reservation) and the charger left meanwhile, or was replaced:
      // the endpoint will not send it. Events would report an answer nobody got, and for a replaced session
      // they would follow its charge_point.disconnected. The charger sends the CALL again.
      this.deps.metrics.answersUndelivered.labels(action).inc();
      return answer;
    }
    if (action === 'BootNotification') rememberBoot(session, payload, answer);
    // Events nobody would receive (the embedded bus with no subscriber for them) are not built, unless mapping the
    // CALL also updates what the gateway remembers of the charger: under a flood of meter values with nobody
    // listening, building them was about a quarter of the gateway's own work per CALL (bench:own-work).
    if (!plan.updatesMemory) {
      if (this.deps.events.countIfRoutesUnheard(plan.eventRoutes)) return answer;
    } else if (plan.memoryOnly && this.deps.events.countIfRoutesUnheard(plan.eventRoutes)) {
      // A status report updates the memory whether or not anyone hears of it; its event alone is left unbuilt. Every
      // connector of every charger reports at each boot, so in a reconnect storm these are a good part of the CALLs.
      recordInMemoryOnly(session.eventContext(), action, payload);
      return answer;
    }
    const events = eventsForCall(session.eventContext(), action, payload, answer);
    if (this.deps.callEventIds === true && events.length > 0) {
      const base = callEventIdBase(session.identity, messageId, action, payload, answer);
      for (let i = 0; i < events.length; i++) events[i].eventId = callEventId(base, i);
    }
    if (plan.policy === 'local') {
      this.deps.events.publishDetached(events);
      return answer;
    }
    const pending = this.deps.events.publishDurably(events);
    if (pending === undefined) return answer;
    return pending.then(
      () => answer,
      (err: unknown) => {
        this.deps.warnings.write(
          'error',
          `unacknowledged:${action}`,
          { err, chargePointId: session.identity, action },
          'event not acknowledged by the bus; the charger will retry',
        );
        throw new OcppCallError('internal', 'the gateway could not store this message yet; retry later');
      },
    );
  }

  private async askBackend(session: ChargerSession, plan: ActionPlan, payload: JsonObject, version: OcppVersion): Promise<JsonObject> {
    const { bus, policy, validators, warnings } = this.deps;
    const { action, backendSubject: subject } = plan;
    const request: BackendRequest = { chargePointId: session.identity, gatewayId: session.gatewayId, protocol: version, action, payload };
    let outcome: string;
    try {
      const response = await bus.request(subject, request, policy.backend.timeoutMs);
      const violation = validators[version].validateResponse(action, response);
      if (violation === null) {
        this.countBackend(action, 'answered');
        return response as JsonObject;
      }
      outcome = 'invalid';
      warnings.write('warn', `backend-invalid:${action}`, { action, errors: violation.errors }, 'backend answer breaks the OCPP schema; using the fallback');
    } catch (err) {
      outcome = err instanceof NoRespondersError ? 'no_backend' : err instanceof BusTimeoutError ? 'timeout' : 'error';
      if (outcome === 'error') warnings.write('error', `backend-failed:${action}`, { err, action }, 'backend request failed; using the fallback');
    }
    this.countBackend(action, outcome);
    if (policy.backend.fallback === 'error') {
      throw new OcppCallError('internal', 'the central system cannot answer right now; retry later');
    }
    return localAnswer(plan, payload);
  }
}

/** The plan's embedded answer (`handle` refused actions without one). */
function localAnswer(plan: ActionPlan, payload: JsonObject): JsonObject | Promise<JsonObject> {
  const local = plan.local;
  if (local === undefined) throw new Error(`no local answer for ${plan.action}`);
  return local(payload) as JsonObject | Promise<JsonObject>;
}

function rememberBoot(session: ChargerSession, payload: JsonObject, answer: JsonObject): void {
  const p = payload as Record<string, any>;
  const station = session.protocol === 'ocpp1.6' ? undefined : p.chargingStation;
  session.charger.boot = {
    at: Date.now(),
    status: typeof answer.status === 'string' ? answer.status : undefined,
    vendor: station ? station.vendorName : p.chargePointVendor,
    model: station ? station.model : p.chargePointModel,
    serialNumber: station ? station.serialNumber : (p.chargePointSerialNumber ?? p.chargeBoxSerialNumber),
    firmwareVersion: station ? station.firmwareVersion : p.firmwareVersion,
  };
}
