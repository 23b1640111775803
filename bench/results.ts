/**
 * What a benchmark run records: per target, the numbers derived from the simulator's report (plus
 * what the benchmark measured around it), the gateway/baseline ratios, and the targets checked.
 * One JSON file per run in bench/results/.
 */

import type { LatencySummary } from '../src/sim/histogram.js';
import type { ServerUsage } from '../src/sim/proc-stats.js';
import type { ReconnectStormReport, SimulationReport, StormTail } from '../src/sim/report.js';
import type { CommandStats } from './commands.js';
import type { MachineInfo, TcpCounters } from './machine.js';
import type { ProcessFigures } from './process-sampler.js';
import type { ServicesFigures } from './services.js';
import type { TargetKind } from './targets.js';

export type Mode = 'full' | 'quick';

/** The start of a results file's name: the run's start, to the second, with no colon (\`2026-12-03T14-48-54Z\`). */
export function resultStamp(startedAt: Date): string {
  return startedAt
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
}

export interface LatencyMs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** RSS after a forced full garbage collection, before the first connection and with every charger connected. */
export interface SettledMemory {
  beforeMB: number;
  loadedMB: number;
  connections: number;
  perConnectionKB: number | null;
}

export interface TargetResult {
  kind: TargetKind;
  pid: number;
  /** How the process ended when the benchmark stopped it (SIGTERM: 0 expected). */
  exit: { code: number | null; signal: string | null };
  /** The process went away during the run. */
  serverGone: boolean;
  chargers: number;
  everConnected: number;
  openAtEnd: number;
  /** Chargers still connected at the end, percent of all. */
  heldPct: number;
  allConnectedAfterSec: number | null;
  failed: number;
  failedByReason: Record<string, number>;
  unexpectedCloses: number;
  unexpectedClosesByCode: Record<string, number>;
  droppedOnPurpose: number;
  calls: {
    sent: number;
    answered: number;
    /** Answered with a CALLRESULT, percent of those sent (calls cut by a deliberate drop left out). */
    answeredPct: number;
    callErrors: number;
    callErrorsByCode: Record<string, number>;
    timedOut: number;
    abortedByClose: number;
    unansweredAtEnd: number;
    cutByDrop: number;
  };
  /** Every CALL, ramp included. */
  latencyMs: LatencyMs;
  /** CALLs answered once every charger had connected: the steady load. */
  steadyLatencyMs: LatencyMs;
  callsPerSec: number;
  msgsPerSec: number;
  /** Server CPU over the load window, percent of one core. */
  serverCpuPct: number | null;
  serverCpuPeakPct: number | null;
  /** msgs/s ÷ (server CPU % / 100): what one fully used core of the server carries. */
  msgsPerSecPerCore: number | null;
  rss: { beforeMB: number; loadedMB: number; peakMB: number; perConnectionKB: number | null } | null;
  settled: SettledMemory | null;
  storm: ReconnectStormReport | null;
  /** Scenario c: the chargers that arrived all at once during the load, from their own simulator. */
  lateArrivals: LateArrivals | null;
  simulator: { bottleneck: boolean; notes: string[]; workerCpuPct: number[]; workerLoopDelayP99Ms: number[] };
  /** The whole machine during the load window, to spot other work distorting the numbers. */
  machine: { cpuPct: number | null; otherCpuPct: number | null; loadAverageBefore: number };
  /** Kernel TCP counters over the run (machine-wide): a full accept queue, SYN retransmits, failed SYN cookies. */
  tcp: TcpCounters | null;
  passed: boolean;
  failures: string[];
  /**
   * Cluster targets: every process of the deployment under test (each gateway worker, nats-server,
   * redis-server) with its RSS, CPU and open files, read by the benchmark from /proc.
   */
  processes?: ProcessFigures[];
  /** Cluster targets: how the gateway ran (`WORKERS`, and `POD_ID` of each instance). */
  deployment?: { workers: number; instances: string[] };
  /** Cluster targets: the events stream (events, bytes) and Redis (keys, memory, commands) at the end of the load. */
  services?: ServicesFigures;
  /** The same over the steady part of the load only (scenarios with `steadyFromSec`). */
  servicesSteady?: ServicesFigures;
  /** Scenario i: what the gateway counted (refusals by outcome, TLS client errors). */
  gatewayCounters?: GatewayCounters;
  /** The simulator's full report. */
  report: SimulationReport;
}

/** Counted by the gateway itself (its /metrics) over one target run. */
export interface GatewayCounters {
  /** `ocpp_connection_attempts_total`: accepted, and every refusal by outcome (503s of admission control among them). */
  attemptsByOutcome: Record<string, number>;
  /** `ocpp_tls_client_errors_total`: TLS connections that failed before an HTTP request, by reason. */
  tlsClientErrorsByReason: Record<string, number>;
  /** `ocpp_security_profile_connections_total`: accepted connections by the security profile they proved. */
  acceptedByProfile: Record<string, number>;
}

export interface TargetCheck {
  name: string;
  /** The target in words, e.g. "<= 1.5x baseline". */
  target: string;
  value: number | string | null;
  pass: boolean;
}

export interface ScenarioResult {
  id: string;
  name: string;
  description: string;
  /** The simulator options both targets ran with. */
  params: Record<string, unknown>;
  baseline: TargetResult | null;
  /** The peer baseline: ocpp-rpc in strict mode (scenarios that run it; absent in runs before it existed). */
  peer?: TargetResult | null;
  gateway: TargetResult | null;
  /** The gateway in cluster mode (scenarios f and g; absent in runs before they existed). */
  cluster?: TargetResult | null;
  /** The gateway over TLS with Basic auth, plain port off (scenario i). */
  tls?: TargetResult | null;
  /** Command round trips (scenario h), one entry per place the charger was. */
  commands?: CommandStats[];
  /** gateway / baseline; null where either is missing or the baseline is 0. */
  ratios: Record<string, number | null>;
  targets: TargetCheck[];
  notes: string[];
  /** Scenarios run in rounds (c, d): every round's figure per target; the targets above are each one's median round. */
  rounds?: RoundsRecord;
  /** Set when the scenario could not be run to the end (a target did not start, the simulator threw). */
  error?: string;
}

/**
 * The figure a scenario run in rounds is judged by: messages per core-second (higher is better; not usable when the
 * simulator was the bottleneck), the seconds until every charger was back after a storm, or the steady load's p99
 * round trip in ms (both lower is better).
 */
export type RoundMeasure = 'perCore' | 'stormSec' | 'steadyP99';

/** What must hold in every round, not only in the median one: every charger held and answered, none closed on it. */
export interface RoundOutcome {
  held: boolean;
  answered: boolean;
  unexpectedCloses: number;
  /**
   * By close code, and the failed connection attempts by reason: a round other than the median one is otherwise
   * recorded only by its figure, and a close or a failure in it could not be told apart afterwards (absent in
   * earlier results).
   */
  unexpectedClosesByCode?: Record<string, number>;
  failedByReason?: Record<string, number>;
  /** The kernel's listen-queue overflows during the round (absent in earlier results, and where unreadable). */
  listenOverflows?: number;
  /** A storm round's tail: what the last chargers back met on their way (absent in earlier results). */
  stormTail?: StormTail;
  /**
   * A storm round's server from the drop until every charger was back: its CPU, and how long its main thread ran and
   * waited for a core, which it shares with the simulator (absent in earlier results and where unreadable).
   */
  stormServer?: ServerUsage;
}

export interface RoundsRecord {
  measure: RoundMeasure;
  /**
   * Per round, the order the targets ran in, each one's figure (null: not usable, or every charger not back) and
   * its outcome (absent in the first runs with rounds).
   */
  rounds: { order: TargetKind[]; figures: Partial<Record<TargetKind, number | null>>; outcomes?: Partial<Record<TargetKind, RoundOutcome>> }[];
}

/** Every charger connected and still connected at the end, the server up throughout. */
export function everyChargerHeld(t: TargetResult): boolean {
  return t.openAtEnd === t.chargers && t.everConnected === t.chargers && !t.serverGone;
}

/** Every CALL sent got its CALLRESULT, those cut by a deliberate drop left out. */
export function everyCallAnswered(t: TargetResult): boolean {
  return t.calls.sent > 0 && t.calls.answered === t.calls.sent - t.calls.cutByDrop;
}

export function roundOutcome(t: TargetResult): RoundOutcome {
  return {
    held: everyChargerHeld(t),
    answered: everyCallAnswered(t),
    unexpectedCloses: t.unexpectedCloses,
    unexpectedClosesByCode: t.unexpectedClosesByCode,
    failedByReason: t.failedByReason,
    ...(t.tcp ? { listenOverflows: t.tcp.listenOverflows } : {}),
    ...(t.storm?.tail ? { stormTail: t.storm.tail } : {}),
    ...(t.storm?.server ? { stormServer: t.storm.server } : {}),
  };
}

/** ` (by code 4000: 112, 1006: 3)`, the most frequent first, for the codes a round recorded; nothing without any. */
function byCode(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {}).sort(([a, m], [b, n]) => n - m || a.localeCompare(b));
  return entries.length === 0 ? '' : ` (by code ${entries.map(([code, n]) => `${code}: ${n}`).join(', ')})`;
}

/**
 * The gateway's guarantees over every round: the figures are judged on the median round, but a round that lost a
 * charger or a CALL is a failure whichever round it was.
 */
export function everyRoundCheck(record: RoundsRecord, kind: TargetKind): TargetCheck {
  // Numbered by round before the rounds without an outcome are left out, so "round 3" is the third round run.
  const numbered = record.rounds.map((r, i) => ({ i, o: r.outcomes?.[kind] })).filter((x): x is { i: number; o: RoundOutcome } => x.o !== undefined);
  const outcomes = numbered.map((x) => x.o);
  const bad = numbered
    .filter(({ o }) => !o.held || !o.answered || o.unexpectedCloses > 0)
    .map(
      ({ i, o }) =>
        `round ${i + 1}: ${[!o.held && 'not every charger held', !o.answered && 'not every CALL answered', o.unexpectedCloses > 0 && `${o.unexpectedCloses} unexpected closes${byCode(o.unexpectedClosesByCode)}`].filter(Boolean).join(', ')}`,
    );
  return {
    name: `every round: every charger held, every CALL answered, no unexpected close (${kind})`,
    target: `all ${record.rounds.length} rounds`,
    value: outcomes.length === 0 ? null : bad.length === 0 ? `${outcomes.length} of ${record.rounds.length} rounds` : bad.join('; '),
    pass: outcomes.length === record.rounds.length && bad.length === 0,
  };
}

/** The targets' order in round `round` (from 0): rotated left by that many places, so each round starts with the next one. */
export function roundOrder<T>(runs: readonly T[], round: number): T[] {
  const k = round % runs.length;
  return [...runs.slice(k), ...runs.slice(0, k)];
}

export function roundFigure(t: TargetResult, measure: RoundMeasure): number | null {
  if (measure === 'perCore') return usablePerCore(t);
  // A p99 over no steady CALL at all is no figure: such a round counts as the worst.
  if (measure === 'steadyP99') return t.steadyLatencyMs.count > 0 ? t.steadyLatencyMs.p99 : null;
  return t.storm?.allRebootedAfterSec ?? null;
}

/**
 * A target's median round by the measure, the run the scenario reports and checks. With an even count the worse of
 * the two middle ones; a round without a usable figure counts as the worst.
 */
export function medianRound(results: readonly TargetResult[], measure: RoundMeasure): TargetResult | null {
  if (results.length === 0) return null;
  const score = (t: TargetResult): number => {
    const v = roundFigure(t, measure);
    if (v === null) return Number.NEGATIVE_INFINITY;
    return measure === 'perCore' ? v : -v;
  };
  const bestFirst = [...results].sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    return sa === sb ? 0 : sa > sb ? -1 : 1;
  });
  return bestFirst[Math.floor(bestFirst.length / 2)];
}

export interface RunResult {
  mode: Mode;
  machine: MachineInfo;
  commit: string | null;
  dirty: boolean | null;
  dirtyPaths: string[];
  /** The exact argv of the benchmark process. */
  command: string[];
  /** How it was asked for, when through npm (e.g. "npm run bench -- --quick"). */
  invokedAs: string | null;
  startedAt: string;
  finishedAt: string;
  /** Stopped early by a signal: not used for BENCHMARKS.md. */
  interrupted: boolean;
  /**
   * Settings the gateway under test ran with beyond its defaults (`--gateway-env`): such a run measures those
   * settings, and is not used for BENCHMARKS.md. Absent when there were none.
   */
  gatewayEnv?: Record<string, string>;
  scenarios: ScenarioResult[];
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

function latency(l: LatencySummary): LatencyMs {
  return { count: l.count, p50: l.p50Ms, p90: l.p90Ms, p99: l.p99Ms, p999: l.p999Ms, max: l.maxMs };
}

export interface LateArrivals {
  chargers: number;
  booted: number;
  /** Seconds from their simulator's start until every one had its BootNotification accepted; null if some never did. */
  allBootedAfterSec: number | null;
  /** Opening handshakes that timed out (the simulator's limit), retries included. */
  handshakeTimeouts: number;
  failed: number;
  connectLatencyMs: { p50: number | null; p99: number | null; max: number | null };
}

/** What the late arrivals' simulator reported, as the results keep it. */
export function lateArrivalsOf(r: SimulationReport): LateArrivals {
  const c = r.connections;
  return {
    chargers: c.chargers,
    booted: c.booted,
    allBootedAfterSec: c.allBootedAfterSec,
    handshakeTimeouts: c.failedByReason['handshake-timeout'] ?? 0,
    failed: c.failed,
    connectLatencyMs: { p50: c.connectLatency.p50Ms, p99: c.connectLatency.p99Ms, max: c.connectLatency.maxMs },
  };
}

export interface DeriveExtras {
  kind: TargetKind;
  pid: number;
  exit: { code: number | null; signal: string | null };
  settled: SettledMemory | null;
  machineCpuPct: number | null;
  loadAverageBefore: number;
  benchCpuPct: number;
  tcp: TcpCounters | null;
  processes?: ProcessFigures[];
  deployment?: { workers: number; instances: string[] };
  services?: ServicesFigures;
  servicesSteady?: ServicesFigures;
  gatewayCounters?: GatewayCounters;
  lateArrivals?: LateArrivals;
}

/** The numbers a scenario compares, from one simulator report and what the benchmark measured around it. */
export function deriveResult(r: SimulationReport, x: DeriveExtras): TargetResult {
  const c = r.connections;
  const k = r.calls;
  const s = r.server;
  const expected = k.sent - k.cutByDrop;
  // Cluster targets: the server is every gateway worker (the simulator watched none of them).
  const workers = x.processes?.filter((p) => p.role.startsWith('gateway'));
  const serverCpu = s ? s.cpuAvgPercent : workers?.length ? round(workers.reduce((a, p) => a + (p.cpuPct ?? 0), 0)) : null;
  const simCpu = r.simulator.workers.reduce((a, w) => a + w.cpuAvgPercent, 0);
  return {
    kind: x.kind,
    pid: x.pid,
    exit: x.exit,
    serverGone: s?.gone ?? false,
    chargers: c.chargers,
    everConnected: c.everConnected,
    openAtEnd: c.openAtEnd,
    heldPct: round((c.openAtEnd / c.chargers) * 100, 3),
    allConnectedAfterSec: c.allConnectedAfterSec,
    failed: c.failed,
    failedByReason: c.failedByReason,
    unexpectedCloses: c.unexpectedCloses,
    unexpectedClosesByCode: c.unexpectedClosesByCode,
    droppedOnPurpose: c.droppedOnPurpose,
    calls: {
      sent: k.sent,
      answered: k.answered,
      answeredPct: expected > 0 ? round((k.answered / expected) * 100, 3) : 0,
      callErrors: k.callErrors,
      callErrorsByCode: k.callErrorsByCode,
      timedOut: k.timedOut,
      abortedByClose: k.abortedByClose,
      unansweredAtEnd: k.unansweredAtEnd,
      cutByDrop: k.cutByDrop,
    },
    latencyMs: latency(k.latency),
    steadyLatencyMs: latency(k.steadyLatency),
    callsPerSec: r.throughput.callsPerSec,
    msgsPerSec: r.throughput.msgsPerSec,
    serverCpuPct: serverCpu,
    serverCpuPeakPct: s ? s.cpuPeakPercent : null,
    msgsPerSecPerCore: serverCpu && serverCpu > 0 ? Math.round(r.throughput.msgsPerSec / (serverCpu / 100)) : null,
    rss: s ? { beforeMB: s.rssBeforeMB, loadedMB: s.rssLoadedMB, peakMB: s.rssPeakMB, perConnectionKB: s.rssPerConnectionKB } : null,
    settled: x.settled,
    storm: r.reconnectStorm,
    lateArrivals: x.lateArrivals ?? null,
    simulator: {
      bottleneck: r.simulator.bottleneck,
      notes: r.simulator.notes,
      workerCpuPct: r.simulator.workers.map((w) => w.cpuAvgPercent),
      workerLoopDelayP99Ms: r.simulator.workers.map((w) => w.loopDelayP99Ms),
    },
    machine: {
      cpuPct: x.machineCpuPct,
      // NATS and Redis are part of the deployment under test, not "other processes".
      otherCpuPct:
        x.machineCpuPct === null
          ? null
          : round(Math.max(0, x.machineCpuPct - (x.processes ? x.processes.reduce((a, p) => a + (p.cpuPct ?? 0), 0) : (serverCpu ?? 0)) - simCpu - x.benchCpuPct)),
      loadAverageBefore: round(x.loadAverageBefore, 2),
    },
    tcp: x.tcp,
    passed: r.passed,
    failures: r.failures,
    ...(x.processes ? { processes: x.processes } : {}),
    ...(x.deployment ? { deployment: x.deployment } : {}),
    ...(x.services ? { services: x.services } : {}),
    ...(x.servicesSteady ? { servicesSteady: x.servicesSteady } : {}),
    ...(x.gatewayCounters ? { gatewayCounters: x.gatewayCounters } : {}),
    report: r,
  };
}

/**
 * Messages per core-second of a target for a ratio: null when the simulator, not the server, was the bottleneck of its
 * run, since the figure then measures the load generator (the issue saw the raw baseline held to 69 % CPU that way).
 */
export function usablePerCore(t: TargetResult | null | undefined): number | null {
  if (!t || t.simulator.bottleneck) return null;
  return t.msgsPerSecPerCore;
}

function ratio(g: number | null | undefined, b: number | null | undefined, digits = 3): number | null {
  if (g === null || g === undefined || b === null || b === undefined || b === 0) return null;
  return round(g / b, digits);
}

/**
 * gateway / baseline for every figure the scenarios compare, and gateway / peer per core where the peer ran.
 * Per-core ratios are null (not used) when the simulator was the bottleneck of either run.
 */
export function ratios(b: TargetResult | null, g: TargetResult | null, peer: TargetResult | null = null): Record<string, number | null> {
  const perPeer: Record<string, number | null> =
    peer && g ? { peerMsgsPerSec: ratio(g.msgsPerSec, peer.msgsPerSec), peerMsgsPerSecPerCore: ratio(usablePerCore(g), usablePerCore(peer)) } : {};
  if (!b || !g) return perPeer;
  // No steady latency when not every charger connected: no ratio rather than a ratio to nothing.
  const steady = b.steadyLatencyMs.count > 0 && g.steadyLatencyMs.count > 0;
  const steadyRatio = (gv: number, bv: number): number | null => (steady ? ratio(gv, bv) : null);
  return {
    heldPct: ratio(g.heldPct, b.heldPct),
    answeredPct: ratio(g.calls.answeredPct, b.calls.answeredPct),
    p50: ratio(g.latencyMs.p50, b.latencyMs.p50),
    p99: ratio(g.latencyMs.p99, b.latencyMs.p99),
    p999: ratio(g.latencyMs.p999, b.latencyMs.p999),
    max: ratio(g.latencyMs.max, b.latencyMs.max),
    steadyP50: steadyRatio(g.steadyLatencyMs.p50, b.steadyLatencyMs.p50),
    steadyP99: steadyRatio(g.steadyLatencyMs.p99, b.steadyLatencyMs.p99),
    steadyP999: steadyRatio(g.steadyLatencyMs.p999, b.steadyLatencyMs.p999),
    steadyMax: steadyRatio(g.steadyLatencyMs.max, b.steadyLatencyMs.max),
    msgsPerSec: ratio(g.msgsPerSec, b.msgsPerSec),
    serverCpuPct: ratio(g.serverCpuPct, b.serverCpuPct),
    msgsPerSecPerCore: ratio(usablePerCore(g), usablePerCore(b)),
    rssPerConnection: ratio(g.rss?.perConnectionKB, b.rss?.perConnectionKB),
    settledRssPerConnection: ratio(g.settled?.perConnectionKB, b.settled?.perConnectionKB),
    allRebootedAfterSec: ratio(g.storm?.allRebootedAfterSec, b.storm?.allRebootedAfterSec),
    ...perPeer,
  };
}
