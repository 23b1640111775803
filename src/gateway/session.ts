import type { WebSocket } from 'ws';
import type { CompatChoice } from '../compat/selection.js';
import type { EventContext } from '../events/index.js';
import type { Metrics } from '../observability/metrics.js';
import { RpcEndpoint } from '../ocpp/rpc-endpoint.js';
import type { RpcShared } from '../ocpp/rpc-shared.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { SecurityProfile } from '../security/credential-store.js';
import type { TransportConnection } from '../transport/charger-server.js';
import type { KeepaliveSweep } from '../transport/keepalive.js';
import { type FrameTap, Outbox, type OutboxLimits, type OutboxObserver } from '../transport/outbox.js';
import type { ChargerRecord } from './charger-memory.js';
import { CLOSE } from './close-codes.js';
import type { CallRateState, RateLimitedConnection } from './inbound-call-rate.js';

export type SessionState = 'open' | 'closing' | 'closed';

/** Why a session ended, as the gateway saw it (the close code and reason say the rest). */
export type CloseCause = 'charger' | 'replaced' | 'keepalive' | 'outbox_full' | 'shutdown' | 'server' | 'rate_limited';

/** What every session shares: one object per gateway. */
export interface SessionEnvironment {
  readonly gatewayId: string;
  readonly rpc: RpcShared<ChargerSession>;
  readonly outboxLimits: OutboxLimits;
  readonly keepalive: KeepaliveSweep;
  readonly metrics: Metrics;
  /** Called once per session, when its socket has closed. */
  sessionClosed(session: ChargerSession, code: number, reason: string): void;
  /** A connection waiting to take over its identity (`awaitingLife`) sent its first frame, ping or pong. */
  showedLife(session: ChargerSession): void;
}

/**
 * One charger's connection: open → closing → closed. Close is idempotent and the socket's own close event is
 * the single place where the session ends, so a replaced, expired or refused connection ends the same way.
 * It is its outbox's observer and its socket's keepalive subject, so a connection costs one object here, not a
 * set of callbacks.
 */
export class ChargerSession implements TransportConnection, OutboxObserver, RateLimitedConnection {
  state: SessionState = 'open';
  lastSeenAt: number;
  pingSentAt = 0;
  readonly pingAfterMs: number;
  readonly connectedAt: number;
  readonly outbox: Outbox;
  readonly rpc: RpcEndpoint<ChargerSession>;
  closeCause: CloseCause = 'charger';
  /** Whether this session ever owned its identity (a stale handshake never does, and reports nothing). */
  claimed = false;
  /**
   * True while this connection waits to take over an identity whose session is still open, until it shows life
   * (gateway/pending-successors.ts says why).
   */
  awaitingLife = false;
  /** Whether its `charge_point.disconnected` is out: after it, nothing more is published for this session. */
  presenceEnded = false;
  /** The OCPP security profile this connection proved at its upgrade (0: none). */
  securityProfile: SecurityProfile = 0;
  /**
   * Cluster mode: the epoch the registry gave this connection's claim (undefined until it did); the presence
   * events carry it instead of the local epoch.
   */
  epoch: number | undefined;
  /** Cluster mode: settles when the claim (and the eviction of the previous owner) is done; CALLs wait for it. */
  ownership: Promise<void> | undefined;
  /** The compatibility profile that applies to this connection, and why (set on accept, changed by a BootNotification). */
  compat: CompatChoice | undefined;
  /** Its CALL rate bucket (ocpp.inboundRate), made on its first CALL. */
  inboundRate: CallRateState | undefined;
  /** The flight recorder's tap while this charger is recorded (gateway/flight-recorder.ts); otherwise undefined. */
  recorder: FrameTap | undefined = undefined;
  private context: EventContext | undefined;

  constructor(
    readonly identity: string,
    readonly protocol: OcppVersion,
    readonly remoteAddress: string,
    readonly acceptSequence: number,
    socket: WebSocket,
    private readonly env: SessionEnvironment,
    /** What the gateway knows of this charger beyond this connection (boot, connectors, transactions). */
    readonly charger: ChargerRecord,
  ) {
    this.connectedAt = this.lastSeenAt = Date.now();
    this.pingAfterMs = env.keepalive.pingAfterFor();
    this.outbox = new Outbox(socket, env.outboxLimits, this);
    this.rpc = new RpcEndpoint<ChargerSession>(protocol, env.rpc, this.outbox, this);
    env.keepalive.add(this);
  }

  get gatewayId(): string {
    return this.env.gatewayId;
  }

  /** The source every event of this charger is stamped with; built once, on the first event. */
  eventContext(): EventContext {
    return (this.context ??= {
      chargePointId: this.identity,
      gatewayId: this.env.gatewayId,
      protocol: this.protocol,
      memory: this.charger.connectors,
    });
  }

  onFrame(data: Buffer, isBinary: boolean): void {
    if (this.state !== 'open') return;
    const text = data.toString();
    if (this.recorder !== undefined) this.recorder.record('in', text);
    this.rpc.receive(text, isBinary);
  }

  ping(): void {
    this.outbox.ping();
  }

  showedLife(): void {
    this.awaitingLife = false;
    this.env.showedLife(this);
  }

  /** The charger did not answer a ping in time: drop it without a handshake (it is not listening). */
  expire(): void {
    if (this.state === 'closed') return;
    this.closeCause = 'keepalive';
    this.state = 'closing';
    this.outbox.terminate();
  }

  /** Starts closing with a code and reason the charger can read; calling it again changes nothing. */
  close(code: number, reason: string, cause: CloseCause): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeCause = cause;
    this.rpc.close();
    this.outbox.close(code, reason);
  }

  onSocketClosed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.env.keepalive.delete(this);
    this.rpc.close();
    this.env.sessionClosed(this, code, reason);
  }

  /** Refused CALLs kept coming (ocpp.inboundRate): 1008 with the reason. */
  closeForAbuse(reason: string): void {
    this.close(CLOSE.rateLimited, reason, 'rate_limited');
  }

  // OutboxObserver
  overflow(_outbox: Outbox, queuedFrames: number, queuedBytes: number): void {
    this.env.metrics.backpressureCloses.inc();
    this.close(CLOSE.outboxFull, `not reading: ${queuedFrames} frames (${queuedBytes} bytes) waiting`, 'outbox_full');
    // A charger that does not read will not read our close frame either; do not wait 30 s for it.
    setTimeout(() => this.outbox.terminate(), 2000).unref();
  }

  queuedDelta(delta: number): void {
    this.env.metrics.outboxQueued.inc(delta);
  }

  discarded(count: number): void {
    this.env.metrics.framesDiscarded.inc(count);
  }
}
