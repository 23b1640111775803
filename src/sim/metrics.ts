/**
 * Counters of one simulator process (a "shard"), and the plain-data snapshot it reports to the
 * parent over IPC once a second. Snapshots are cumulative, so a lost or late one costs nothing:
 * the parent keeps the latest per worker and adds them up.
 */
import { Histogram, type HistogramData } from './histogram.js';

export type CountMap = Record<string, number>;

/** One dropped charger's way back after the storm's drop. */
export interface StormReturn {
  /** Ms from the drop until its BootNotification was accepted again. */
  afterMs: number;
  /** Connection attempts since the drop, the one that succeeded included. */
  attempts: number;
  /** Attempts since the drop that failed, or closed before the boot, by reason. */
  failures: CountMap;
  /** How long the opening handshake that brought it back took, in ms: TCP connect, TLS, upgrade. */
  lastConnectMs: number;
  /**
   * Its TCP connect alone, in ms (dropped SYNs show here); the rest is the wait for the server's 101, in the server's
   * kernel or in the server, and TLS on wss://. -1 if unknown.
   */
  lastTcpConnectMs: number;
}

/** The chargers back last after a drop, kept per shard and overall: where the storm's time goes. */
export const STORM_SLOWEST_KEPT = 20;

function bump(map: CountMap, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export class ShardMetrics {
  // connections
  attempted = 0;
  opened = 0;
  failed = 0;
  failedByReason: CountMap = Object.create(null);
  unexpectedCloses = 0;
  unexpectedClosesByCode: CountMap = Object.create(null);
  reconnects = 0;
  /** Connections retried at once on another source port after a local port clash. */
  portRetries = 0;
  open = 0;
  peakOpen = 0;
  connecting = 0;
  /** Chargers that were open at least once: "everyone got in" is about chargers, not attempts. */
  everConnected = 0;
  /** Chargers whose BootNotification was accepted at least once. */
  booted = 0;
  /** When this shard first had every charger open, in ms since the shard started; -1 until then. */
  allOpenAtMs = -1;
  /** When this shard first had every charger's BootNotification accepted, in ms since the shard started; -1 until then. */
  allBootedAtMs = -1;
  /** Opening handshakes from the first byte to the WebSocket open: TCP connect, TLS on wss://, the HTTP upgrade (and the server's authentication within it). */
  connectLatency = new Histogram();
  /** The same, for connections opened after the drop (the reconnect storm) only. */
  stormConnectLatency = new Histogram();
  /** Open sockets when the run ended, just before the simulator closed them. */
  openAtEnd = 0;
  /** Handshakes still in progress when the run ended (a server that accepts too slowly). */
  connectingAtEnd = 0;
  /** Set when the simulator starts closing its own sockets: calls cut off then are "unanswered at the end". */
  ending = false;

  // the reconnect storm (--drop-all-at)
  /** Open sockets this shard cut on purpose at the drop. */
  dropped = 0;
  /** Dropped chargers whose BootNotification was accepted again after the drop. */
  rebooted = 0;
  /** Ms from the drop until every dropped charger had booted again; -1 until then. */
  allRebootedAtMs = -1;
  /** When this shard cut its sockets, in ms since the shard started; -1 until then. */
  droppedAtMs = -1;
  /** The same moment on the wall clock (ms since the epoch), to find it among readings of the server taken elsewhere. */
  droppedAtEpochMs = -1;
  /** From the drop until each dropped charger booted again, in µs. */
  stormBack = new Histogram();
  /** The last chargers back, which are the slowest since they come back in order; oldest first. */
  stormSlowest: StormReturn[] = [];
  /** Dropped chargers that booted again after at least one failed attempt; by reason, each charger once per reason. */
  stormBackAfterFailure = 0;
  stormBackAfterFailureByReason: CountMap = Object.create(null);

  // charger → server calls
  callsSent = 0;
  callsAnswered = 0;
  callErrors = 0;
  callErrorsByCode: CountMap = Object.create(null);
  callsTimedOut = 0;
  /** Outstanding when the socket closed under them. */
  callsAborted = 0;
  /** Outstanding when the run ended and sockets were closed. */
  callsUnansweredAtEnd = 0;
  /** Outstanding when the simulator cut the socket on purpose (the reconnect storm's drop). */
  callsCutByDrop = 0;
  callsByAction: CountMap = Object.create(null);
  /** CALLRESULT / CALLERROR frames whose id nobody was waiting for (late answers after a timeout, mostly). */
  unmatchedResponses = 0;
  /** Frames that are not JSON arrays of a known message type. */
  malformedFrames = 0;
  latency = new Histogram();
  /**
   * Latency once every charger of this process had connected: the ramp's boot storm left out, so
   * that this is what the server does under the steady load alone.
   */
  steadyLatency = new Histogram();
  steady = false;

  // server → charger calls
  csCallsReceived = 0;
  csCallsAnswered = 0;
  csCallErrors = 0;
  csCallsByAction: CountMap = Object.create(null);
  csCallErrorsByCode: CountMap = Object.create(null);

  // frames
  framesSent = 0;
  framesReceived = 0;

  callSent(action: string): void {
    this.callsSent++;
    this.framesSent++;
    bump(this.callsByAction, action);
  }

  callAnswered(latencyUs: number): void {
    this.callsAnswered++;
    this.latency.record(latencyUs);
    if (this.steady) this.steadyLatency.record(latencyUs);
  }

  callFailed(code: string, latencyUs: number): void {
    this.callErrors++;
    bump(this.callErrorsByCode, code);
    this.latency.record(latencyUs);
    if (this.steady) this.steadyLatency.record(latencyUs);
  }

  connected(latencyUs: number): void {
    this.connectLatency.record(latencyUs);
    if (this.droppedAtMs >= 0) this.stormConnectLatency.record(latencyUs);
  }

  connectFailed(reason: string): void {
    this.failed++;
    bump(this.failedByReason, reason);
  }

  stormRebooted(r: StormReturn): void {
    this.stormBack.record(r.afterMs * 1000);
    if (this.stormSlowest.length >= STORM_SLOWEST_KEPT) this.stormSlowest.shift();
    this.stormSlowest.push(r);
    const reasons = Object.keys(r.failures);
    if (reasons.length > 0) this.stormBackAfterFailure++;
    for (const reason of reasons) bump(this.stormBackAfterFailureByReason, reason);
  }

  closedUnexpectedly(code: number): void {
    this.unexpectedCloses++;
    bump(this.unexpectedClosesByCode, String(code));
  }

  csCall(action: string): void {
    this.csCallsReceived++;
    bump(this.csCallsByAction, action);
  }

  csAnswered(errorCode?: string): void {
    this.framesSent++;
    if (errorCode === undefined) this.csCallsAnswered++;
    else {
      this.csCallErrors++;
      bump(this.csCallErrorsByCode, errorCode);
    }
  }

  snapshot(): MetricsData {
    return {
      attempted: this.attempted,
      opened: this.opened,
      failed: this.failed,
      failedByReason: { ...this.failedByReason },
      unexpectedCloses: this.unexpectedCloses,
      unexpectedClosesByCode: { ...this.unexpectedClosesByCode },
      reconnects: this.reconnects,
      portRetries: this.portRetries,
      open: this.open,
      peakOpen: this.peakOpen,
      connecting: this.connecting,
      everConnected: this.everConnected,
      booted: this.booted,
      allOpenAtMs: this.allOpenAtMs,
      allBootedAtMs: this.allBootedAtMs,
      openAtEnd: this.openAtEnd,
      connectingAtEnd: this.connectingAtEnd,
      dropped: this.dropped,
      rebooted: this.rebooted,
      allRebootedAtMs: this.allRebootedAtMs,
      droppedAtMs: this.droppedAtMs,
      droppedAtEpochMs: this.droppedAtEpochMs,
      stormBack: this.stormBack.toJSON(),
      stormSlowest: this.stormSlowest.map((r) => ({ ...r, failures: { ...r.failures } })),
      stormBackAfterFailure: this.stormBackAfterFailure,
      stormBackAfterFailureByReason: { ...this.stormBackAfterFailureByReason },
      connectLatency: this.connectLatency.toJSON(),
      stormConnectLatency: this.stormConnectLatency.toJSON(),
      callsSent: this.callsSent,
      callsAnswered: this.callsAnswered,
      callErrors: this.callErrors,
      callErrorsByCode: { ...this.callErrorsByCode },
      callsTimedOut: this.callsTimedOut,
      callsAborted: this.callsAborted,
      callsUnansweredAtEnd: this.callsUnansweredAtEnd,
      callsCutByDrop: this.callsCutByDrop,
      callsByAction: { ...this.callsByAction },
      unmatchedResponses: this.unmatchedResponses,
      malformedFrames: this.malformedFrames,
      latency: this.latency.toJSON(),
      steadyLatency: this.steadyLatency.toJSON(),
      csCallsReceived: this.csCallsReceived,
      csCallsAnswered: this.csCallsAnswered,
      csCallErrors: this.csCallErrors,
      csCallsByAction: { ...this.csCallsByAction },
      csCallErrorsByCode: { ...this.csCallErrorsByCode },
      framesSent: this.framesSent,
      framesReceived: this.framesReceived,
    };
  }
}

/** The counters as plain data: what crosses IPC and what the parent merges. */
export interface MetricsData {
  attempted: number;
  opened: number;
  failed: number;
  failedByReason: CountMap;
  unexpectedCloses: number;
  unexpectedClosesByCode: CountMap;
  reconnects: number;
  portRetries: number;
  open: number;
  peakOpen: number;
  connecting: number;
  everConnected: number;
  booted: number;
  allOpenAtMs: number;
  allBootedAtMs: number;
  openAtEnd: number;
  connectingAtEnd: number;
  dropped: number;
  rebooted: number;
  allRebootedAtMs: number;
  droppedAtMs: number;
  /** Absent in snapshots of earlier versions. */
  droppedAtEpochMs?: number;
  stormBack: HistogramData;
  stormSlowest: StormReturn[];
  stormBackAfterFailure: number;
  stormBackAfterFailureByReason: CountMap;
  connectLatency: HistogramData;
  stormConnectLatency: HistogramData;
  callsSent: number;
  callsAnswered: number;
  callErrors: number;
  callErrorsByCode: CountMap;
  callsTimedOut: number;
  callsAborted: number;
  callsUnansweredAtEnd: number;
  callsCutByDrop: number;
  callsByAction: CountMap;
  unmatchedResponses: number;
  malformedFrames: number;
  latency: HistogramData;
  steadyLatency: HistogramData;
  csCallsReceived: number;
  csCallsAnswered: number;
  csCallErrors: number;
  csCallsByAction: CountMap;
  csCallErrorsByCode: CountMap;
  framesSent: number;
  framesReceived: number;
}

/** How the simulator process itself was doing over the last second: to tell when it, not the server, was the bottleneck. */
export interface SelfSample {
  /** CPU of this process over the last interval, in percent of one core. */
  cpuPercent: number;
  /** Event-loop delay over the last interval, milliseconds. */
  loopP99Ms: number;
  loopMaxMs: number;
  rssBytes: number;
}

/** What a worker sends to the parent once a second (and once more at the end). */
export interface WorkerSnapshot {
  workerIndex: number;
  pid: number;
  chargers: number;
  metrics: MetricsData;
  self: SelfSample;
  /** Every one-second self sample since start, so the parent can judge a whole run. */
  selfHistory: SelfSample[];
  final: boolean;
}

/** Adds worker snapshots into one view. `open`, `connecting` and `peakOpen` are summed (peaks of different workers may not coincide: an upper bound). */
/** Counters that are moments, not counts: merged below by their own rule (earliest, latest), never summed. */
const MOMENTS: ReadonlySet<keyof MetricsData> = new Set<keyof MetricsData>(['allOpenAtMs', 'allBootedAtMs', 'allRebootedAtMs', 'droppedAtMs', 'droppedAtEpochMs']);

export function mergeMetrics(parts: MetricsData[]): {
  data: MetricsData;
  latency: Histogram;
  steadyLatency: Histogram;
  connectLatency: Histogram;
  stormConnectLatency: Histogram;
  stormBack: Histogram;
} {
  const stormBack = new Histogram();
  let stormSlowest: StormReturn[] = [];
  const latency = new Histogram();
  const steadyLatency = new Histogram();
  const connectLatency = new Histogram();
  const stormConnectLatency = new Histogram();
  const out = new ShardMetrics().snapshot();
  let allOpenAtMs = parts.length ? 0 : -1;
  let allBootedAtMs = parts.length ? 0 : -1;
  // The storm is over when it is over in every shard that dropped something.
  let allRebootedAtMs = parts.some((p) => p.dropped > 0) ? 0 : -1;
  for (const p of parts) {
    for (const key of Object.keys(out) as Array<keyof MetricsData>) {
      const value = p[key];
      if (typeof value === 'number' && !MOMENTS.has(key)) (out[key] as number) += value;
    }
    if (p.dropped > 0) {
      if (p.allRebootedAtMs < 0 || allRebootedAtMs < 0) allRebootedAtMs = -1;
      else allRebootedAtMs = Math.max(allRebootedAtMs, p.allRebootedAtMs);
    }
    for (const key of ['failedByReason', 'unexpectedClosesByCode', 'callErrorsByCode', 'callsByAction', 'csCallsByAction', 'csCallErrorsByCode'] as const) {
      for (const [k, v] of Object.entries(p[key])) bump(out[key], k, v);
    }
    // Older snapshots (a worker of another version) have no storm returns.
    for (const [k, v] of Object.entries(p.stormBackAfterFailureByReason ?? {})) bump(out.stormBackAfterFailureByReason, k, v);
    if (p.stormBack) stormBack.add(p.stormBack);
    if (p.stormSlowest) stormSlowest = stormSlowest.concat(p.stormSlowest);
    latency.add(p.latency);
    steadyLatency.add(p.steadyLatency);
    connectLatency.add(p.connectLatency);
    // Older snapshots (a worker of another version) have none.
    if (p.stormConnectLatency) stormConnectLatency.add(p.stormConnectLatency);
    // The shards are told together; the earliest is when the storm began.
    if (p.droppedAtMs >= 0) out.droppedAtMs = out.droppedAtMs < 0 ? p.droppedAtMs : Math.min(out.droppedAtMs, p.droppedAtMs);
    const droppedAtEpoch = p.droppedAtEpochMs ?? -1;
    if (droppedAtEpoch >= 0) out.droppedAtEpochMs = (out.droppedAtEpochMs ?? -1) < 0 ? droppedAtEpoch : Math.min(out.droppedAtEpochMs as number, droppedAtEpoch);
    if (p.allOpenAtMs < 0 || allOpenAtMs < 0) allOpenAtMs = -1;
    else allOpenAtMs = Math.max(allOpenAtMs, p.allOpenAtMs);
    // Older snapshots (a worker of another version) have none: unknown, not never.
    const booted = p.allBootedAtMs ?? -1;
    if (booted < 0 || allBootedAtMs < 0) allBootedAtMs = -1;
    else allBootedAtMs = Math.max(allBootedAtMs, booted);
  }
  out.allOpenAtMs = allOpenAtMs;
  out.allBootedAtMs = allBootedAtMs;
  out.allRebootedAtMs = allRebootedAtMs;
  out.latency = latency.toJSON();
  out.steadyLatency = steadyLatency.toJSON();
  out.connectLatency = connectLatency.toJSON();
  out.stormConnectLatency = stormConnectLatency.toJSON();
  out.stormBack = stormBack.toJSON();
  out.stormSlowest = stormSlowest.sort((a, b) => a.afterMs - b.afterMs).slice(-STORM_SLOWEST_KEPT);
  return { data: out, latency, steadyLatency, connectLatency, stormConnectLatency, stormBack };
}
