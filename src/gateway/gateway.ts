import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { MemoryBus } from '../bus/memory-bus.js';
import { decodeSubjectToken } from '../bus/subject-token.js';
import { type Bus, SUBJECTS, type Subscription } from '../bus/types.js';
import type { ClusterServices } from '../cluster/cluster-services.js';
import { ClusterCommandForwarder } from '../cluster/command-forwarder.js';
import { CompatService } from '../compat/compat-service.js';
import type { GatewayConfig } from '../config/schema.js';
import type { DrainBudget } from '../config/shutdown-budget.js';
import { commandResponseEvent, connectedEvent, disconnectedEvent, EventType } from '../events/index.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import { answerTurns } from '../ocpp/answer-turns.js';
import { isActionAllowed } from '../ocpp/catalogue.js';
import { OcppCallError } from '../ocpp/errors.js';
import { createInboundCheck } from '../ocpp/inbound-check.js';
import { ProtocolMetrics } from '../ocpp/protocol-metrics.js';
import type { RpcShared } from '../ocpp/rpc-shared.js';
import { createValidators, type OcppValidator } from '../ocpp/validation.js';
import type { OcppVersion } from '../ocpp/versions.js';
import { RefreshScheduler } from '../registry/refresh-scheduler.js';
import type { Ownership } from '../registry/types.js';
import { ChargerAuthenticator, type ChargerAuthenticatorOptions } from '../security/charger-authenticator.js';
import type { CredentialStore, SecurityProfile } from '../security/credential-store.js';
import { AdmissionLimits } from '../transport/admission-limits.js';
import { type AdmissionVerdict, type AdmittedCharger, ChargerServer } from '../transport/charger-server.js';
import { KeepaliveSweep } from '../transport/keepalive.js';
import { loadTlsMaterial, TlsReloader } from '../transport/tls-material.js';
import { jitteredRetryAfter } from '../transport/token-bucket.js';
import { ChargerCallHandler } from './charger-calls.js';
import { ChargerMemory } from './charger-memory.js';
import { readChargerMemory, type SavedChargerMemory, writeChargerMemory } from './charger-memory-file.js';
import { CLOSE } from './close-codes.js';
import { ClusterTransactionIds } from './cluster-transaction-ids.js';
import { type CommandRequest, type CommandResult, CommandService } from './commands.js';
import { EventPublisher, type EventRoutes } from './event-publisher.js';
import { FlightRecorder } from './flight-recorder.js';
import { InboundCallRate } from './inbound-call-rate.js';
import { LocalAnswers } from './local-answers.js';
import { PendingSuccessors } from './pending-successors.js';
import { ChargerSession, type CloseCause, type SessionEnvironment } from './session.js';
import { SessionTable } from './session-table.js';
import { readTransactionIdMark, TransactionIdAllocator, type TransactionIdSource } from './transaction-ids.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log: Logger;
  /** The bus to the backend; the embedded in-process bus when absent. */
  bus?: Bus;
  /** Cluster mode: the shared bus and registry (the bus option is then ignored). */
  cluster?: ClusterServices;
  /**
   * Where chargers' credentials and pins live, and how a password is checked against a record. Without it no
   * identity is known: passwords cannot be checked, client certificates and the default profile still apply.
   */
  credentials?: GatewayCredentials;
}

export interface GatewayCredentials {
  store: CredentialStore;
  verifyPassword: ChargerAuthenticatorOptions['verifyPassword'];
}

/** A store that holds nothing: a gateway embedded without credentials knows no identity. */
const NO_CREDENTIALS: GatewayCredentials = {
  store: {
    exists: async () => false,
    get: async () => undefined,
    put: async () => {
      throw new Error('this gateway has no credential store');
    },
    remove: async () => false,
    list: async () => [],
    close: async () => {},
  },
  verifyPassword: async () => false,
};

/** What /readyz reports: ready or not, and in cluster mode each dependency. */
export interface Readiness {
  ready: boolean;
  dependencies?: { nats: 'up' | 'down'; redis: 'up' | 'down'; ownership: 'valid' | 'lost' };
}

/** The request an instance sends the previous owner of a charger that reconnected to it. */
interface EvictRequest {
  chargePointId: string;
  /** The new connection's epoch: only a session with a lower one is closed. */
  epoch: number;
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
  /** One connection attempt's outcome, counted by the charger listener and the admission limits alike. */
  private readonly countAttempt = (outcome: string): void => {
    this.metrics.connectionAttempts.cell(outcome).value++;
  };
  /** New connections of identities with an open session, until they show life (see pending-successors.ts). */
  private readonly successors = new PendingSuccessors();
  readonly validators: Record<OcppVersion, OcppValidator>;
  readonly keepalive: KeepaliveSweep;
  /**
   * Handshake bound and upgrade rates (server.admission), attached to the plain listener; a TLS listener is
   * attached with `admission.attach(tlsServer)` and reports completed upgrades the same way.
   */
  readonly admission: AdmissionLimits;
  private readonly server: ChargerServer;
  private readonly environment: SessionEnvironment;
  private readonly calls: ChargerCallHandler;
  readonly events: EventPublisher;
  /** The presence events' routes, found once: asked at every connection and disconnection. */
  private readonly connectedRoutes: EventRoutes;
  private readonly disconnectedRoutes: EventRoutes;
  readonly commands: CommandService;
  /** What the gateway knows of each charger beyond its connection; see charger-memory.ts. */
  readonly chargers: ChargerMemory;
  /** Compatibility profiles: each charger's, applied to its CALLs, answers and CALLERRORs. */
  readonly compat: CompatService;
  /** Raw frames of the chargers an operator chose to record (admin API); see flight-recorder.ts. */
  readonly recorder: FlightRecorder;
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
  private readonly subscriptions: Subscription[] = [];
  /** Cluster mode: keeps this instance's claims and registration alive. */
  private scheduler: RefreshScheduler | undefined;
  /** Cluster mode: releases under way, awaited before the registry closes. */
  private readonly releases = new Set<Promise<unknown>>();
  private stopOwnershipWatch: (() => void) | undefined;
  /** Who the charger proved to be, its pins, and the failed-authentication throttles. */
  readonly authenticator: ChargerAuthenticator;
  private readonly tlsReloader: TlsReloader | undefined;
  /** The plain listener's port (0 when it is off). */
  port = 0;
  /** The TLS listener's port (0 without TLS). */
  tlsPort = 0;

  private constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
    private readonly transactionIds: TransactionIdSource,
    readonly bus: Bus,
    saved: SavedChargerMemory | undefined,
    warnings: RateLimitedLog,
    private readonly cluster: ClusterServices | undefined,
    credentials: GatewayCredentials,
    tlsMaterial: SecureContextOptions | undefined,
  ) {
    this.id = cluster?.instanceId ?? config.instance.id ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    this.metrics = createMetrics();
    const remembered = this.metrics.chargersRemembered.cell();
    this.warnings = warnings;
    this.epochBase = Math.max(Date.now() * 1000, saved?.epoch ?? 0);
    this.chargers = new ChargerMemory({ ...config.chargers, onSize: (size) => (remembered.value = size) });
    if (saved !== undefined) this.chargers.restore(saved.chargers, saved.savedAt);
    this.validators = createValidators();
    this.compat = new CompatService(config.compat, this.validators, this.metrics, log);
    const protocolMetrics = new ProtocolMetrics(this.metrics);
    const { recorderFrames, recorderActive, recorderBytes } = this.metrics;
    this.recorder = new FlightRecorder(
      config.recorder,
      {
        framesRecorded: (count) => recorderFrames.inc(count),
        activeRecordings: (count) => recorderActive.set(count),
        bytesHeld: (bytes) => recorderBytes.set(bytes),
      },
      cluster?.instanceId,
    );
    this.keepalive = new KeepaliveSweep({
      ...config.keepalive,
      onExpired: () => this.metrics.keepaliveTerminations.inc(),
    });
    this.events = new EventPublisher(bus, this.metrics, warnings);
    this.connectedRoutes = this.events.routesOf([EventType.ChargePointConnected]);
    this.disconnectedRoutes = this.events.routesOf([EventType.ChargePointDisconnected]);
    this.calls = new ChargerCallHandler({
      local: new LocalAnswers(config.localAnswers, transactionIds),
      bus,
      events: this.events,
      validators: this.validators,
      policy: config.policy,
      metrics: this.metrics,
      log,
      warnings: this.warnings,
      // The cluster's stream de-duplicates by eventId: a retried CALL must map to the same ids there.
      callEventIds: cluster !== undefined,
      agreeStartTransaction:
        cluster === undefined
          ? undefined
          : (identity, startKey, transactionId) => cluster.registry.rememberStartTransaction(identity, startKey, transactionId, config.chargers.forgetAfterMs),
    });
    const forwarder =
      cluster === undefined ? undefined : new ClusterCommandForwarder(bus, cluster.registry, cluster.instanceId, config.ocpp.callTimeoutMs, this.metrics, warnings);
    this.commands = new CommandService(
      this.sessions,
      this.validators,
      { commandFinished: (r, s, q) => this.onCommandFinished(r, s, q) },
      log,
      undefined,
      forwarder,
      (session, action, response) => this.compat.checkAnswer(session, this.validators, action, response),
    );

    const inboundRate = new InboundCallRate(config.ocpp.inboundRate, () => this.metrics.inboundCallsRateLimited.inc());
    const rpc: RpcShared<ChargerSession> = {
      log,
      warnings: this.warnings,
      metrics: protocolMetrics,
      // Cluster mode: until the connection's claim is settled its CALLs wait, in order, within the inbound bounds.
      handler: (session, call, id, version) =>
        session.ownership === undefined
          ? this.calls.handle(session, call, id, version)
          : session.ownership.then(
              () => this.calls.handle(session, call, id, version),
              () => {
                throw new OcppCallError('internal', 'the gateway could not take this connection; reconnect later');
              },
            ),
      maxQueuedInboundCalls: config.ocpp.maxQueuedInboundCalls,
      maxQueuedInboundBytes: config.ocpp.maxQueuedInboundBytes,
      maxQueuedOutboundCalls: config.ocpp.maxQueuedOutboundCalls,
      callTimeoutMs: config.ocpp.callTimeoutMs,
      checkInboundCall: createInboundCheck<ChargerSession>(this.validators, config.ocpp.validation, protocolMetrics, {
        warnings: this.warnings,
        identityOf: (session) => session.identity,
        refused: (session, refusal) => session.charger.rememberRefusal(refusal),
        profileFor: (session, version, action, payload) => this.compat.profileFor(session, version, action, payload),
      }),
      nextMessageId: messageIdSource(),
      identityOf: (session) => session.identity,
      errorSpellingOf: (session) => this.compat.spellingOf(session),
      readCallError: (session, version, frame) => this.compat.readCallError(session, version, frame),
      limitInboundCall: (session) => inboundRate.check(session),
    };
    this.environment = {
      gatewayId: this.id,
      rpc,
      outboxLimits: config.outbox,
      keepalive: this.keepalive,
      metrics: this.metrics,
      sessionClosed: (session, code, reason) => this.onSessionClosed(session, code, reason),
      showedLife: (session) => this.endWait(session, 'life'),
    };

    const { server, ocpp, security } = config;
    this.authenticator = new ChargerAuthenticator({
      store: credentials.store,
      verifyPassword: credentials.verifyPassword,
      allowUnknown: security.allowUnknownChargers,
      defaultProfile: security.defaultProfile as SecurityProfile,
      perIdentity: security.identityFailures,
      perAddress: security.addressFailures,
      onStoreError: (err) => this.warnings.write('error', 'credential-store', { err }, 'the credential store cannot be read; refusing chargers with 503'),
    });
    const tls = config.tls;
    if (tlsMaterial !== undefined && tls.certFile !== undefined && tls.keyFile !== undefined) {
      this.tlsReloader = new TlsReloader({
        files: { certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile },
        apply: (material) => this.server.setSecureContext(material),
        onResult: (result, error) => {
          this.metrics.tlsReloads.labels(result).inc();
          if (result === 'ok') log.info('TLS certificate, key and CA reloaded; new connections use them');
          else log.error({ reason: error?.message }, 'TLS reload failed; the previous certificate stays in use');
        },
        debounceMs: tls.reloadDebounceMs,
        pollMs: tls.reloadPollMs,
      });
    }
    this.server = new ChargerServer({
      host: server.host,
      port: server.port,
      plainEnabled: server.plainEnabled,
      tls:
        tlsMaterial === undefined
          ? undefined
          : { port: tls.port, material: tlsMaterial, requestClientCertificates: tls.caFile !== undefined, handshakeTimeoutMs: tls.handshakeTimeoutMs },
      pathPrefix: server.pathPrefix,
      maxFrameBytes: server.maxFrameBytes,
      backlog: server.backlog,
      acceptsPerTurn: server.acceptsPerTurn,
      protocols: ocpp.protocols,
      fallbackProtocol: ocpp.fallbackProtocol,
      log,
      countAttempt: this.countAttempt,
      admit: (identity, request, forSession) => this.admit(identity, request.socket.remoteAddress, forSession),
      authenticate: (facts) => this.authenticator.authenticate(facts),
      countTlsClientError: (reason) => this.metrics.tlsClientErrors.labels(reason).inc(),
      accept: (socket, charger) => this.accept(socket, charger),
      upgraded: (socket) => this.admission.handshakeEnded(socket),
    });
    const handshakesInFlight = this.metrics.handshakesInFlight.cell();
    const trackedAddresses = this.metrics.admissionTrackedAddresses.cell();
    const handshakeUpgraded = this.metrics.handshakeDuration.cell('upgraded');
    const handshakeClosed = this.metrics.handshakeDuration.cell('closed');
    this.admission = new AdmissionLimits({
      ...server.admission,
      countAttempt: this.countAttempt,
      spareCapacity: () => server.maxConnections - this.connectionsHeld(),
      onHandshakes: (inFlight) => (handshakesInFlight.value = inFlight),
      newcomers: answerTurns,
      onTrackedAddresses: (size) => (trackedAddresses.value = size),
      onHandshakeEnded: (seconds, outcome) => this.metrics.handshakeDuration.observe(outcome === 'upgraded' ? handshakeUpgraded : handshakeClosed, seconds),
    });
    this.admission.attach(this.server.http);
    if (this.server.https !== undefined) this.admission.attach(this.server.https);
  }

  /** Builds a gateway and opens what must survive restarts; call `start` to listen. */
  static async create(options: GatewayOptions): Promise<Gateway> {
    const { stateDir } = options.config.instance;
    const blockSize = options.config.localAnswers.transactionIdBlockSize;
    // In a cluster 1.6 transactionIds come from blocks reserved in Redis, so they are unique across every instance;
    // above whatever this instance handed out while it ran alone.
    const transactionIds = options.cluster
      ? await ClusterTransactionIds.open({ registry: options.cluster.registry, blockSize, above: await readTransactionIdMark(stateDir) })
      : await TransactionIdAllocator.open(stateDir, blockSize);
    const saved = await readChargerMemory(options.config.instance.stateDir, options.log);
    // One rate-limited log for every per-message warning of this gateway, from its bus subscribers on.
    const warnings = new RateLimitedLog(options.log);
    const bus =
      options.cluster?.bus ??
      options.bus ??
      new MemoryBus((err, subject) => warnings.write('error', `subscriber:${subject}`, { err, subject }, 'event subscriber failed'));
    // A certificate that cannot be used stops the start with one line naming the files (TlsMaterialError).
    const { certFile, keyFile, caFile } = options.config.tls;
    const tlsMaterial = certFile !== undefined && keyFile !== undefined ? await loadTlsMaterial({ certFile, keyFile, caFile }) : undefined;
    return new Gateway(options.config, options.log, transactionIds, bus, saved, warnings, options.cluster, options.credentials ?? NO_CREDENTIALS, tlsMaterial);
  }

  /** Starts listening; resolves with the plain port (0 when it is off; `tlsPort` has the TLS one). */
  async start(): Promise<number> {
    const ports = await this.server.listen();
    this.port = ports.port;
    this.tlsPort = ports.tlsPort;
    await this.tlsReloader?.start();
    this.keepalive.start();
    this.chargers.start();
    // Backends that live on the bus send commands there instead of calling the HTTP API.
    this.subscriptions.push(this.bus.respond(SUBJECTS.commands, (message) => this.commands.execute(message.data as CommandRequest)));
    if (this.cluster !== undefined) this.startCluster(this.cluster);
    return this.port;
  }

  private startCluster(cluster: ClusterServices): void {
    const { bus, registry, instanceId } = cluster;
    this.subscriptions.push(
      // Any instance takes a command naming its charger in the subject, and passes it to the holder.
      bus.respond(SUBJECTS.anyChargerCommands, (message) => {
        const token = message.subject.slice(message.subject.lastIndexOf('.') + 1);
        const body = (typeof message.data === 'object' && message.data !== null ? message.data : {}) as Partial<CommandRequest>;
        return this.commands.execute({ ...body, chargePointId: decodeSubjectToken(token) } as CommandRequest);
      }),
      // Commands another instance forwarded here: run here or nowhere, never forwarded again.
      bus.respond(SUBJECTS.instanceCommands(instanceId), (message) => this.commands.execute(message.data as CommandRequest, false)),
      bus.respond(SUBJECTS.instanceEvict(instanceId), (message) => this.evictForNewer(message.data as EvictRequest)),
    );
    this.scheduler = new RefreshScheduler({
      registry,
      instanceId,
      owned: () => this.ownedIdentities(),
      onLost: (lost) => this.onOwnershipsLost(lost),
      onError: (err) => this.warnings.write('error', 'ownership-refresh', { err }, 'ownership refresh failed; the next round tries again'),
      onRegistered: () => this.log.warn({ instanceId }, 'registered again in the ownership registry: accepting chargers again'),
    });
    this.scheduler.start();
    this.stopOwnershipWatch = registry.onOwnershipLost(() => {
      // Our claims may be someone else's by now: every charger reconnects (to any instance), none is re-claimed.
      const sessions = [...this.sessions.values()];
      this.metrics.ownershipLapses.inc();
      this.log.error({ instanceId, chargers: sessions.length }, 'ownership lapsed (cut off from Redis): closing every charger and refusing new ones');
      const reason = 'the gateway lost its ownership registration; reconnect';
      this.closeWaiting(CLOSE.serviceRestart, reason, 'server');
      for (const session of sessions) session.close(CLOSE.serviceRestart, reason, 'server');
    });
  }

  private *ownedIdentities(): Iterable<Ownership> {
    for (const session of this.sessions.values()) {
      if (session.epoch !== undefined && session.state === 'open') yield { identity: session.identity, epoch: session.epoch };
    }
  }

  private onOwnershipsLost(lost: Ownership[]): void {
    for (const { identity, epoch } of lost) {
      const session = this.sessions.get(identity);
      if (session?.epoch === epoch) session.close(CLOSE.replaced, 'a newer connection with the same identity took over', 'replaced');
    }
  }

  /**
   * Another instance accepted a newer connection of a charger held here: the session here closes (4000) and its
   * `disconnected` is stored before the answer, so the new owner's `connected` follows it.
   */
  private async evictForNewer(request: EvictRequest): Promise<{ closed: boolean }> {
    const session = typeof request?.chargePointId === 'string' ? this.sessions.get(request.chargePointId) : undefined;
    // Its own claim may still be on its way back (the newer one reached Redis after it): once it has its epoch, its
    // connected and disconnected both come before the newer connection's connected.
    if (session !== undefined && session.epoch === undefined && session.ownership !== undefined) await session.ownership.catch(() => undefined);
    if (session === undefined || session.epoch === undefined || !(session.epoch < request.epoch)) {
      this.metrics.evictions.labels('not_here').inc();
      return { closed: false };
    }
    const reason = 'replaced by a newer connection with the same identity on another gateway instance';
    session.close(CLOSE.replaced, reason, 'replaced');
    this.metrics.evictions.labels('closed').inc();
    await this.endPresence(session, CLOSE.replaced, reason, true);
    return { closed: true };
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Ready for chargers: listening, not draining, the bus takes messages and (cluster mode) ownership holds. */
  isReady(): boolean {
    return this.readiness().ready;
  }

  readiness(): Readiness {
    const base = this.accepting && (this.port !== 0 || this.tlsPort !== 0);
    const cluster = this.cluster;
    if (cluster === undefined) return { ready: base && this.bus.isReady() };
    const dependencies = {
      nats: this.bus.isReady() ? ('up' as const) : ('down' as const),
      redis: cluster.registry.isReady() ? ('up' as const) : ('down' as const),
      ownership: cluster.registry.ownershipValid() ? ('valid' as const) : ('lost' as const),
    };
    return { ready: base && dependencies.nats === 'up' && dependencies.redis === 'up' && dependencies.ownership === 'valid', dependencies };
  }

  /** Connections that hold a place against `server.maxConnections` (see `admit`). */
  private connectionsHeld(): number {
    return this.sessions.size + this.successors.size + this.server.heldWithoutSession;
  }

  /**
   * Capacity counts every connection that holds a descriptor: sessions, connections waiting to take one over, and
   * connections completed only to be closed (no supported subprotocol). A charger replacing its own session takes
   * no new place, for one waiting connection at a time (more would let one identity hold places without bound).
   */
  private admit(identity: string, remoteAddress: string | undefined, forSession: boolean): AdmissionVerdict {
    // Every Retry-After is jittered (base..2×base s), so chargers refused together do not return together.
    if (!this.accepting) {
      return {
        ok: false,
        status: 503,
        reason: 'the gateway is shutting down; reconnect later',
        outcome: 'draining',
        headers: { 'Retry-After': jitteredRetryAfter(10) },
      };
    }
    if (this.cluster !== undefined && !this.cluster.registry.ownershipValid()) {
      return {
        ok: false,
        status: 503,
        reason: 'the gateway is not registered in the ownership registry; reconnect later',
        outcome: 'not_registered',
        headers: { 'Retry-After': jitteredRetryAfter(10) },
      };
    }
    const max = this.config.server.maxConnections;
    const open = this.connectionsHeld();
    if (open >= max && !(forSession && this.sessions.get(identity) !== undefined && !this.successors.has(identity))) {
      return {
        ok: false,
        status: 503,
        reason: `the gateway holds its maximum of ${max} chargers`,
        outcome: 'over_capacity',
        headers: { 'Retry-After': jitteredRetryAfter(30) },
      };
    }
    // Last, so only a connection that would otherwise be taken spends a token.
    return this.admission.checkUpgrade(remoteAddress);
  }

  private accept(socket: WebSocket, charger: AdmittedCharger): ChargerSession {
    const record = this.chargers.attach(charger.identity);
    const session = new ChargerSession(charger.identity, charger.protocol, charger.remoteAddress, charger.acceptSequence, socket, this.environment, record);
    this.compat.attach(session);
    session.securityProfile = charger.securityProfile;
    this.metrics.connections.cell(charger.protocol).value++;
    this.metrics.securityProfiles.cell(String(charger.securityProfile)).value++;
    const current = this.sessions.get(charger.identity);
    if (current !== undefined && current.acceptSequence > charger.acceptSequence) {
      // An older connection's handshake finished after a newer one's (the charger retried while it waited):
      // the newer one stays, this one goes.
      session.close(CLOSE.replaced, 'a newer connection with the same identity is already open', 'replaced');
      return session;
    }
    // In cluster mode the open session may be on another instance, out of sight: every new connection waits there.
    const mustWait = this.cluster !== undefined || (current !== undefined && current.state === 'open') || this.successors.has(charger.identity);
    if (mustWait) this.waitForLife(session);
    else this.takeOver(session);
    return session;
  }

  /**
   * Holds a new connection of an identity whose session is open until it shows life, and pings it so that a live
   * charger does at once (an abandoned socket answers the ping, and the 101 before it, with a reset). After the
   * grace a silent one takes over all the same, one turn later, so that an end of stream already queued for it has
   * been read first.
   */
  private waitForLife(session: ChargerSession): void {
    session.awaitingLife = true;
    const timer = setTimeout(() => setImmediate(() => this.endWait(session, 'grace')), this.config.server.takeoverGraceMs);
    timer.unref();
    this.successors.add(session, timer);
    session.ping();
  }

  /** A waiting connection showed life or stayed silent through the grace: it takes over, unless a newer one has. */
  private endWait(session: ChargerSession, outcome: 'life' | 'grace'): void {
    if (!this.successors.delete(session)) return;
    session.awaitingLife = false;
    if (session.state !== 'open') return;
    const current = this.sessions.get(session.identity);
    if (current !== undefined && current.acceptSequence > session.acceptSequence) {
      this.metrics.takeoverWaits.cell('superseded').value++;
      session.close(CLOSE.replaced, 'a newer connection with the same identity is already open', 'replaced');
      return;
    }
    this.metrics.takeoverWaits.cell(outcome).value++;
    this.takeOver(session);
  }

  /** Closes every connection still waiting to take over (the gateway stops, or can no longer own chargers). */
  private closeWaiting(code: number, reason: string, cause: CloseCause): void {
    for (const session of this.successors.all()) {
      this.successors.delete(session);
      session.awaitingLife = false;
      session.close(code, reason, cause);
    }
  }

  /** The session owns its identity from now on: the previous one is closed, and `connected` is published. */
  private takeOver(session: ChargerSession): void {
    const previous = this.sessions.claim(session);
    // A recording of this identity goes on with its newest connection.
    this.recorder.attach(session);
    if (previous !== undefined) {
      const reason = 'replaced by a newer connection with the same identity';
      previous.close(CLOSE.replaced, reason, 'replaced');
      // Its socket closes later; its presence ends now, so a backend sees disconnected before the new connected.
      void this.endPresence(previous, CLOSE.replaced, reason);
    }
    if (this.cluster !== undefined) {
      session.ownership = this.takeOwnership(session, this.cluster);
      // A claim that fails closes the socket; CALLs waiting for it get InternalError.
      session.ownership.catch(() => undefined);
      return;
    }
    session.claimed = true;
    const epoch = this.epochOf(session);
    if (epoch > this.lastEpoch) this.lastEpoch = epoch;
    // Presence events nobody would receive (the embedded bus with no subscriber) are counted, not built: a reconnect
    // storm makes one per connection, and the event context it needs is then made only when the charger reports.
    if (!this.events.countIfRoutesUnheard(this.connectedRoutes)) {
      this.events.publishDetached([connectedEvent(session.eventContext(), { remoteAddress: session.remoteAddress, securityProfile: session.securityProfile, epoch })]);
    }
    this.log.debug({ chargePointId: session.identity, protocol: session.protocol, remoteAddress: session.remoteAddress }, 'charger connected');
  }

  /**
   * Cluster mode: claims the identity in Redis, has the previous owner instance close its connection (and store
   * its `disconnected`), then publishes `connected` with the claim's epoch. The socket is closed with 1013 when
   * the claim fails.
   */
  private async takeOwnership(session: ChargerSession, cluster: ClusterServices): Promise<void> {
    let claim: Awaited<ReturnType<ClusterServices['registry']['claim']>>;
    try {
      claim = await cluster.registry.claim(session.identity, cluster.instanceId);
    } catch (err) {
      this.metrics.ownershipClaimFailures.inc();
      this.warnings.write('error', 'ownership-claim', { err }, 'could not claim a charger in the ownership registry; closing it with 1013');
      session.close(CLOSE.tryAgainLater, 'the gateway cannot take this charger now; reconnect later', 'server');
      throw err;
    }
    session.epoch = claim.epoch;
    if (session.state === 'closed') {
      // It closed while the claim was under way; its close could not release what it did not hold yet.
      this.release(session);
      throw new Error('the connection closed before its claim');
    }
    const previous = claim.previous;
    if (previous !== undefined && previous.instanceId !== cluster.instanceId) await this.evictElsewhere(session, previous.instanceId, claim.epoch, cluster);
    if (session.state !== 'open') throw new Error('the connection closed before its claim');
    session.claimed = true;
    session.ownership = undefined;
    if (claim.epoch > this.lastEpoch) this.lastEpoch = claim.epoch;
    this.events.publishDetached([
      connectedEvent(session.eventContext(), { remoteAddress: session.remoteAddress, securityProfile: session.securityProfile, epoch: claim.epoch }),
    ]);
    this.log.debug({ chargePointId: session.identity, protocol: session.protocol, epoch: claim.epoch }, 'charger connected');
  }

  /** Asks the previous owner to close its connection; a dead or silent one is not waited for beyond evictTimeoutMs. */
  private async evictElsewhere(session: ChargerSession, instanceId: string, epoch: number, cluster: ClusterServices): Promise<void> {
    const request: EvictRequest = { chargePointId: session.identity, epoch };
    try {
      const answer = (await this.bus.request(SUBJECTS.instanceEvict(instanceId), request, cluster.evictTimeoutMs)) as { closed?: boolean } | undefined;
      this.metrics.evictions.labels(answer?.closed === true ? 'evicted' : 'not_found').inc();
    } catch (err) {
      const outcome =
        err instanceof Error && err.name === 'NoRespondersError' ? 'no_responders' : err instanceof Error && err.name === 'BusTimeoutError' ? 'timeout' : 'error';
      this.metrics.evictions.labels(outcome).inc();
      if (outcome === 'error') this.warnings.write('warn', 'evict', { err, instanceId }, 'could not ask the previous owner instance to close a charger');
    }
  }

  private release(session: ChargerSession): void {
    const cluster = this.cluster;
    const epoch = session.epoch;
    if (cluster === undefined || epoch === undefined) return;
    // Conditional on the epoch: a late close never removes a newer owner.
    const pending = cluster.registry
      .release(session.identity, epoch)
      .then(
        (released) => this.metrics.ownershipReleases.cell(released ? 'released' : 'not_held').value++,
        (err: unknown) => {
          this.metrics.ownershipReleases.cell('failed').value++;
          this.warnings.write('warn', 'ownership-release', { err }, 'could not release a charger in the ownership registry; it expires');
        },
      )
      .finally(() => this.releases.delete(pending));
    this.releases.add(pending);
  }

  private onSessionClosed(session: ChargerSession, code: number, reason: string): void {
    if (session.awaitingLife) {
      // It ended before it showed life: most likely a socket its charger had already given up on.
      session.awaitingLife = false;
      if (this.successors.delete(session)) this.metrics.takeoverWaits.cell('abandoned').value++;
    }
    this.sessions.release(session);
    this.release(session);
    this.chargers.detach(session.charger);
    this.compat.detach(session);
    this.recorder.detach(session);
    this.metrics.connections.cell(session.protocol).value--;
    this.metrics.disconnects.cell(session.closeCause).value++;
    if (!session.claimed) return;
    void this.endPresence(session, code, reason);
    this.log.debug({ chargePointId: session.identity, code, reason, cause: session.closeCause }, 'charger disconnected');
  }

  private epochOf(session: ChargerSession): number {
    return session.epoch ?? this.epochBase + session.acceptSequence;
  }

  /**
   * Publishes a session's `charge_point.disconnected`, once, and only if its `connected` went out. `durable`:
   * resolves once the bus holds it (eviction answers wait for it).
   */
  private async endPresence(session: ChargerSession, code: number, reason: string, durable = false): Promise<void> {
    if (session.presenceEnded || !session.claimed) return;
    session.presenceEnded = true;
    if (this.events.countIfRoutesUnheard(this.disconnectedRoutes)) return;
    const events = [disconnectedEvent(session.eventContext(), { code, reason, initiator: session.closeCause, epoch: this.epochOf(session) })];
    if (!durable) {
      this.events.publishDetached(events);
      return;
    }
    await this.events.publishDurably(events)?.catch((err: unknown) => {
      this.warnings.write('error', 'unpublished:charge_point', { err, chargePointId: session.identity }, 'event not published');
    });
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

  /** SIGHUP: reads the TLS certificate, key and CA again (a failure keeps the ones in use, logged and counted). */
  reloadTls(): Promise<void> {
    return this.tlsReloader?.reload() ?? Promise.resolve();
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
    // Connections still waiting to take over have nothing in flight: they go at once.
    this.closeWaiting(CLOSE.goingAway, reason, 'shutdown');
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
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.tlsReloader?.stop();
    this.stopOwnershipWatch?.();
    await this.scheduler?.stop();
    for (const session of [...this.sessions.values(), ...this.successors.all()]) session.outbox.terminate();
    this.keepalive.stop();
    this.chargers.stop();
    this.recorder.close();
    this.warnings.flush();
    await this.saveChargerMemory();
    await this.transactionIds.close();
    await Promise.allSettled([...this.releases]);
    // Gives the instance id back at once (others may use it), after the releases above.
    await this.cluster?.registry.close();
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
