/**
 * The simulation report: built from the workers' final counters and the server samples, printed as
 * a human summary, written as JSON, and judged (pass/fail for --require-all, and whether the
 * simulator itself was the bottleneck, which would make the server's numbers meaningless).
 */
import { Histogram, type HistogramData, type LatencySummary, summarizeMicros } from './histogram.js';
import { type CountMap, mergeMetrics, type SelfSample, type WorkerSnapshot } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import { type ProcessSample, type ServerClockReading, type ServerUsage, serverUsageBetween, waitedPercent } from './proc-stats.js';

/** Above this average CPU (percent of one core) a worker was likely saturated. */
export const SELF_CPU_LIMIT = 85;
/** Above this average event-loop delay p99 a worker was late sending and timing. */
export const SELF_LAG_LIMIT_MS = 50;

export interface WorkerSelfReport {
  index: number;
  pid: number;
  chargers: number;
  cpuAvgPercent: number;
  cpuPeakPercent: number;
  /** Mean of the per-second event-loop delay p99s. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  rssPeakMB: number;
  /** False when the worker died before reporting its final counters. */
  finished: boolean;
}

export interface ServerReport {
  pid: number;
  samples: number;
  rssBeforeMB: number;
  /** RSS at the end of the load window, with the simulator's connections still open. */
  rssLoadedMB: number;
  rssPeakMB: number;
  /** (RSS loaded - RSS before) / connections open at the end of the load. */
  rssPerConnectionKB: number | null;
  cpuAvgPercent: number;
  cpuPeakPercent: number;
  threads: number;
  /** The process disappeared during the run. */
  gone: boolean;
}

export interface ReconnectStormReport {
  /** When the drop happened, seconds from the start; null when it never did (--drop-after-boot and not every charger booted). */
  atSec: number | null;
  /** Open sockets cut at the drop. */
  dropped: number;
  /** Dropped chargers whose BootNotification was accepted again. */
  rebooted: number;
  /** Seconds from the drop until every dropped charger had booted again; null if some never did. */
  allRebootedAfterSec: number | null;
  /** Admission limit after the drop (connections per second over all workers); null: none. */
  rampPerSec: number | null;
  /**
   * What the storm's time is made of (absent in reports of earlier versions). How long the last chargers take sets
   * it, and that depends on what each met on its way back: a refusal or failure means a back-off and a new attempt;
   * an opening handshake of a second or more means a wait in the server's kernel or in the server (see `slowest`).
   */
  tail?: StormTail;
  /**
   * With --server-pid: what the server got from the machine from the drop until every charger was back (the window
   * of the two readings, 100 ms apart, that enclose it), its CPU and how long its main thread ran and waited for a
   * core. Null when not every charger came back or the readings do not cover the storm; absent in earlier reports.
   */
  server?: ServerUsage | null;
}

export interface StormTail {
  /** Seconds from the drop until this share of the dropped chargers had booted again. */
  backAfterSec: { p50: number; p90: number; p99: number };
  /** Chargers that booted again only after at least one failed attempt, and by reason (each charger once per reason). */
  backAfterFailure: number;
  backAfterFailureByReason: CountMap;
  /** The last chargers back (at most 20), the last one last. */
  slowest: Array<{ afterSec: number; attempts: number; failures: CountMap; connectSec: number; tcpConnectSec: number }>;
}

export interface SimulationReport {
  startedAt: string;
  finishedAt: string;
  /** The load window (ramp included): from the first connection attempt to the start of the drain. */
  loadSec: number;
  /** Whole run: load, drain and closing. */
  elapsedSec: number;
  options: Omit<ResolvedOptions, 'password'> & { password?: string };
  workers: number;
  connections: {
    chargers: number;
    attempted: number;
    opened: number;
    failed: number;
    failedByReason: CountMap;
    /** Chargers that were open at least once. */
    everConnected: number;
    /** Chargers whose BootNotification was accepted at least once. */
    booted: number;
    openAtEnd: number;
    /** Handshakes still in progress when the run ended. */
    connectingAtEnd: number;
    peakOpen: number;
    unexpectedCloses: number;
    unexpectedClosesByCode: CountMap;
    /** Sockets the simulator cut itself (--drop-all-at): not unexpected closes. */
    droppedOnPurpose: number;
    reconnects: number;
    /** Connections retried on another source port after a local port clash (not failures). */
    portRetries: number;
    /** Seconds from start until every charger had been open; null if some never were. */
    allConnectedAfterSec: number | null;
    /** Seconds from start until every charger's BootNotification had been accepted; null if some never was. */
    allBootedAfterSec: number | null;
    connectLatency: LatencySummary;
    /** Opening handshakes of the connections made after the drop (the reconnect storm) only; absent without a drop. */
    stormConnectLatency?: LatencySummary;
  };
  calls: {
    sent: number;
    answered: number;
    callErrors: number;
    callErrorsByCode: CountMap;
    timedOut: number;
    abortedByClose: number;
    unansweredAtEnd: number;
    /** Outstanding when the simulator cut the socket on purpose (--drop-all-at). */
    cutByDrop: number;
    unmatchedResponses: number;
    malformedFrames: number;
    byAction: CountMap;
    latency: LatencySummary;
    /** Calls answered after every charger (of its worker) had connected: the steady load without the ramp. */
    steadyLatency: LatencySummary;
  };
  throughput: {
    callsPerSec: number;
    /** WebSocket messages per second, both directions. */
    msgsPerSec: number;
    sentPerSec: number;
    receivedPerSec: number;
    framesSent: number;
    framesReceived: number;
  };
  centralSystem: {
    callsReceived: number;
    answered: number;
    callErrors: number;
    callErrorsByCode: CountMap;
    byAction: CountMap;
  };
  /** With --drop-all-at: every open socket cut at once, and the fleet coming back. */
  reconnectStorm: ReconnectStormReport | null;
  server: ServerReport | null;
  simulator: {
    workers: WorkerSelfReport[];
    /** The simulator itself was saturated: the server's numbers are a lower bound of what it can do. */
    bottleneck: boolean;
    notes: string[];
  };
  /** Every charger connected and still open at the end, every CALL answered with a CALLRESULT. */
  passed: boolean;
  failures: string[];
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
const mb = (bytes: number): number => round(bytes / 1048576, 1);

function selfReport(w: WorkerSnapshot, index: number, finished: boolean): WorkerSelfReport {
  const hist: SelfSample[] = w.selfHistory.length ? w.selfHistory : [w.self];
  const avg = (f: (s: SelfSample) => number): number => hist.reduce((a, s) => a + f(s), 0) / hist.length;
  return {
    index,
    pid: w.pid,
    chargers: w.chargers,
    cpuAvgPercent: round(avg((s) => s.cpuPercent)),
    cpuPeakPercent: round(Math.max(...hist.map((s) => s.cpuPercent))),
    loopDelayP99Ms: round(
      avg((s) => s.loopP99Ms),
      2,
    ),
    loopDelayMaxMs: round(Math.max(...hist.map((s) => s.loopMaxMs)), 2),
    rssPeakMB: mb(Math.max(...hist.map((s) => s.rssBytes))),
    finished,
  };
}

export interface ReportInput {
  options: ResolvedOptions;
  startedAt: Date;
  finishedAt: Date;
  loadMs: number;
  /** Final snapshot per worker (or the last one seen when a worker died). */
  snapshots: WorkerSnapshot[];
  serverPid?: number;
  serverSamples: ProcessSample[];
  /** Index in serverSamples of the last sample taken within the load window. */
  serverLoadedIndex: number;
  serverGone: boolean;
  /** With --server-pid and a storm: the server's clocks read around the storm (StormServerClock). */
  serverClock?: ServerClockReading[];
}

export function buildReport(input: ReportInput): SimulationReport {
  const o = input.options;
  const { data: m, latency, steadyLatency, connectLatency, stormConnectLatency, stormBack } = mergeMetrics(input.snapshots.map((s) => s.metrics));
  const loadSec = Math.max(0.001, input.loadMs / 1000);

  let server: ServerReport | null = null;
  if (input.serverPid !== undefined) {
    const samples = input.serverSamples;
    const before = samples[0]?.rssBytes ?? 0;
    const loadedSample = samples[Math.min(input.serverLoadedIndex, samples.length - 1)];
    const loaded = loadedSample?.rssBytes ?? 0;
    const window = samples.slice(1, input.serverLoadedIndex + 1);
    server = {
      pid: input.serverPid,
      samples: samples.length,
      rssBeforeMB: mb(before),
      rssLoadedMB: mb(loaded),
      rssPeakMB: mb(Math.max(0, ...samples.map((s) => s.rssBytes))),
      // A fall (the server collected garbage from before the run) says nothing per connection.
      rssPerConnectionKB: m.openAtEnd > 0 && loaded > before ? round((loaded - before) / 1024 / m.openAtEnd, 2) : null,
      cpuAvgPercent: window.length ? round(window.reduce((a, s) => a + s.cpuPercent, 0) / window.length) : 0,
      cpuPeakPercent: round(Math.max(0, ...window.map((s) => s.cpuPercent))),
      threads: loadedSample?.threads ?? 0,
      gone: input.serverGone,
    };
  }

  const workers = input.snapshots.map((s, i) => selfReport(s, i, s.final));
  const notes: string[] = [];
  for (const w of workers) {
    if (!w.finished) notes.push(`worker ${w.index} (pid ${w.pid}) ended without its final report: counters are from its last snapshot`);
    if (w.cpuAvgPercent >= SELF_CPU_LIMIT) {
      notes.push(`worker ${w.index} averaged ${w.cpuAvgPercent}% CPU (limit ${SELF_CPU_LIMIT}%): the simulator was the bottleneck; add workers or cores`);
    }
    if (w.loopDelayP99Ms >= SELF_LAG_LIMIT_MS) {
      notes.push(
        `worker ${w.index} event-loop delay p99 averaged ${w.loopDelayP99Ms} ms (limit ${SELF_LAG_LIMIT_MS} ms): latencies include the simulator's own lateness`,
      );
    }
  }
  const bottleneck = workers.some((w) => w.cpuAvgPercent >= SELF_CPU_LIMIT || w.loopDelayP99Ms >= SELF_LAG_LIMIT_MS);

  const failures: string[] = [];
  if (m.everConnected < o.chargers) failures.push(`${o.chargers - m.everConnected} of ${o.chargers} chargers never connected`);
  if (m.openAtEnd < o.chargers) failures.push(`${o.chargers - m.openAtEnd} of ${o.chargers} chargers were not connected at the end`);
  if (m.connectingAtEnd > 0) failures.push(`${m.connectingAtEnd} handshakes were still in progress at the end`);
  if (m.failed > 0) failures.push(`${m.failed} connection attempts failed`);
  if (m.unexpectedCloses > 0) failures.push(`${m.unexpectedCloses} connections closed unexpectedly`);
  if (m.callsSent === 0) failures.push('no CALL was sent');
  if (m.callErrors > 0) failures.push(`${m.callErrors} CALLs were answered with CALLERROR`);
  if (m.callsTimedOut > 0) failures.push(`${m.callsTimedOut} CALLs timed out`);
  if (m.callsAborted > 0) failures.push(`${m.callsAborted} CALLs were cut off by a closing connection`);
  if (m.callsUnansweredAtEnd > 0) failures.push(`${m.callsUnansweredAtEnd} CALLs were still unanswered at the end`);
  if (m.callsAnswered + m.callErrors + m.callsTimedOut + m.callsAborted + m.callsUnansweredAtEnd + m.callsCutByDrop !== m.callsSent) {
    failures.push('CALL accounting does not add up (sent != answered + errors + timed out + aborted + unanswered + cut by the drop)');
  }
  let reconnectStorm: ReconnectStormReport | null = null;
  const storming = o.dropAllAtMs !== null || o.dropAfterAllBootedMs !== null;
  if (storming) {
    const done = m.allRebootedAtMs >= 0 && m.rebooted === m.dropped && m.droppedAtMs >= 0;
    const atMs = o.dropAllAtMs ?? (m.droppedAtMs >= 0 ? m.droppedAtMs : null);
    const droppedAtEpochMs = m.droppedAtEpochMs ?? -1;
    const server =
      input.serverPid === undefined
        ? undefined
        : done && droppedAtEpochMs >= 0
          ? serverUsageBetween(input.serverClock ?? [], droppedAtEpochMs, droppedAtEpochMs + m.allRebootedAtMs)
          : null;
    reconnectStorm = {
      atSec: atMs === null ? null : round(atMs / 1000, 3),
      dropped: m.dropped,
      rebooted: m.rebooted,
      allRebootedAfterSec: done ? round(m.allRebootedAtMs / 1000, 3) : null,
      rampPerSec: o.dropRampPerSec > 0 ? o.dropRampPerSec : null,
      tail: {
        backAfterSec: {
          p50: round(stormBack.quantile(0.5) / 1e6, 3),
          p90: round(stormBack.quantile(0.9) / 1e6, 3),
          p99: round(stormBack.quantile(0.99) / 1e6, 3),
        },
        backAfterFailure: m.stormBackAfterFailure,
        backAfterFailureByReason: m.stormBackAfterFailureByReason,
        slowest: m.stormSlowest.map((s) => ({
          afterSec: round(s.afterMs / 1000, 3),
          attempts: s.attempts,
          failures: s.failures,
          connectSec: round(s.lastConnectMs / 1000, 3),
          tcpConnectSec: round((s.lastTcpConnectMs ?? -1) / 1000, 3),
        })),
      },
      ...(server !== undefined ? { server } : {}),
    };
    if (o.dropAllAtMs !== null && input.loadMs >= o.dropAllAtMs && m.dropped === 0) failures.push('the drop found no open socket to cut');
    if (o.dropAfterAllBootedMs !== null && m.droppedAtMs < 0) failures.push('not every charger booted, so the drop never happened');
    if (m.rebooted < m.dropped) failures.push(`${m.dropped - m.rebooted} of ${m.dropped} dropped chargers did not boot again`);
  }

  const { password, ...rest } = o;
  return {
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    loadSec: round(loadSec, 3),
    elapsedSec: round((input.finishedAt.getTime() - input.startedAt.getTime()) / 1000, 3),
    options: password === undefined ? rest : { ...rest, password: '***' },
    workers: input.snapshots.length,
    connections: {
      chargers: o.chargers,
      attempted: m.attempted,
      opened: m.opened,
      failed: m.failed,
      failedByReason: m.failedByReason,
      everConnected: m.everConnected,
      booted: m.booted,
      openAtEnd: m.openAtEnd,
      connectingAtEnd: m.connectingAtEnd,
      peakOpen: m.peakOpen,
      unexpectedCloses: m.unexpectedCloses,
      unexpectedClosesByCode: m.unexpectedClosesByCode,
      droppedOnPurpose: m.dropped,
      reconnects: m.reconnects,
      portRetries: m.portRetries,
      allConnectedAfterSec: m.allOpenAtMs >= 0 && m.everConnected === o.chargers ? round(m.allOpenAtMs / 1000, 3) : null,
      allBootedAfterSec: m.allBootedAtMs >= 0 && m.booted === o.chargers ? round(m.allBootedAtMs / 1000, 3) : null,
      connectLatency: summarizeMicros(connectLatency),
      ...(storming ? { stormConnectLatency: summarizeMicros(stormConnectLatency) } : {}),
    },
    calls: {
      sent: m.callsSent,
      answered: m.callsAnswered,
      callErrors: m.callErrors,
      callErrorsByCode: m.callErrorsByCode,
      timedOut: m.callsTimedOut,
      abortedByClose: m.callsAborted,
      unansweredAtEnd: m.callsUnansweredAtEnd,
      cutByDrop: m.callsCutByDrop,
      unmatchedResponses: m.unmatchedResponses,
      malformedFrames: m.malformedFrames,
      byAction: sortedCounts(m.callsByAction),
      latency: summarizeMicros(latency),
      steadyLatency: summarizeMicros(steadyLatency),
    },
    throughput: {
      callsPerSec: round(m.callsSent / loadSec),
      msgsPerSec: round((m.framesSent + m.framesReceived) / loadSec),
      sentPerSec: round(m.framesSent / loadSec),
      receivedPerSec: round(m.framesReceived / loadSec),
      framesSent: m.framesSent,
      framesReceived: m.framesReceived,
    },
    centralSystem: {
      callsReceived: m.csCallsReceived,
      answered: m.csCallsAnswered,
      callErrors: m.csCallErrors,
      callErrorsByCode: m.csCallErrorsByCode,
      byAction: sortedCounts(m.csCallsByAction),
    },
    reconnectStorm,
    server,
    simulator: { workers, bottleneck, notes },
    passed: failures.length === 0,
    failures,
  };
}

function sortedCounts(map: CountMap): CountMap {
  return Object.fromEntries(Object.entries(map).sort((a, b) => b[1] - a[1]));
}

function counts(map: CountMap): string {
  const entries = Object.entries(map);
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : '-';
}

const pct = (part: number, whole: number): string => (whole === 0 ? '-' : `${((part / whole) * 100).toFixed(3)} %`);

function latencyLine(l: LatencySummary): string {
  return `p50 ${l.p50Ms}  p90 ${l.p90Ms}  p99 ${l.p99Ms}  p99.9 ${l.p999Ms}  max ${l.maxMs} ms (n ${l.count})`;
}

/** The human summary printed at the end of a run. */
export function formatSummary(r: SimulationReport): string {
  const c = r.connections;
  const k = r.calls;
  const lines: string[] = [];
  const o = r.options;
  lines.push(
    `OCPP simulation: ${c.chargers} chargers (${o.protocol}) -> ${o.url}, ${r.workers} process(es), ` +
      `${r.loadSec} s load, ${o.flood ? 'flood' : o.callsPerMinute > 0 ? `${o.callsPerMinute} calls/min each` : 'idle after boot'}`,
  );
  lines.push(
    `connections  attempted ${c.attempted}  opened ${c.opened}  failed ${c.failed}  open at end ${c.openAtEnd}/${c.chargers}` +
      `${c.connectingAtEnd ? ` (+${c.connectingAtEnd} still connecting)` : ''}  ` +
      `peak ${c.peakOpen}  all connected after ${c.allConnectedAfterSec === null ? 'never' : `${c.allConnectedAfterSec} s`}` +
      `  all booted after ${c.allBootedAfterSec === null ? 'never' : `${c.allBootedAfterSec} s`}`,
  );
  lines.push(`             failed by reason: ${counts(c.failedByReason)}`);
  lines.push(
    `             unexpected closes ${c.unexpectedCloses} by code: ${counts(c.unexpectedClosesByCode)}  reconnects ${c.reconnects}  booted ${c.booted}` +
      `${c.portRetries ? `  source-port retries ${c.portRetries}` : ''}${c.droppedOnPurpose ? `  dropped on purpose ${c.droppedOnPurpose}` : ''}`,
  );
  lines.push(`             handshake ${latencyLine(c.connectLatency)}`);
  if (c.stormConnectLatency) lines.push(`             handshake after the drop ${latencyLine(c.stormConnectLatency)}`);
  lines.push(
    `calls        sent ${k.sent}  answered ${k.answered} (${pct(k.answered, k.sent)})  CALLERROR ${k.callErrors}  ` +
      `timed out ${k.timedOut}  cut by close ${k.abortedByClose}  unanswered at end ${k.unansweredAtEnd}` +
      `${k.cutByDrop ? `  cut by the drop ${k.cutByDrop}` : ''}`,
  );
  lines.push(`             CALLERROR by code: ${counts(k.callErrorsByCode)}  unmatched answers ${k.unmatchedResponses}  malformed frames ${k.malformedFrames}`);
  lines.push(`             latency ${latencyLine(k.latency)}`);
  lines.push(`             steady  ${latencyLine(k.steadyLatency)} (after all connected)`);
  lines.push(`             by action: ${counts(k.byAction)}`);
  lines.push(
    `throughput   ${r.throughput.callsPerSec} calls/s, ${r.throughput.msgsPerSec} msgs/s ` +
      `(sent ${r.throughput.sentPerSec}/s, received ${r.throughput.receivedPerSec}/s)`,
  );
  const st = r.reconnectStorm;
  if (st) {
    lines.push(
      `storm        at ${st.atSec === null ? 'never' : `${st.atSec} s`}: dropped ${st.dropped}, booted again ${st.rebooted}, all booted again after ` +
        `${st.allRebootedAfterSec === null ? 'never' : `${st.allRebootedAfterSec} s`} (admission ${st.rampPerSec === null ? 'unlimited' : `${st.rampPerSec}/s`})`,
    );
    if (st.tail && st.rebooted > 0) lines.push(`storm tail   ${stormTailLine(st.tail)}`);
    if (st.server) lines.push(`storm server ${stormServerLine(st.server)}`);
  }
  const cs = r.centralSystem;
  lines.push(
    `central sys  CALLs received ${cs.callsReceived}, answered ${cs.answered}, CALLERROR ${cs.callErrors} (${counts(cs.callErrorsByCode)}); ${counts(cs.byAction)}`,
  );
  if (r.server) {
    const s = r.server;
    lines.push(
      `server       pid ${s.pid}: RSS before ${s.rssBeforeMB} MB, loaded ${s.rssLoadedMB} MB, peak ${s.rssPeakMB} MB, ` +
        `${s.rssPerConnectionKB === null ? '-' : s.rssPerConnectionKB} KB per open connection; CPU avg ${s.cpuAvgPercent} % peak ${s.cpuPeakPercent} %` +
        `${s.gone ? ' (process went away)' : ''}`,
    );
  }
  for (const w of r.simulator.workers) {
    lines.push(
      `simulator    #${w.index} pid ${w.pid} (${w.chargers} chargers): CPU avg ${w.cpuAvgPercent} % peak ${w.cpuPeakPercent} %, ` +
        `loop delay p99 ${w.loopDelayP99Ms} ms max ${w.loopDelayMaxMs} ms, RSS peak ${w.rssPeakMB} MB`,
    );
  }
  for (const n of r.simulator.notes) lines.push(`note         ${n}`);
  lines.push(r.passed ? 'result       every charger connected, every CALL answered' : `result       ${r.failures.join('; ')}`);
  return lines.join('\n');
}

/** State kept between live lines, to print rates and latencies of the last interval. */
export interface ProgressState {
  atMs: number;
  callsSent: number;
  frames: number;
  latency: HistogramData | null;
}

/** One live progress line (stderr) from the workers' latest snapshots. */
export function formatProgress(
  elapsedMs: number,
  chargers: number,
  snapshots: WorkerSnapshot[],
  prev: ProgressState,
  server: ProcessSample | null,
): { line: string; state: ProgressState } {
  const { data: m, latency } = mergeMetrics(snapshots.map((s) => s.metrics));
  const dt = Math.max(0.001, (elapsedMs - prev.atMs) / 1000);
  const interval = prev.latency ? Histogram.difference(latency.toJSON(), prev.latency) : latency;
  const frames = m.framesSent + m.framesReceived;
  const parts = [
    `[${(elapsedMs / 1000).toFixed(1).padStart(6)}s]`,
    `open ${m.open}/${chargers}${m.connecting ? ` (+${m.connecting})` : ''}`,
    `fail ${m.failed}`,
    `closed ${m.unexpectedCloses}`,
    `| calls ${m.callsSent} ${Math.round((m.callsSent - prev.callsSent) / dt)}/s`,
    `msgs ${Math.round((frames - prev.frames) / dt)}/s`,
    `err ${m.callErrors} t/o ${m.callsTimedOut}`,
    ...(m.dropped > 0 ? [`| storm booted ${m.rebooted}/${m.dropped}`] : []),
    `| p50 ${round(interval.quantile(0.5) / 1000, 2)} p99 ${round(interval.quantile(0.99) / 1000, 2)} max ${round(interval.max / 1000, 1)} ms`,
  ];
  if (server) parts.push(`| server ${mb(server.rssBytes)} MB ${server.cpuPercent} %`);
  parts.push(`| sim ${snapshots.map((s) => `${Math.round(s.self.cpuPercent)}%`).join(',')} lag ${Math.max(0, ...snapshots.map((s) => s.self.loopP99Ms))} ms`);
  return {
    line: parts.join(' '),
    state: { atMs: elapsedMs, callsSent: m.callsSent, frames, latency: latency.toJSON() },
  };
}

/**
 * `back after p50 1.2 s, p90 3.4 s, p99 6.1 s; 310 back after a failed attempt (http-503 300, closed-1006 10); the
 * last 20 (7.9-11.4 s): 12 after a failed attempt, 6 with a handshake of 1 s or more (up to 3.02 s, of which the TCP
 * connect up to 3.01 s), 2 neither`.
 */
/** `in 6.6 s from the drop: CPU 4.1 s; its main thread ran 3.2 s and waited 2.9 s for a core (47 % of the time it wanted one)`. */
export function stormServerLine(u: ServerUsage): string {
  const share = waitedPercent(u);
  const main =
    u.mainThreadRanSec === null || u.mainThreadWaitedSec === null
      ? ''
      : `; its main thread ran ${u.mainThreadRanSec} s and waited ${u.mainThreadWaitedSec} s for a core` +
        (share === null ? '' : ` (${share} % of the time it wanted one)`);
  return `in the ${u.windowSec} s around the storm: CPU ${u.cpuSec} s${main}`;
}

export function stormTailLine(t: StormTail): string {
  const b = t.backAfterSec;
  const failed = t.slowest.filter((s) => Object.keys(s.failures).length > 0).length;
  const slowConnects = t.slowest.filter((s) => Object.keys(s.failures).length === 0 && s.connectSec >= 1);
  const slowConnect = slowConnects.length;
  const longest =
    slowConnect > 0
      ? ` (up to ${Math.max(...slowConnects.map((s) => s.connectSec))} s, of which the TCP connect up to ${Math.max(...slowConnects.map((s) => s.tcpConnectSec))} s)`
      : '';
  const first = t.slowest[0];
  const last = t.slowest[t.slowest.length - 1];
  const range = first && last ? ` (${first.afterSec}-${last.afterSec} s)` : '';
  return (
    `back after p50 ${b.p50} s, p90 ${b.p90} s, p99 ${b.p99} s; ${t.backAfterFailure} back after a failed attempt` +
    `${t.backAfterFailure > 0 ? ` (${counts(t.backAfterFailureByReason)})` : ''}; the last ${t.slowest.length}${range}: ` +
    `${failed} after a failed attempt, ${slowConnect} with a handshake of 1 s or more${longest}, ${t.slowest.length - failed - slowConnect} neither`
  );
}
