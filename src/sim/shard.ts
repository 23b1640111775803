/**
 * The load generator of one process: a slice of the chargers, one scheduler for all of them.
 *
 * Every charger's next CALL or reconnect sits in one min-heap, and one timer is armed for the
 * earliest of them: chargers fire at their own jittered moments, not in batches on a coarse tick
 * (batches would queue behind each other and show up as latency the server did not cause), and
 * still no charger holds a timer of its own. A short interval admits new connections at the ramp
 * rate.
 *
 * Each charger lives the life of a real one: connect, BootNotification, a StatusNotification per
 * connector, then paced CALLs that follow its script (heartbeats between sessions, and sessions of
 * Authorize, start, Charging, meter values, stop, Available), one CALL outstanding at a time.
 * Dropped connections come back after a randomized exponential back-off. With --drop-all-at, every
 * open socket is cut at once at that moment (a network blip) and the fleet storms back.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { defaultAnswer } from './charger-answers.js';
import { SimulatedCharger, type CloseInfo } from './client.js';
import type { ConnectError } from './errors.js';
import { MinHeap, type Scheduled } from './heap.js';
import * as msg from './messages.js';
import { ShardMetrics, type SelfSample, type WorkerSnapshot } from './metrics.js';
import { identityOf, protocolsOf, type ResolvedOptions } from './options.js';

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

/** Admission tick: at 1000 connections/s, 20 at a time. */
const TICK_MS = 20;
/**
 * Least time between two wake-ups of the heap timer. Firing each charger at its exact millisecond
 * costs a loop turn per CALL; 2 ms keeps the load spread as a real fleet's (a charger queues
 * behind at most ~2 ms of its own process's sends) at a fraction of the wake-ups.
 */
const WAKE_MIN_MS = 2;

const enum State {
  Waiting, // in the connect queue
  Connecting,
  Booting, // open: BootNotification and the first StatusNotifications, back to back
  Running, // open: paced CALLs
  Backoff, // closed, waiting to reconnect
  Stopped,
}

const enum Step {
  Heartbeat,
  Authorize,
  Start,
  StatusCharging,
  Meter,
  Stop,
  StatusAvailable,
}

interface Trigger {
  action: string;
  connector: number | undefined;
}

class LoadCharger extends SimulatedCharger implements Scheduled {
  dueAt = 0;
  heapPos = -1;
  state = State.Waiting;
  /** Failed attempts since the last open: the exponent of the back-off. */
  attempt = 0;
  /** Which of its (address, port) pairs the next connection uses; moves on at every attempt. */
  sourceRound = 0;
  /** Immediate retries after a local port clash, since the last open. */
  portRetries = 0;
  everOpened = false;
  everBooted = false;
  /** Cut by the drop and not booted again yet. */
  awaitingReboot = false;
  /** Boot sequence: index of the next StatusNotification (connector number). */
  statusNext = 0;
  step = Step.Heartbeat;
  left = 0;
  connector = 1;
  inSession = false;
  txId16: number | undefined;
  txId201 = '';
  seqNo = 0;
  meterWh = Math.floor(Math.random() * 1_000_000);
  /** When the next paced CALL is due (triggered messages go in between without moving it). */
  nextSlotAt = 0;
  triggers: Trigger[] | null = null;
  remoteStart = false;
  remoteStop = false;

  constructor(
    readonly shard: Shard,
    readonly number: number,
    options: ConstructorParameters<typeof SimulatedCharger>[0],
  ) {
    super(options);
  }

  get idTag(): string {
    return `T${this.number}`.slice(0, 20);
  }
}

/** Answers central-system CALLs from the table, and acts on the ones a real charger acts on. */
function answerCentralCall(action: string, payload: any, charger: SimulatedCharger): unknown {
  const c = charger as LoadCharger;
  const answer = defaultAnswer(c.version, action, payload);
  if (answer.status === 'Accepted') {
    switch (action) {
      case 'TriggerMessage':
      case 'ExtendedTriggerMessage': {
        const connector = Number.isInteger(payload?.connectorId) ? payload.connectorId : Number.isInteger(payload?.evse?.id) ? payload.evse.id : undefined;
        c.shard.trigger(c, String(payload.requestedMessage), connector);
        break;
      }
      case 'RemoteStartTransaction':
      case 'RequestStartTransaction':
        // Idle chargers (no calls per minute) send nothing after their boot: they only answer.
        if (!c.shard.paced) break;
        if (!c.inSession) c.remoteStart = true;
        c.nextSlotAt = 0; // act at once, not at the next paced slot
        c.shard.kickSoon(c);
        break;
      case 'RemoteStopTransaction':
      case 'RequestStopTransaction':
        if (!c.shard.paced) break;
        if (c.inSession) c.remoteStop = true;
        c.nextSlotAt = 0;
        c.shard.kickSoon(c);
        break;
    }
  }
  if (action === 'GetTransactionStatus' && c.inSession) return { ongoingIndicator: true, messagesInQueue: false };
  return answer;
}

export class Shard {
  readonly metrics = new ShardMetrics();
  private readonly o: ResolvedOptions;
  private readonly chargers: LoadCharger[] = [];
  private readonly heap = new MinHeap<LoadCharger>();
  private connectQueue: LoadCharger[] = [];
  private queueHead = 0;
  private tokens = 1;
  private lastTick = 0;
  private ticker: NodeJS.Timeout | null = null;
  /** The one timer for the heap, and the moment it is armed for. */
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private lastWake = 0;
  private startedAt = 0;
  /** The drop of --drop-all-at: its timer, and when it happened (admission is unthrottled from then on unless --drop-ramp). */
  private dropTimer: NodeJS.Timeout | null = null;
  private droppedAt = -1;
  private draining = false;
  private ending = false;
  private readonly paceMs: number;
  private maxConnecting: number;
  private tokenCap: number;
  private rampPerSec: number;

  constructor(readonly config: ShardConfig) {
    this.o = config.options;
    const o = this.o;
    this.paceMs = o.callsPerMinute > 0 ? 60_000 / o.callsPerMinute : 0;
    this.rampPerSec = config.rampPerSec;
    this.maxConnecting = Math.max(50, Math.ceil(config.rampPerSec));
    this.tokenCap = Math.max(1, config.rampPerSec * 0.2);
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
        inbox: false,
        metrics: this.metrics,
      });
      c.onCall(answerCentralCall);
      c.onClose(this.closed);
      c.step = o.heartbeatsBetweenSessions > 0 ? Step.Heartbeat : Step.Authorize;
      c.left = o.heartbeatsBetweenSessions;
      this.chargers.push(c);
      this.connectQueue.push(c);
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
    this.lastTick = this.startedAt;
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.tick();
    if (this.o.dropAllAtMs !== null) this.dropTimer = setTimeout(() => this.dropAll(), this.o.dropAllAtMs);
  }

  /**
   * Cuts every open socket at once without a closing handshake, as a network blip would. The
   * chargers see their connection gone, wait their back-off and reconnect; from now on admission
   * follows --drop-ramp (none by default), so the storm hits the server as a real one would.
   */
  private dropAll(): void {
    this.dropTimer = null;
    if (this.draining) return;
    const m = this.metrics;
    this.droppedAt = performance.now();
    const rate = this.o.dropRampPerSec / Math.max(1, this.o.workers);
    this.rampPerSec = rate > 0 ? rate : Infinity;
    this.maxConnecting = rate > 0 ? Math.max(50, Math.ceil(rate)) : Infinity;
    this.tokenCap = rate > 0 ? Math.max(1, rate * 0.2) : Infinity;
    for (const c of this.chargers) {
      if (!c.isOpen) continue;
      c.awaitingReboot = true;
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
    this.heap.clear();
    this.disarm();
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
    this.heap.clear();
    this.disarm();
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
    const now = performance.now();
    const rate = this.rampPerSec;
    // No limit (the storm after a drop): everything queued goes now.
    this.tokens = rate === Infinity ? Infinity : Math.min(this.tokenCap, this.tokens + ((now - this.lastTick) / 1000) * rate);
    this.lastTick = now;
    const q = this.connectQueue;
    while (this.tokens >= 1 && this.queueHead < q.length && this.metrics.connecting < this.maxConnecting) {
      const c = q[this.queueHead++];
      this.tokens--;
      this.connect(c);
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > q.length) {
      this.connectQueue = q.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Puts a charger's next action in the heap, re-arming the timer if it is now the earliest. */
  private schedule(c: LoadCharger, dueAt: number): void {
    this.heap.schedule(c, dueAt);
    if (dueAt < this.wakeAt) this.arm(dueAt);
  }

  private arm(dueAt: number): void {
    if (this.wake) clearTimeout(this.wake);
    const at = Math.max(dueAt, this.lastWake + WAKE_MIN_MS);
    this.wakeAt = at;
    this.wake = setTimeout(this.onWake, Math.max(1, at - performance.now()));
  }

  private disarm(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    this.wakeAt = Infinity;
  }

  /** Fires everything due (timers run up to a millisecond late: anything due by then goes now too). */
  private readonly onWake = (): void => {
    this.wake = null;
    this.wakeAt = Infinity;
    if (this.draining) return;
    const now = performance.now();
    this.lastWake = now;
    const heap = this.heap;
    for (let top = heap.peek(); top && top.dueAt <= now + 1; top = heap.peek()) {
      heap.pop();
      this.fire(top, now);
    }
    const next = heap.peek();
    if (next && next.dueAt < this.wakeAt) this.arm(next.dueAt);
  };

  private fire(c: LoadCharger, now: number): void {
    switch (c.state) {
      case State.Backoff:
        c.state = State.Waiting;
        this.connectQueue.push(c);
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
      this.heap.remove(c);
      this.afterCall(c);
    });
  }

  trigger(c: LoadCharger, action: string, connector: number | undefined): void {
    const list = (c.triggers ??= []);
    if (action === 'StatusNotification' && connector === undefined) {
      for (let k = c.version === 'ocpp1.6' ? 0 : 1; k <= this.o.connectors; k++) list.push({ action, connector: k });
    } else list.push({ action, connector });
    this.kickSoon(c);
  }

  // ---- connections ----

  private connect(c: LoadCharger, portRetry = false): void {
    const m = this.metrics;
    if (!portRetry) {
      m.attempted++;
      if (c.everOpened || c.attempt > 0) m.reconnects++;
    }
    m.connecting++;
    this.assignSource(c);
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

  /**
   * Gives the charger its next (source address, port) pair. Pair k of charger i is slot
   * i + k * chargers: distinct across chargers and workers for the first connection and the
   * first reconnect of each, so a clash only comes from a stranger (another program on the
   * port, an old TIME_WAIT the kernel will not reuse) and is retried on the next pair.
   */
  private assignSource(c: LoadCharger): void {
    const o = this.o;
    const addresses = o.sourceAddresses;
    if (addresses.length === 0) return;
    const slots = addresses.length * o.sourcePortSpan;
    const slot = (c.number + c.sourceRound * o.chargers) % slots;
    c.sourceRound++;
    c.options.localAddress = addresses[slot % addresses.length];
    c.options.localPort = o.sourcePortBase + Math.floor(slot / addresses.length);
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
    this.backoff(c);
  }

  /** A socket that was open closed. One listener for the whole shard, not one per charger. */
  private readonly closed = (info: CloseInfo, charger: SimulatedCharger): void => {
    const c = charger as LoadCharger;
    const m = this.metrics;
    m.open--;
    if (!info.byUs) m.closedUnexpectedly(info.code);
    if (this.ending) {
      c.state = State.Stopped;
      return;
    }
    this.backoff(c);
  };

  private backoff(c: LoadCharger): void {
    this.heap.remove(c);
    if (!this.o.reconnect || this.draining) {
      c.state = State.Stopped;
      return;
    }
    const ceiling = Math.min(this.o.reconnectMaxMs, this.o.reconnectBaseMs * 2 ** Math.min(c.attempt, 30));
    c.attempt++;
    // Half fixed, half random: the wait still grows, and a fleet dropped at once comes back spread out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    c.state = State.Backoff;
    this.schedule(c, performance.now() + delay);
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
          m.booted++;
        }
        if (c.awaitingReboot) {
          c.awaitingReboot = false;
          if (++m.rebooted === m.dropped) m.allRebootedAtMs = performance.now() - this.droppedAt;
        }
        c.statusNext = c.version === 'ocpp1.6' ? 0 : 1;
        this.sendStatus(c);
        return;
      }
      // Pending, Rejected, a CALLERROR or no answer: ask again later, as a charger does.
      const interval = typeof r?.interval === 'number' && r.interval > 0 ? r.interval * 1000 : this.paceMs || 10_000;
      if (!this.draining) this.schedule(c, performance.now() + Math.min(interval, 300_000));
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
    if (c.triggers && c.triggers.length > 0) {
      const t = c.triggers.shift()!;
      if (c.triggers.length === 0) c.triggers = null;
      const call = this.triggeredCall(c, t);
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
    if (c.remoteStart && !c.inSession && c.step === Step.Heartbeat) c.step = Step.Authorize;
    if (c.remoteStop && c.inSession && c.step !== Step.Stop) c.step = Step.Stop;
    c.remoteStart = false;
    c.remoteStop = false;
    const [action, payload] = this.scriptCall(c);
    c.callWith(action, payload, this.o.callTimeoutMs, (error, result) => {
      this.advance(c, error, result);
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
    else if (c.nextSlotAt !== Infinity) this.schedule(c, c.nextSlotAt);
  }

  /** The CALL for the charger's current step. */
  private scriptCall(c: LoadCharger): [string, Record<string, unknown>] {
    const v16 = c.version === 'ocpp1.6';
    switch (c.step) {
      case Step.Heartbeat:
        return ['Heartbeat', {}];
      case Step.Authorize:
        c.connector = (c.connector % this.o.connectors) + 1;
        return ['Authorize', msg.authorize(c.version, c.idTag)];
      case Step.Start:
        if (v16) return ['StartTransaction', msg.startTransaction16(c.connector, c.idTag, c.meterWh)];
        c.txId201 = randomUUID();
        c.seqNo = 0;
        return ['TransactionEvent', msg.transactionEvent201('Started', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
      case Step.StatusCharging:
        return ['StatusNotification', msg.statusNotification(c.version, c.connector, 'Charging')];
      case Step.Meter:
        c.meterWh += 150 + Math.floor(Math.random() * 300);
        if (v16) return ['MeterValues', msg.meterValues16(c.connector, c.txId16, c.meterWh)];
        return ['TransactionEvent', msg.transactionEvent201('Updated', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
      case Step.Stop:
        if (v16) return ['StopTransaction', msg.stopTransaction16(c.txId16 ?? 0, c.idTag, c.meterWh)];
        return ['TransactionEvent', msg.transactionEvent201('Ended', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
      case Step.StatusAvailable:
        return ['StatusNotification', msg.statusNotification(c.version, c.connector, 'Available')];
    }
  }

  /**
   * Moves the script on after a paced CALL. A CALLERROR or a timeout does not stop a session:
   * the charger carries on as a charger that gave up on one message would.
   */
  private advance(c: LoadCharger, error: Error | null, result: unknown): void {
    const o = this.o;
    const r = (result ?? {}) as Record<string, any>;
    switch (c.step) {
      case Step.Heartbeat:
        if (--c.left <= 0) c.step = Step.Authorize;
        break;
      case Step.Authorize: {
        const status = c.version === 'ocpp1.6' ? r.idTagInfo?.status : r.idTokenInfo?.status;
        if (error || status === 'Accepted') c.step = Step.Start;
        else this.idle(c);
        break;
      }
      case Step.Start:
        if (c.version === 'ocpp1.6') c.txId16 = Number.isInteger(r.transactionId) ? r.transactionId : undefined;
        c.inSession = true;
        c.step = Step.StatusCharging;
        break;
      case Step.StatusCharging:
        c.step = o.meterValuesPerSession > 0 ? Step.Meter : Step.Stop;
        c.left = o.meterValuesPerSession;
        break;
      case Step.Meter:
        if (--c.left <= 0) c.step = Step.Stop;
        break;
      case Step.Stop:
        c.inSession = false;
        c.txId16 = undefined;
        c.step = Step.StatusAvailable;
        break;
      case Step.StatusAvailable:
        this.idle(c);
        break;
    }
  }

  private idle(c: LoadCharger): void {
    c.left = this.o.heartbeatsBetweenSessions;
    c.step = c.left > 0 ? Step.Heartbeat : Step.Authorize;
  }

  private triggeredCall(c: LoadCharger, t: Trigger): [string, Record<string, unknown>] | undefined {
    const v16 = c.version === 'ocpp1.6';
    const connector = t.connector ?? (c.inSession ? c.connector : 1);
    switch (t.action) {
      case 'BootNotification':
        return ['BootNotification', msg.bootNotification(c.version, c.identity)];
      case 'StatusNotification': {
        const k = v16 ? connector : Math.max(1, connector);
        return ['StatusNotification', msg.statusNotification(c.version, k, c.inSession && k === c.connector ? 'Charging' : 'Available')];
      }
      case 'MeterValues':
        if (v16) return ['MeterValues', msg.meterValues16(connector, c.inSession && connector === c.connector ? c.txId16 : undefined, c.meterWh)];
        return ['MeterValues', msg.meterValues201(Math.max(1, connector), c.meterWh)];
      case 'TransactionEvent':
        if (!c.inSession || v16) return undefined;
        return ['TransactionEvent', { ...msg.transactionEvent201('Updated', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh), triggerReason: 'Trigger' }];
      default: {
        const payload = msg.idleNotification(t.action);
        return payload ? [t.action, payload] : undefined;
      }
    }
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

/** Samples this process's CPU and event-loop delay once per interval. */
/** Sampling period of the event-loop delay monitor; its readings include this period, which is taken off. */
const LOOP_RESOLUTION_MS = 10;

function lagMs(nanoseconds: number): number {
  return Math.max(0, Math.round((nanoseconds / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
}

export class SelfMonitor {
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  readonly history: SelfSample[] = [];
  /** Whether samples go into the history (only those of the load phase do). */
  keep = true;
  last: SelfSample = { cpuPercent: 0, loopP99Ms: 0, loopMaxMs: 0, rssBytes: process.memoryUsage.rss() };

  constructor() {
    this.loop.enable();
  }

  sample(): SelfSample {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedMs = Math.max(1, now - this.lastAt);
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const s: SelfSample = {
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10,
      loopP99Ms: lagMs(this.loop.percentile(99)),
      loopMaxMs: lagMs(this.loop.max),
      rssBytes: process.memoryUsage.rss(),
    };
    this.loop.reset();
    if (this.keep) this.history.push(s);
    this.last = s;
    return s;
  }

  stop(): void {
    this.loop.disable();
  }
}

export interface ShardHooks {
  /** Called about once a second with cumulative counters. */
  onSnapshot?: (snapshot: WorkerSnapshot) => void;
  /** Resolves when the run should end early. */
  stopped?: Promise<void>;
}

/** Runs one shard for the whole timeline (ramp and load, drain, close) and returns its final snapshot. */
export async function runShard(config: ShardConfig, hooks: ShardHooks = {}): Promise<WorkerSnapshot> {
  const shard = new Shard(config);
  const monitor = new SelfMonitor();
  const o = config.options;
  const report = setInterval(() => {
    const s = monitor.sample();
    hooks.onSnapshot?.(shard.snapshot(s, [], false));
  }, 1000);
  shard.start();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => (timer = setTimeout(r, o.durationMs))), hooks.stopped ?? new Promise(() => {})]);
  clearTimeout(timer);
  // The self report covers the load only: closing thousands of sockets at the end is a burst of
  // work that says nothing about whether the simulator kept up during the run.
  const loadSample = monitor.sample();
  monitor.keep = false;
  await shard.drain(o.drainMs);
  await shard.closeAll();
  clearInterval(report);
  monitor.stop();
  return shard.snapshot(loadSample, monitor.history, true);
}
