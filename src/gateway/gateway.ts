import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { ChargerServer, type AdmissionVerdict, type AdmittedCharger } from '../transport/charger-server.js';
import { KeepaliveSweep } from '../transport/keepalive.js';
import { createValidators, type OcppValidator } from '../ocpp/validation.js';
import { ProtocolMetrics } from '../ocpp/protocol-metrics.js';
import { createInboundCheck } from '../ocpp/inbound-check.js';
import type { RpcShared } from '../ocpp/rpc-shared.js';
import type { OcppVersion } from '../ocpp/versions.js';
import { ChargerSession, type SessionEnvironment } from './session.js';
import { SessionTable } from './session-table.js';
import { TransactionIdAllocator } from './transaction-ids.js';
import { LocalAnswers } from './local-answers.js';
import { ChargerCallHandler } from './charger-calls.js';
import { CLOSE } from './close-codes.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log: Logger;
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
  private accepting = true;
  port = 0;

  private constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
    private readonly transactionIds: TransactionIdAllocator,
  ) {
    this.id = config.instance.id ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    this.metrics = createMetrics();
    this.validators = createValidators();
    const protocolMetrics = new ProtocolMetrics(this.metrics);
    this.keepalive = new KeepaliveSweep({
      ...config.keepalive,
      onExpired: () => this.metrics.keepaliveTerminations.inc(),
    });
    this.calls = new ChargerCallHandler(new LocalAnswers(config.localAnswers, transactionIds));

    const rpc: RpcShared<ChargerSession> = {
      log,
      metrics: protocolMetrics,
      handler: (session, action, payload, version) => this.calls.handle(session, action, payload, version),
      maxQueuedInboundCalls: config.ocpp.maxQueuedInboundCalls,
      maxQueuedOutboundCalls: config.ocpp.maxQueuedOutboundCalls,
      callTimeoutMs: config.ocpp.callTimeoutMs,
      checkInboundCall: createInboundCheck(this.validators, config.ocpp.validation, protocolMetrics, log),
      nextMessageId: messageIdSource(),
      identityOf: (session) => session.identity,
    };
    this.environment = {
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
      admit: (identity) => this.admit(identity),
      accept: (socket, charger) => this.accept(socket, charger),
    });
  }

  /** Builds a gateway and opens what must survive restarts; call `start` to listen. */
  static async create(options: GatewayOptions): Promise<Gateway> {
    const transactionIds = await TransactionIdAllocator.open(options.config.instance.stateDir);
    return new Gateway(options.config, options.log, transactionIds);
  }

  async start(): Promise<number> {
    this.port = await this.server.listen();
    this.keepalive.start();
    return this.port;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  private admit(identity: string): AdmissionVerdict {
    if (!this.accepting) {
      return { ok: false, status: 503, reason: 'the gateway is shutting down; reconnect later', outcome: 'draining', headers: { 'Retry-After': '10' } };
    }
    const max = this.config.server.maxConnections;
    if (this.sessions.size >= max && this.sessions.get(identity) === undefined) {
      return { ok: false, status: 503, reason: `the gateway holds its maximum of ${max} chargers`, outcome: 'over_capacity', headers: { 'Retry-After': '30' } };
    }
    return { ok: true };
  }

  private accept(socket: WebSocket, charger: AdmittedCharger): ChargerSession {
    const session = new ChargerSession(charger.identity, charger.protocol, charger.remoteAddress, socket, this.environment);
    const previous = this.sessions.claim(session);
    if (previous !== undefined) {
      previous.close(CLOSE.replaced, 'replaced by a newer connection with the same identity', 'replaced');
    }
    this.metrics.connections.labels(charger.protocol).inc();
    this.log.debug({ chargePointId: charger.identity, protocol: charger.protocol, remoteAddress: charger.remoteAddress }, 'charger connected');
    return session;
  }

  private onSessionClosed(session: ChargerSession, code: number, reason: string): void {
    this.sessions.release(session);
    this.metrics.connections.labels(session.protocol).dec();
    this.metrics.disconnects.labels(session.closeCause).inc();
    this.log.debug({ chargePointId: session.identity, code, reason, cause: session.closeCause }, 'charger disconnected');
  }

  /** Stops listening and closes every charger with `code`; resolves when all sockets are gone. */
  async stop(code: number = CLOSE.goingAway, reason = 'gateway shutting down'): Promise<void> {
    this.accepting = false;
    const stopped = this.server.stopAccepting();
    for (const session of [...this.sessions.values()]) session.close(code, reason, 'shutdown');
    await this.untilNoSessions(5000);
    for (const session of [...this.sessions.values()]) session.outbox.terminate();
    this.keepalive.stop();
    await stopped;
    await this.transactionIds.close();
  }

  private async untilNoSessions(deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    while (this.sessions.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }
}
