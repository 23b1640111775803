/**
 * The load generator of one process: a slice of the chargers and the life each of them lives.
 *
 * Each charger lives the life of a real one: connect (admitted at the ramp rate), BootNotification,
 * a StatusNotification per connector, then paced CALLs that follow its script (script.ts), one CALL
 * outstanding at a time. Everything a charger has due waits in one timer for the whole process
 * (due-timer.ts). Dropped connections come back after a randomized exponential back-off
 * (reconnect.ts). With --drop-all-at, every open socket is cut at once at that moment (a network
 * blip) and the fleet storms back.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';
import { ADMISSION_TICK_MS, Admission } from './admission.js';
import { answerCentralCall } from './central-calls.js';
import type { CloseInfo, SimulatedCharger } from './client.js';
import { DueTimer } from './due-timer.js';
import type { ConnectError } from './errors.js';
import { type ChargerHost, LoadCharger, State, Step } from './load-charger.js';
import * as msg from './messages.js';
import { type SelfSample, ShardMetrics, type WorkerSnapshot } from './metrics.js';
import { identityOf, protocolsOf, type ResolvedOptions } from './options.js';
import { backoffDelayMs, sourcePair } from './reconnect.js';
import { advance, applyRemoteRequests, expandTrigger, mixCall, scriptCall, triggeredCall } from './script.js';

/** What one process runs: the run's options plus its slice of charger numbers. */
export interface ShardConfig {
  options: ResolvedOptions;
  workerIndex: number;
  /** Charger numbers [from, to) of the run (0-based). */
  from: number;
  to: number;
  /** This shard's share of the ramp rate. */
  rampPerSec: number;
}

export class Shard implements ChargerHost {
  readonly metrics = new ShardMetrics();
  private readonly o: ResolvedOptions;
  private readonly chargers: LoadCharger[] = [];
  private readonly admission: Admission<LoadCharger>;
  private readonly due = new DueTimer<LoadCharger>((c, now) => this.fire(c, now));
  private ticker: NodeJS.Timeout | null = null;
  private startedAt = 0;
  /** The drop of --drop-all-at: its timer, and when it happened (admission is unthrottled from then on unless --drop-ramp). */
  private dropTimer: NodeJS.Timeout | null = null;
  private droppedAt = -1;
  private draining = false;
  private ending = false;
  private readonly paceMs: number;

  constructor(readonly config: ShardConfig) {
    this.o = config.options;
    const o = this.o;
    this.paceMs = o.callsPerMinute > 0 ? 60_000 / o.callsPerMinute : 0;
    this.admission = new Admission(config.rampPerSec);
    // One TLS context per process, shared by every charger's connections (the CA read and parsed once).
    const secureContext = o.url.startsWith('wss:') ? createSecureContext(o.caFile !== undefined ? { ca: readFileSync(o.caFile) } : {}) : undefined;
    for (let i = config.from; i < config.to; i++) {
      const c = new LoadCharger(this, i, {
        url: o.url,
        identity: identityOf(o, i),
        protocols: protocolsOf(o.protocol, i),
        password: o.password,
        family: o.sourceAddresses.length ? 4 : undefined,
        callTimeoutMs: o.callTimeoutMs,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        rejectUnauthorized: !o.insecure,
        secureContext,
        inbox: false,
        metrics: this.metrics,
      });
      c.onCall(answerCentralCall);
      c.onClose(this.closed);
      c.step = o.heartbeatsBetweenSessions > 0 ? Step.Heartbeat : Step.Authorize;
      c.left = o.heartbeatsBetweenSessions;
      this.chargers.push(c);
      this.admission.enqueue(c);
    }
  }

  get size(): number {
    return this.chargers.length;
  }

  /** Whether chargers send paced CALLs after booting (false with 0 calls per minute and no flood). */
  get paced(): boolean {
    return this.o.flood || this.paceMs > 0;
  }

  /** Starts admitting connections at the ramp rate. */
  start(): void {
    this.startedAt = performance.now();
    this.admission.start(this.startedAt);
    this.ticker = setInterval(() => this.tick(), ADMISSION_TICK_MS);
    this.tick();
    if (this.o.dropAllAtMs !== null) this.dropTimer = setTimeout(() => this.dropAll(), this.o.dropAllAtMs);
  }

  /**
   * Cuts every open socket at once without a closing handshake, as a network blip would. The
   * chargers see their connection gone, wait their back-off and reconnect; from now on admission
   * follows --drop-ramp (none by default), so the storm hits the server as a real one would.
   * Called by the timer of --drop-all-at, or by the parent for --drop-after-boot (once).
   */
  dropAll(): void {
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = null;
    if (this.draining || this.droppedAt >= 0) return;
    const m = this.metrics;
    this.droppedAt = performance.now();
    m.droppedAtMs = this.droppedAt - this.startedAt;
    m.droppedAtEpochMs = Date.now();
    const rate = this.o.dropRampPerSec / Math.max(1, this.o.workers);
    this.admission.setRate(rate > 0 ? rate : Infinity);
    for (const c of this.chargers) {
      if (!c.isOpen) continue;
      c.awaitingReboot = true;
      c.stormAttempts = 0;
      c.stormFailures = null;
      m.dropped++;
      c.terminate();
    }
    if (m.dropped === 0) m.allRebootedAtMs = 0;
  }

  /** Stops new CALLs and connections; resolves when no CALL is outstanding or after `drainMs`. */
  async drain(drainMs: number): Promise<void> {
    this.draining = true;
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = null;
    this.due.stop();
    const until = performance.now() + drainMs;
    while (performance.now() < until && this.chargers.some((c) => c.busy)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Closes every socket with 1000; outstanding calls count as unanswered at the end. */
  async closeAll(): Promise<void> {
    this.draining = true;
    this.ending = true;
    this.metrics.ending = true;
    this.metrics.openAtEnd = this.metrics.open;
    this.metrics.connectingAtEnd = this.metrics.connecting;
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = null;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.due.stop();
    const closing: Promise<unknown>[] = [];
    for (const c of this.chargers) {
      if (c.state === State.Connecting) c.terminate();
      else if (c.isOpen) closing.push(c.close(1000, 'simulation finished'));
      c.state = State.Stopped;
    }
    // A server that never completes the closing handshake must not hold the run open.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    for (const c of this.chargers) c.terminate();
  }

  // ---- scheduling ----

  /** Admits queued connections within the ramp rate. */
  private tick(): void {
    if (this.draining) return;
    const admission = this.admission;
    admission.refill(performance.now());
    for (let c = admission.take(this.metrics.connecting); c; c = admission.take(this.metrics.connecting)) this.connect(c);
    admission.compact();
  }

  private fire(c: LoadCharger, now: number): void {
    switch (c.state) {
      case State.Backoff:
        c.state = State.Waiting;
        this.admission.enqueue(c);
        this.tick();
        break;
      case State.Booting:
        this.sendBoot(c);
        break;
      case State.Running:
        this.fireSlot(c, now);
        break;
    }
  }

  /**
   * Makes an idle running charger look at its plan again (a central-system CALL asked for
   * something), after the answer to that CALL has gone out. A busy or booting charger gets to it
   * when its current CALL is answered.
   */
  kickSoon(c: LoadCharger): void {
    setImmediate(() => {
      if (c.state !== State.Running || c.busy || this.draining) return;
      this.due.remove(c);
      this.afterCall(c);
    });
  }

  trigger(c: LoadCharger, action: string, connector: number | undefined): void {
    (c.triggers ??= []).push(...expandTrigger(c, this.o, action, connector));
    this.kickSoon(c);
  }

  // ---- connections ----

  private connect(c: LoadCharger, portRetry = false): void {
    const m = this.metrics;
    if (!portRetry) {
      m.attempted++;
      if (c.everOpened || c.attempt > 0) m.reconnects++;
      if (c.awaitingReboot) c.stormAttempts++;
    }
    m.connecting++;
    const pair = sourcePair(this.o, c.number, c.sourceRound);
    if (pair) {
      c.sourceRound++;
      c.options.localAddress = pair.localAddress;
      c.options.localPort = pair.localPort;
    }
    c.state = State.Connecting;
    c.connect().then(
      () => this.opened(c),
      (error: ConnectError) => this.connectFailed(c, error),
    );
  }

  private opened(c: LoadCharger): void {
    const m = this.metrics;
    m.connecting--;
    m.opened++;
    m.open++;
    if (m.open > m.peakOpen) m.peakOpen = m.open;
    if (!c.everOpened) {
      c.everOpened = true;
      m.everConnected++;
      if (m.everConnected === this.chargers.length && m.allOpenAtMs < 0) {
        m.allOpenAtMs = performance.now() - this.startedAt;
        m.steady = true;
      }
    }
    c.attempt = 0;
    c.portRetries = 0;
    if (this.draining) {
      c.state = State.Stopped;
      return;
    }
    c.state = State.Booting;
    this.sendBoot(c);
  }

  private connectFailed(c: LoadCharger, error: ConnectError): void {
    const m = this.metrics;
    m.connecting--;
    if (this.ending) return;
    const reason = error.reason ?? 'other';
    // A clash on our own side of the socket is not the server's doing: try the next pair at once.
    if ((reason === 'EADDRINUSE' || reason === 'EADDRNOTAVAIL') && this.o.sourceAddresses.length > 0 && c.portRetries < 8 && !this.draining) {
      c.portRetries++;
      m.portRetries++;
      this.connect(c, true);
      return;
    }
    m.connectFailed(reason);
    if (c.awaitingReboot) stormFailure(c, reason);
    this.backoff(c);
  }

  /** A socket that was open closed. One listener for the whole shard, not one per charger. */
  private readonly closed = (info: CloseInfo, charger: SimulatedCharger): void => {
    const c = charger as LoadCharger;
    const m = this.metrics;
    m.open--;
    if (!info.byUs) m.closedUnexpectedly(info.code);
    // Open again after the drop but closed before its boot was accepted: a failed attempt of its way back.
    if (c.awaitingReboot && !info.byUs) stormFailure(c, `closed-${info.code}`);
    if (this.ending) {
      c.state = State.Stopped;
      return;
    }
    this.backoff(c);
  };

  private backoff(c: LoadCharger): void {
    this.due.remove(c);
    if (!this.o.reconnect || this.draining) {
      c.state = State.Stopped;
      return;
    }
    const delay = backoffDelayMs(this.o, c.attempt);
    c.attempt++;
    c.state = State.Backoff;
    this.due.schedule(c, performance.now() + delay);
  }

  // ---- the boot sequence ----

  private sendBoot(c: LoadCharger): void {
    c.callWith('BootNotification', msg.bootNotification(c.version, c.identity), this.o.callTimeoutMs, (error, result) => {
      if (c.state !== State.Booting || !c.isOpen) return;
      const r = result as { status?: unknown; interval?: unknown } | undefined;
      if (!error && r?.status === 'Accepted') {
        const m = this.metrics;
        if (!c.everBooted) {
          c.everBooted = true;
          if (++m.booted === this.chargers.length && m.allBootedAtMs < 0) m.allBootedAtMs = performance.now() - this.startedAt;
        }
        if (c.awaitingReboot) {
          c.awaitingReboot = false;
          const afterMs = performance.now() - this.droppedAt;
          m.stormRebooted({ afterMs, attempts: c.stormAttempts, failures: c.stormFailures ?? {}, lastConnectMs: c.lastConnectMs, lastTcpConnectMs: c.lastTcpConnectMs });
          if (++m.rebooted === m.dropped) m.allRebootedAtMs = afterMs;
        }
        c.statusNext = c.version === 'ocpp1.6' ? 0 : 1;
        this.sendStatus(c);
        return;
      }
      // Pending, Rejected, a CALLERROR or no answer: ask again later, as a charger does.
      const interval = typeof r?.interval === 'number' && r.interval > 0 ? r.interval * 1000 : this.paceMs || 10_000;
      if (!this.draining) this.due.schedule(c, performance.now() + Math.min(interval, 300_000));
    });
  }

  private sendStatus(c: LoadCharger): void {
    const k = c.statusNext++;
    const state = c.inSession && k === c.connector ? 'Charging' : 'Available';
    c.callWith('StatusNotification', msg.statusNotification(c.version, k, state), this.o.callTimeoutMs, () => {
      if (c.state !== State.Booting || !c.isOpen) return;
      if (c.statusNext <= this.o.connectors) {
        if (!this.draining) this.sendStatus(c);
        return;
      }
      c.state = State.Running;
      const now = performance.now();
      // A random phase, so that chargers that came up together do not fire together.
      const urgent = this.o.flood || c.remoteStart || c.remoteStop;
      c.nextSlotAt = urgent ? now : this.paced ? now + Math.random() * this.gap(c) : Infinity;
      this.afterCall(c);
    });
  }

  // ---- paced calls ----

  /** Mean spacing before the next paced CALL, jittered ±50 %; never for idle chargers. */
  private gap(c: LoadCharger): number {
    if (!this.paced) return Infinity;
    const base = c.step === Step.Meter && this.o.meterIntervalMs > 0 ? this.o.meterIntervalMs : this.paceMs;
    return base * (0.5 + Math.random());
  }

  /** Sends whatever comes next: a triggered message first, otherwise the next step of the script. */
  private next(c: LoadCharger, now: number): void {
    const triggers = c.triggers;
    const t = triggers?.shift();
    if (triggers && t) {
      if (triggers.length === 0) c.triggers = null;
      const call = triggeredCall(c, t);
      if (call) {
        c.callWith(call[0], call[1], this.o.callTimeoutMs, () => this.afterCall(c));
        return;
      }
      this.next(c, now);
      return;
    }
    this.fireSlot(c, now);
  }

  private fireSlot(c: LoadCharger, now: number): void {
    const mix = this.o.mix;
    if (mix) {
      const [action, payload] = mixCall(c, this.o, mix);
      c.callWith(action, payload, this.o.callTimeoutMs, () => {
        c.nextSlotAt = now + this.gap(c);
        this.afterCall(c);
      });
      return;
    }
    applyRemoteRequests(c);
    const [action, payload] = scriptCall(c, this.o);
    c.callWith(action, payload, this.o.callTimeoutMs, (error, result) => {
      advance(c, this.o, error, result);
      // Counted from the send, so a slow answer does not slow the pace (unless it exceeds it).
      c.nextSlotAt = now + this.gap(c);
      this.afterCall(c);
    });
  }

  /** After any CALL of a running charger: the next one now (flood, triggers, slot due) or at its slot. */
  private afterCall(c: LoadCharger): void {
    if (c.state !== State.Running || !c.isOpen || this.draining) return;
    const now = performance.now();
    if (this.o.flood || c.triggers || c.nextSlotAt <= now) this.next(c, now);
    else if (c.nextSlotAt !== Infinity) this.due.schedule(c, c.nextSlotAt);
  }

  // ---- reporting ----

  snapshot(self: SelfSample, selfHistory: SelfSample[], final: boolean): WorkerSnapshot {
    return {
      workerIndex: this.config.workerIndex,
      pid: process.pid,
      chargers: this.chargers.length,
      metrics: this.metrics.snapshot(),
      self,
      selfHistory,
      final,
    };
  }
}

function stormFailure(c: LoadCharger, reason: string): void {
  const failures = (c.stormFailures ??= Object.create(null) as Record<string, number>);
  failures[reason] = (failures[reason] ?? 0) + 1;
}
