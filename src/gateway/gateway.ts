import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { MemoryBus } from '../bus/memory-bus.js';
import { type Bus, SUBJECTS, type Subscription } from '../bus/types.js';
import type { GatewayConfig } from '../config/schema.js';
import type { DrainBudget } from '../config/shutdown-budget.js';
import { commandResponseEvent, connectedEvent, disconnectedEvent } from '../events/index.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import { isActionAllowed } from '../ocpp/catalogue.js';
import { createInboundCheck } from '../ocpp/inbound-check.js';
import { ProtocolMetrics } from '../ocpp/protocol-metrics.js';
import type { RpcShared } from '../ocpp/rpc-shared.js';
import { createValidators, type OcppValidator } from '../ocpp/validation.js';
import type { OcppVersion } from '../ocpp/versions.js';
import { type AdmissionVerdict, type AdmittedCharger, ChargerServer } from '../transport/charger-server.js';
import { KeepaliveSweep } from '../transport/keepalive.js';
import { ChargerCallHandler } from './charger-calls.js';
import { ChargerMemory } from './charger-memory.js';
import { readChargerMemory, type SavedChargerMemory, writeChargerMemory } from './charger-memory-file.js';
import { CLOSE } from './close-codes.js';
import { type CommandRequest, type CommandResult, CommandService } from './commands.js';
import { EventPublisher } from './event-publisher.js';
import { LocalAnswers } from './local-answers.js';
import { ChargerSession, type SessionEnvironment } from './session.js';
import { SessionTable } from './session-table.js';
import { TransactionIdAllocator } from './transaction-ids.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log: Logger;
  /** The bus to the backend; the embedded in-process bus when absent. */
  bus?: Bus;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Outbound message ids: unique for the life of the process, so unique per connection as OCPP-J asks. */
function messageIdSource(): () => string {
  const prefix = randomBytes(3).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(++counter).toString(36)}`;
}

/**
 * The composition root: wires the charger listener, the sessions, the RPC layer and the answers together,
 * and owns their lifecycle.
 */
export class Gateway {
  readonly id: string;
  readonly metrics: Metrics;
  readonly sessions = new SessionTable();
  readonly validators: Record<OcppVersion, OcppValidator>;
  readonly keepalive: KeepaliveSweep;
  private readonly server: ChargerServer;
  private readonly environment: SessionEnvironment;
  private readonly calls: ChargerCallHandler;
  readonly events: EventPublisher;
  readonly commands: CommandService;
  /** What the gateway knows of each charger beyond its connection; see charger-memory.ts. */
  readonly chargers: ChargerMemory;
  /** Per-message warnings of the CALL path: one line per key and interval. */
  private readonly warnings: RateLimitedLog;
  /**
   * Presence epochs are `epochBase + acceptSequence`. The base is the start time in microseconds (or above the
   * last epoch a gracefully stopped predecessor handed out, if that is higher), so epochs keep growing across
   * restarts as long as this process accepts fewer than a million connections a second.
   */
  private readonly epochBase: number;
  private lastEpoch = 0;
  private accepting = true;
  private commandSubscription: Subscription | undefined;
  port = 0;

  private constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
    private readonly transactionIds: TransactionIdAllocator,
    readonly bus: Bus,
    saved: SavedChargerMemory | undefined,
    warnings: RateLimitedLog,
  ) {
    this.id = config.instance.id ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    this.metrics = createMetrics();
    this.warnings = warnings;
    this.epochBase = Math.max(Date.now() * 1000, saved?.epoch ?? 0);
    this.chargers = new ChargerMemory({ ...config.chargers, onSize: (size) => this.metrics.chargersRemembered.set(size) });
    if (saved !== undefined) this.chargers.restore(saved.chargers, saved.savedAt);
    this.validators = createValidators();
    const protocolMetrics = new ProtocolMetrics(this.metrics);
    this.keepalive = new KeepaliveSweep({
      ...config.keepalive,
      onExpired: () => this.metrics.keepaliveTerminations.inc(),
    });
    this.events = new EventPublisher(bus, this.metrics, warnings);
    this.calls = new ChargerCallHandler({
      local: new LocalAnswers(config.localAnswers, transactionIds),
      bus,
      events: this.events,
      validators: this.validators,
      policy: config.policy,
      metrics: this.metrics,
      log,
      warnings: this.warnings,
    });
    this.commands = new CommandService(this.sessions, this.validators, { commandFinished: (r, s, q) => this.onCommandFinished(r, s, q) }, log);

    const rpc: RpcShared<ChargerSession> = {
      log,
      warnings: this.warnings,
      metrics: protocolMetrics,
      handler: (session, action, payload, version) => this.calls.handle(session, action, payload, version),
      maxQueuedInboundCalls: config.ocpp.maxQueuedInboundCalls,
      maxQueuedInboundBytes: config.ocpp.maxQueuedInboundBytes,
      maxQueuedOutboundCalls: config.ocpp.maxQueuedOutboundCalls,
      callTimeoutMs: config.ocpp.callTimeoutMs,
      checkInboundCall: createInboundCheck<ChargerSession>(this.validators, config.ocpp.validation, protocolMetrics, {
        warnings: this.warnings,
        identityOf: (session) => session.identity,
        refused: (session, refusal) => session.charger.rememberRefusal(refusal),
      }),
      nextMessageId: messageIdSource(),
      identityOf: (session) => session.identity,
    };
    this.environment = {
      gatewayId: this.id,
      rpc,
      outboxLimits: config.outbox,
      keepalive: this.keepalive,
      metrics: this.metrics,
      sessionClosed: (session, code, reason) => this.onSessionClosed(session, code, reason),
    };

    const { server, ocpp } = config;
    this.server = new ChargerServer({
      host: server.host,
      port: server.port,
      pathPrefix: server.pathPrefix,
      maxFrameBytes: server.maxFrameBytes,
      backlog: server.backlog,
      protocols: ocpp.protocols,
      fallbackProtocol: ocpp.fallbackProtocol,
      log,
      countAttempt: (outcome) => this.metrics.connectionAttempts.labels(outcome).inc(),
      admit: (identity, _request, forSession) => this.admit(identity, forSession),
      accept: (socket, charger) => this.accept(socket, charger),
    });
  }

  /** Builds a gateway and opens what must survive restarts; call `start` to listen. */
  static async create(options: GatewayOptions): Promise<Gateway> {
    const transactionIds = await TransactionIdAllocator.open(options.config.instance.stateDir, options.config.localAnswers.transactionIdBlockSize);
    const saved = await readChargerMemory(options.config.instance.stateDir, options.log);
    // One rate-limited log for every per-message warning of this gateway, from its bus subscribers on.
    const warnings = new RateLimitedLog(options.log);
    const bus = options.bus ?? new MemoryBus((err, subject) => warnings.write('error', `subscriber:${subject}`, { err, subject }, 'event subscriber failed'));
    return new Gateway(options.config, options.log, transactionIds, bus, saved, warnings);
  }

  async start(): Promise<number> {
    this.port = await this.server.listen();
    this.keepalive.start();
    this.chargers.start();
    // Backends that live on the bus send commands there instead of calling the HTTP API.
    this.commandSubscription = this.bus.respond(SUBJECTS.commands, (message) => this.commands.execute(message.data as CommandRequest));
    return this.port;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Ready for chargers: listening, not draining, and the bus takes messages. */
  isReady(): boolean {
    return this.accepting && this.port !== 0 && this.bus.isReady();
  }

  /**
   * Capacity counts every connection that holds a descriptor: sessions, and connections completed only to be
   * closed (no supported subprotocol). A charger replacing its own session takes no new place.
   */
  private admit(identity: string, forSession: boolean): AdmissionVerdict {
    if (!this.accepting) {
      return { ok: false, status: 503, reason: 'the gateway is shutting down; reconnect later', outcome: 'draining', headers: { 'Retry-After': '10' } };
    }
    const max = this.config.server.maxConnections;
    const open = this.sessions.size + this.server.heldWithoutSession;
    if (open >= max && !(forSession && this.sessions.get(identity) !== undefined)) {
      return { ok: false, status: 503, reason: `the gateway holds its maximum of ${max} chargers`, outcome: 'over_capacity', headers: { 'Retry-After': '30' } };
    }
    return { ok: true };
  }

  private accept(socket: WebSocket, charger: AdmittedCharger): ChargerSession {
    const record = this.chargers.attach(charger.identity);
    const session = new ChargerSession(charger.identity, charger.protocol, charger.remoteAddress, charger.acceptSequence, socket, this.environment, record);
    this.metrics.connections.labels(charger.protocol).inc();
    const current = this.sessions.get(charger.identity);
    if (current !== undefined && current.acceptSequence > charger.acceptSequence) {
      // An older connection's handshake finished after a newer one's (the charger retried while it waited):
      // the newer one stays, this one goes.
      session.close(CLOSE.replaced, 'a newer connection with the same identity is already open', 'replaced');
      return session;
    }
    session.claimed = true;
    const previous = this.sessions.claim(session);
    if (previous !== undefined) {
      const reason = 'replaced by a newer connection with the same identity';
      previous.close(CLOSE.replaced, reason, 'replaced');
      // Its socket closes later; its presence ends now, so a backend sees disconnected before the new connected.
      this.endPresence(previous, CLOSE.replaced, reason);
    }
    const epoch = this.epochOf(session);
    if (epoch > this.lastEpoch) this.lastEpoch = epoch;
    this.events.publishDetached([connectedEvent(session.eventContext(), { remoteAddress: charger.remoteAddress, epoch })]);
    this.log.debug({ chargePointId: charger.identity, protocol: charger.protocol, remoteAddress: charger.remoteAddress }, 'charger connected');
    return session;
  }

  private onSessionClosed(session: ChargerSession, code: number, reason: string): void {
    this.sessions.release(session);
    this.chargers.detach(session.charger);
    this.metrics.connections.labels(session.protocol).dec();
    this.metrics.disconnects.labels(session.closeCause).inc();
    if (!session.claimed) return;
    this.endPresence(session, code, reason);
    this.log.debug({ chargePointId: session.identity, code, reason, cause: session.closeCause }, 'charger disconnected');
  }

  private epochOf(session: ChargerSession): number {
    return this.epochBase + session.acceptSequence;
  }

  /** Publishes a session's `charge_point.disconnected`, once. */
  private endPresence(session: ChargerSession, code: number, reason: string): void {
    if (session.presenceEnded) return;
    session.presenceEnded = true;
    this.events.publishDetached([disconnectedEvent(session.eventContext(), { code, reason, initiator: session.closeCause, epoch: this.epochOf(session) })]);
  }

  private onCommandFinished(result: CommandResult, session: ChargerSession | undefined, request: CommandRequest): void {
    // Actions come from API callers: only catalogue names become label values.
    const known = this.config.ocpp.protocols.some((v) => isActionAllowed(v, result.action, 'centralToCharger'));
    this.metrics.commands.labels(known ? result.action : 'unknown', result.status === 'completed' ? 'completed' : (result.error?.code ?? 'rejected')).inc();
    const source = session?.eventContext() ?? { chargePointId: result.chargePointId, gatewayId: this.id, protocol: this.config.ocpp.protocols[0] };
    this.events.publishDetached([commandResponseEvent(source, { ...result, request: request.payload })]);
  }

  /** Stops taking new chargers: readiness turns false and the listener closes. Open sessions stay. */
  stopAccepting(): void {
    this.accepting = false;
    this.server.stopAccepting();
  }

  /**
   * Closes every charger with 1001 (going away) in `waves` jittered waves spread over `drainMs`, so they do
   * not all reconnect to the rest of the cluster in the same second. Each charger's CALLs in flight are given
   * time to finish first (at most `ocpp.callTimeoutMs`), so no answered CALL loses its event; but the budget
   * bounds every wait: by `closeAllByMs` every charger has been told to go, CALL in flight or not, and after
   * `socketsMs` more the drain returns whatever is left (close() drops it). The whole drain takes at most
   * closeAllByMs + socketsMs.
   */
  async drain(drainMs: number, waves: number, budget: DrainBudget, reason = 'gateway shutting down'): Promise<void> {
    const startedAt = Date.now();
    const closeAllBy = startedAt + budget.closeAllByMs;
    const sessions = [...this.sessions.values()];
    const perWave = Math.max(1, Math.ceil(sessions.length / waves));
    // Waves never start past the budget, even if a caller's drainMs does not fit in it.
    const spread = Math.min(drainMs, budget.closeAllByMs);
    const waveGap = waves > 1 ? spread / waves : 0;
    const callTimeoutMs = this.config.ocpp.callTimeoutMs;
    const closeWhenIdle = (s: ChargerSession) =>
      s.rpc.whenIdle(Math.max(0, Math.min(callTimeoutMs, closeAllBy - Date.now()))).then(() => s.close(CLOSE.goingAway, reason, 'shutdown'));
    const pending: Promise<void>[] = [];
    for (let wave = 0, start = 0; start < sessions.length; wave++, start += perWave) {
      const group = sessions.slice(start, start + perWave);
      const delay = wave * waveGap + Math.random() * waveGap * 0.5;
      pending.push(sleep(delay).then(() => Promise.all(group.map(closeWhenIdle)).then(() => undefined)));
    }
    await Promise.all(pending);
    await this.untilNoSessions(closeAllBy + budget.socketsMs - Date.now());
  }

  /** Full stop for embedding and tests: stop accepting, close everyone at once, release resources. */
  async stop(): Promise<void> {
    this.stopAccepting();
    await this.drain(0, 1, { closeAllByMs: this.config.ocpp.callTimeoutMs, socketsMs: 5000 });
    await this.close();
  }

  /** Releases what is left once chargers are gone: stragglers are dropped, timers stopped, state flushed. */
  async close(): Promise<void> {
    this.commandSubscription?.unsubscribe();
    for (const session of [...this.sessions.values()]) session.outbox.terminate();
    this.keepalive.stop();
    this.chargers.stop();
    this.warnings.flush();
    await this.saveChargerMemory();
    await this.transactionIds.close();
    await this.bus.close();
  }

  /** Writes what the gateway knows of chargers for the next start; a failure is logged, never blocks the stop. */
  private async saveChargerMemory(): Promise<void> {
    try {
      await writeChargerMemory(this.config.instance.stateDir, {
        savedAt: Date.now(),
        epoch: Math.max(this.lastEpoch, this.epochBase),
        chargers: this.chargers.snapshot(),
      });
    } catch (err) {
      this.log.error({ err }, 'charger memory not saved; the next start begins without it');
    }
  }

  private async untilNoSessions(deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    while (this.sessions.size > 0 && Date.now() < end) await sleep(20);
  }
}
