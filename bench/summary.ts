/**
 * Presents results: the per-scenario comparison (console and markdown), and BENCHMARKS.md rebuilt
 * from the latest full and the latest quick run in bench/results/.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult, ScenarioResult, TargetResult } from './results.js';
import { CORE_SCENARIO_IDS, plan, SCENARIO_IDS } from './scenarios.js';

/** A table of any width: a header row, then rows of cells. */
type Table = string[][];

const num = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
const ratio = (r: number | null | undefined): string => (r === null || r === undefined ? '-' : `${r.toFixed(2)}x`);

function latencyCell(t: TargetResult | null, steady: boolean): string {
  if (!t) return '-';
  const l = steady ? t.steadyLatencyMs : t.latencyMs;
  if (l.count === 0) return '-';
  return `${num(l.p50, 2)} / ${num(l.p99, 2)} / ${num(l.p999, 2)} / ${num(l.max, 1)}`;
}

function latencyRatio(s: ScenarioResult, steady: boolean): string {
  const r = s.ratios;
  const keys = steady ? ['steadyP50', 'steadyP99', 'steadyP999', 'steadyMax'] : ['p50', 'p99', 'p999', 'max'];
  if (keys.every((k) => r[k] === null || r[k] === undefined)) return '-';
  return keys.map((k) => (r[k] === null || r[k] === undefined ? '-' : r[k]!.toFixed(2))).join(' / ');
}

/**
 * Messages per core-second of a target, with a word when it is not used for a ratio: a run the simulator held back
 * measures the load generator, not the server.
 */
function perCoreCell(t: TargetResult): string {
  return `${num(t.msgsPerSecPerCore, 0)}${t.simulator.bottleneck && t.msgsPerSecPerCore !== null ? ' (simulator bottleneck: not used)' : ''}`;
}

/** A per-core ratio, or why there is none. */
function perCoreRatio(r: number | null | undefined, a: TargetResult | null | undefined, b: TargetResult | null | undefined): string {
  if (a?.simulator.bottleneck || b?.simulator.bottleneck) return 'n/a (simulator bottleneck)';
  return ratio(r);
}

/**
 * The comparison rows of one scenario: label, baseline, [peer,] gateway, gateway / baseline[, gateway / peer].
 * The peer's columns are there only when the scenario ran it.
 */
export function scenarioRows(s: ScenarioResult): string[][] {
  const b = s.baseline;
  const g = s.gateway;
  const withPeer = s.peer !== undefined;
  const peer = s.peer ?? null;
  const rows: string[][] = [];
  const add = (label: string, f: (t: TargetResult) => string, vsBaseline = '', vsPeer = ''): void => {
    const cells = (withPeer ? [b, peer, g] : [b, g]).map((t) => (t ? f(t) : '-'));
    rows.push(withPeer ? [label, ...cells, vsBaseline, vsPeer] : [label, ...cells, vsBaseline]);
  };
  const toPeer = (gv: number | null | undefined, pv: number | null | undefined): string =>
    gv === null || gv === undefined || pv === null || pv === undefined || pv === 0 ? '-' : `${(gv / pv).toFixed(2)}x`;
  add('connections held', (t) => `${t.heldPct.toFixed(3)} % (${t.openAtEnd}/${t.chargers})`, ratio(s.ratios.heldPct));
  add('CALLs answered', (t) => `${t.calls.answeredPct.toFixed(3)} % (${t.calls.answered}/${t.calls.sent - t.calls.cutByDrop})`, ratio(s.ratios.answeredPct));
  add('CALLERROR / timed out', (t) => `${t.calls.callErrors} / ${t.calls.timedOut}`);
  add('connect failures', (t) => String(t.failed));
  add('unexpected closes', (t) => String(t.unexpectedCloses));
  add(
    'round trip p50 / p99 / p99.9 / max, ms (all)',
    (t) => latencyCell(t, false),
    latencyRatio(s, false),
    withPeer ? `p99 ${toPeer(g?.latencyMs.p99, peer?.latencyMs.p99)}` : '',
  );
  add('round trip p50 / p99 / p99.9 / max, ms (steady)', (t) => latencyCell(t, true), latencyRatio(s, true));
  add('msgs/s (both ways)', (t) => num(t.msgsPerSec, 0), ratio(s.ratios.msgsPerSec), ratio(s.ratios.peerMsgsPerSec));
  add('server CPU, % of one core', (t) => num(t.serverCpuPct), ratio(s.ratios.serverCpuPct), toPeer(g?.serverCpuPct, peer?.serverCpuPct));
  add(
    'msgs per server core-second (msgs/s ÷ server CPU)',
    perCoreCell,
    perCoreRatio(s.ratios.msgsPerSecPerCore, g, b),
    withPeer ? perCoreRatio(s.ratios.peerMsgsPerSecPerCore, g, peer) : '',
  );
  add('server RSS before / loaded / peak, MB', (t) => (t.rss ? `${t.rss.beforeMB} / ${t.rss.loadedMB} / ${t.rss.peakMB}` : '-'));
  add('RSS per connection, KB', (t) => num(t.rss?.perConnectionKB, 2), ratio(s.ratios.rssPerConnection));
  if (b?.settled || g?.settled) {
    add(
      'settled RSS per connection, KB (after full GC)',
      (t) => (t.settled ? `${num(t.settled.perConnectionKB, 2)} (${t.settled.beforeMB} → ${t.settled.loadedMB} MB)` : '-'),
      ratio(s.ratios.settledRssPerConnection),
    );
  }
  if (b?.storm || g?.storm) {
    add(
      'storm: all booted again after',
      (t) =>
        t.storm
          ? t.storm.allRebootedAfterSec === null
            ? `never (${t.storm.rebooted}/${t.storm.dropped})`
            : `${t.storm.allRebootedAfterSec} s (${t.storm.rebooted}/${t.storm.dropped})`
          : '-',
      ratio(s.ratios.allRebootedAfterSec),
    );
  }
  if (b?.lateArrivals || g?.lateArrivals) {
    add('late arrivals: all booted after / handshake p50, p99 / timeouts', (t) =>
      t.lateArrivals
        ? `${t.lateArrivals.allBootedAfterSec === null ? `never (${t.lateArrivals.booted}/${t.lateArrivals.chargers})` : `${t.lateArrivals.allBootedAfterSec} s`} / ` +
          `${num(t.lateArrivals.connectLatencyMs.p50)}, ${num(t.lateArrivals.connectLatencyMs.p99)} ms / ${t.lateArrivals.handshakeTimeouts}`
        : '-',
    );
  }
  add('kernel: accept-queue overflows / SYN retransmits / failed SYN cookies', (t) =>
    t.tcp ? `${t.tcp.listenOverflows} / ${t.tcp.synRetransmits} / ${t.tcp.syncookiesFailed}` : '-',
  );
  add('simulator CPU per worker, %', (t) => t.simulator.workerCpuPct.join(', ') + (t.simulator.bottleneck ? ' (bottleneck)' : ''));
  add('machine CPU / other processes, % of one core', (t) => `${num(t.machine.cpuPct)} / ${num(t.machine.otherCpuPct)}`);
  return rows;
}

const TARGET_LABELS = { baseline: 'baseline', gateway: 'gateway, embedded bus', cluster: 'gateway, cluster mode' } as const;

/** Scenarios f and g: one column per target that ran (baseline, embedded gateway, cluster mode). */
export function clusterTable(s: ScenarioResult): Table {
  const present = (['baseline', 'gateway', 'cluster'] as const).filter((k) => s[k]);
  const ts = present.map((k) => s[k] as TargetResult);
  const row = (label: string, f: (t: TargetResult) => string): string[] => [label, ...ts.map(f)];
  const rows: Table = [['', ...present.map((k) => TARGET_LABELS[k])]];
  const c = s.cluster ?? null;
  if (c?.deployment) {
    rows.push(row('gateway processes', (t) => (t.deployment ? `${t.deployment.workers} (${t.deployment.instances.join(', ')})` : t.kind === 'baseline' ? '-' : '1')));
  }
  rows.push(row('connections held', (t) => `${t.heldPct.toFixed(3)} % (${t.openAtEnd}/${t.chargers})`));
  rows.push(row('CALLs answered', (t) => `${t.calls.answeredPct.toFixed(3)} % (${t.calls.answered}/${t.calls.sent - t.calls.cutByDrop})`));
  rows.push(row('CALLERROR / timed out', (t) => `${t.calls.callErrors} / ${t.calls.timedOut}`));
  rows.push(row('connect failures / unexpected closes', (t) => `${t.failed} / ${t.unexpectedCloses}`));
  rows.push(row('all connected after, s', (t) => num(t.allConnectedAfterSec)));
  rows.push(row('round trip p50 / p99 / p99.9 / max, ms (all)', (t) => latencyCell(t, false)));
  rows.push(row('round trip p50 / p99 / p99.9 / max, ms (steady)', (t) => latencyCell(t, true)));
  rows.push(row('CALLs/s', (t) => num(t.callsPerSec, 0)));
  rows.push(row('msgs/s (both ways)', (t) => num(t.msgsPerSec, 0)));
  rows.push(row('server CPU, % of one core (all gateway processes)', (t) => num(t.serverCpuPct)));
  rows.push(row('msgs per server core-second (msgs/s ÷ server CPU)', perCoreCell));
  rows.push(row('server RSS before / loaded / peak, MB', (t) => (t.rss ? `${t.rss.beforeMB} / ${t.rss.loadedMB} / ${t.rss.peakMB}` : '-')));
  for (const proc of c?.processes ?? []) {
    rows.push(
      row(`${proc.role}: RSS before / loaded / peak MB, CPU % (steady), open files`, (t) =>
        t === c
          ? `${proc.rssBeforeMB} / ${proc.rssLoadedMB} / ${proc.rssPeakMB}, ${num(proc.cpuPct)} %${proc.cpuSteadyPct != null ? ` (${num(proc.cpuSteadyPct)} %)` : ''}, ` +
            `${proc.openFilesLoaded ?? '-'}${proc.gone ? ' (gone)' : ''}`
          : '',
      ),
    );
  }
  const st = c?.services?.stream;
  if (st) {
    rows.push(
      row('events stream at the end of the load: events, bytes, bytes per event, events/s', (t) =>
        t === c ? `${num(st.messages, 0)}, ${num(st.bytes, 0)}, ${num(st.bytesPerEvent, 0)}, ${num(st.eventsPerSec, 0)}` : '',
      ),
    );
  }
  const rd = c?.services?.redis;
  if (rd) {
    const top = Object.entries(rd.commandCalls)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    rows.push(
      row('Redis at the end of the load: keys, used memory before / loaded MB, commands/s (top commands)', (t) =>
        t === c ? `${num(rd.keysLoaded, 0)}, ${rd.usedMemoryBeforeMB} / ${rd.usedMemoryLoadedMB}, ${num(rd.commandsPerSec, 0)} (${top})` : '',
      ),
    );
  }
  const steady = c?.servicesSteady;
  if (steady?.stream || steady?.redis) {
    rows.push(
      row('steady part only: events/s stored, Redis commands/s', (t) =>
        t === c ? `${num(steady.stream?.eventsPerSec, 0)}, ${num(steady.redis?.commandsPerSec, 0)}` : '',
      ),
    );
  }
  rows.push(row('simulator CPU per worker, %', (t) => t.simulator.workerCpuPct.join(', ') + (t.simulator.bottleneck ? ' (bottleneck)' : '')));
  rows.push(row('machine CPU / other processes, % of one core', (t) => `${num(t.machine.cpuPct)} / ${num(t.machine.otherCpuPct)}`));
  return rows;
}

/** Scenario h: one row per place the charger was. */
export function commandTable(s: ScenarioResult): Table {
  const rows: Table = [['charger', 'chargers', 'completed / sent', 'round trip p50 / p90 / p99 / max, ms', 'failed (HTTP status: count)', 'forwards counted by A']];
  for (const c of s.commands ?? []) {
    const l = c.latencyMs;
    const failed = Object.entries(c.failedByStatus)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    const forwards = c.forwardsByOutcome
      ? Object.entries(c.forwardsByOutcome)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '0'
      : '-';
    rows.push([
      c.where,
      String(c.chargers),
      `${c.completed} / ${c.sent}`,
      l.count ? `${num(l.p50, 2)} / ${num(l.p90, 2)} / ${num(l.p99, 2)} / ${num(l.max, 1)}` : '-',
      failed || '0',
      forwards,
    ]);
  }
  return rows;
}

const counts = (m: Record<string, number> | undefined): string =>
  m && Object.keys(m).length
    ? Object.entries(m)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '0';

/** Quantiles of a latency summary of the simulator's report (ms): p50 / p99 / p99.9 / max. */
function handshakeCell(l: { count: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number } | undefined): string {
  if (!l || l.count === 0) return '-';
  return `${num(l.p50Ms, 2)} / ${num(l.p99Ms, 2)} / ${num(l.p999Ms, 2)} / ${num(l.maxMs, 1)} (${num(l.count, 0)})`;
}

function ratioOf(a: number | null | undefined, b: number | null | undefined): string {
  return a === null || a === undefined || b === null || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;
}

/** Scenario i: the same storm over plain ws and over TLS with Basic auth, side by side, with TLS / plain. */
export function tlsStormTable(s: ScenarioResult): Table {
  const p = s.gateway ?? null;
  const t = s.tls ?? null;
  const rows: Table = [['', 'gateway, plain ws (profile 0)', 'gateway, TLS + Basic auth (profile 2)', 'TLS / plain']];
  const row = (label: string, f: (x: TargetResult) => string, r = ''): void => {
    rows.push([label, p ? f(p) : '-', t ? f(t) : '-', r]);
  };
  const stormHs = (x: TargetResult | null) => x?.report.connections.stormConnectLatency;
  const allHs = (x: TargetResult | null) => x?.report.connections.connectLatency;
  row('connections held', (x) => `${x.heldPct.toFixed(3)} % (${x.openAtEnd}/${x.chargers})`);
  row('start: ramp, new connections/s (reconnects included)', (x) => num(x.report.options.rampPerSec, 0));
  row('all connected at the start after, s (cold)', (x) => num(x.allConnectedAfterSec), ratioOf(t?.allConnectedAfterSec, p?.allConnectedAfterSec));
  row(
    'storm: all booted again after',
    (x) =>
      x.storm
        ? x.storm.allRebootedAfterSec === null
          ? `never (${x.storm.rebooted}/${x.storm.dropped})`
          : `${x.storm.allRebootedAfterSec} s (${x.storm.rebooted}/${x.storm.dropped}, drop at ${x.storm.atSec} s)`
        : '-',
    ratioOf(t?.storm?.allRebootedAfterSec, p?.storm?.allRebootedAfterSec),
  );
  row(
    'storm handshake p50 / p99 / p99.9 / max, ms (handshakes)',
    (x) => handshakeCell(stormHs(x)),
    stormHs(p)?.count && stormHs(t)?.count ? `${ratioOf(stormHs(t)?.p50Ms, stormHs(p)?.p50Ms)} / ${ratioOf(stormHs(t)?.p99Ms, stormHs(p)?.p99Ms)}` : '-',
  );
  row('handshake over the whole run, ms (cold start included)', (x) => handshakeCell(allHs(x)));
  row('connect failures (by reason)', (x) => `${x.failed} (${counts(x.failedByReason)})`);
  row('unexpected closes (by code)', (x) => `${x.unexpectedCloses}${x.unexpectedCloses ? ` (${counts(x.unexpectedClosesByCode)})` : ''}`);
  row('gateway: upgrade attempts by outcome', (x) => (x.gatewayCounters ? counts(x.gatewayCounters.attemptsByOutcome) : '-'));
  row('gateway: TLS client errors by reason', (x) => (x.gatewayCounters ? counts(x.gatewayCounters.tlsClientErrorsByReason) : '-'));
  row('CALLs answered', (x) => `${x.calls.answeredPct.toFixed(3)} % (${x.calls.answered}/${x.calls.sent - x.calls.cutByDrop})`);
  row('CALLERROR / timed out', (x) => `${x.calls.callErrors} / ${x.calls.timedOut}`);
  row('server CPU avg / peak, % of one core', (x) => `${num(x.serverCpuPct)} / ${num(x.serverCpuPeakPct)}`, ratioOf(t?.serverCpuPct, p?.serverCpuPct));
  row('msgs/s; msgs per server core-second', (x) => `${num(x.msgsPerSec, 0)}; ${perCoreCell(x)}`);
  row('server RSS before / loaded / peak, MB', (x) => (x.rss ? `${x.rss.beforeMB} / ${x.rss.loadedMB} / ${x.rss.peakMB}` : '-'));
  row('RSS per connection, KB', (x) => num(x.rss?.perConnectionKB, 2), ratioOf(t?.rss?.perConnectionKB, p?.rss?.perConnectionKB));
  row('kernel: accept-queue overflows / SYN retransmits / failed SYN cookies', (x) =>
    x.tcp ? `${x.tcp.listenOverflows} / ${x.tcp.synRetransmits} / ${x.tcp.syncookiesFailed}` : '-',
  );
  row('simulator CPU per worker, %', (x) => x.simulator.workerCpuPct.join(', ') + (x.simulator.bottleneck ? ' (bottleneck)' : ''));
  row('machine CPU / other processes, % of one core', (x) => `${num(x.machine.cpuPct)} / ${num(x.machine.otherCpuPct)}`);
  return rows;
}

/** The table a scenario is shown with: baseline against gateway (a-e), per target (f, g), per place (h), plain against TLS (i). */
function tableOf(s: ScenarioResult): Table {
  if (s.commands) return commandTable(s);
  if (s.tls !== undefined) return tlsStormTable(s);
  if (s.cluster !== undefined) return clusterTable(s);
  const header =
    s.peer !== undefined
      ? ['', 'raw baseline', 'peer (ocpp-rpc strict)', 'gateway', 'gateway / raw', 'gateway / peer']
      : ['', 'baseline', 'gateway', 'gateway / baseline'];
  return [header, ...scenarioRows(s)];
}

/** Plain-text table for the console. */
export function formatScenarioText(s: ScenarioResult): string {
  const lines = [`(${s.id}) ${s.name}`];
  if (s.error) lines.push(`  ERROR: ${s.error}`);
  const rows = tableOf(s);
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) lines.push(`  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')}`);
  for (const t of s.targets) lines.push(`  ${t.pass ? 'PASS' : 'MISS'} ${t.name}: ${t.value ?? 'n/a'} (target ${t.target})`);
  for (const n of s.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function scenarioMarkdown(s: ScenarioResult): string {
  const lines = [`### (${s.id}) ${s.name}`, ''];
  if (s.error) lines.push(`**The scenario did not complete:** ${cell(s.error)}`, '');
  const [header, ...rows] = tableOf(s);
  lines.push(`|${header.map((h) => (h === '' ? ' ' : ` ${cell(h)} `)).join('|')}|`, `|${header.map(() => '---|').join('')}`);
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  lines.push('');
  for (const n of s.notes) lines.push(`- ${cell(n)}`);
  if (s.notes.length) lines.push('');
  return lines.join('\n');
}

function runMarkdown(run: RunResult | null, mode: 'full' | 'quick', file: string | null): string {
  const title = mode === 'full' ? '## Latest full run' : '## Latest quick run';
  if (!run) {
    return `${title}\n\n_None recorded yet: \`npm run bench${mode === 'quick' ? ' -- --quick' : ''}\`._\n`;
  }
  const m = run.machine;
  const minutes = Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 6000) / 10;
  const lines = [
    title,
    '',
    `- When: ${run.startedAt} (${minutes} min)`,
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node.js ${m.node}, ` +
      `${m.openFilesLimit ?? '?'} open files per process, somaxconn ${m.somaxconn ?? '?'}`,
    `- Commit: \`${run.commit ?? 'unknown'}\`${run.dirty ? ` with uncommitted changes (${run.dirtyPaths.join(', ')})` : run.dirty === false ? ' (clean tree)' : ''}`,
    `- Command: \`${run.invokedAs ?? run.command.join(' ')}\` (argv: \`${run.command.join(' ')}\`)`,
    `- Results: \`${file}\``,
    '',
    '| scenario | target | goal | measured | |',
    '|---|---|---|---|---|',
  ];
  for (const s of run.scenarios) {
    if (s.error) lines.push(`| (${s.id}) | did not complete | | ${cell(s.error)} | **MISS** |`);
    for (const t of s.targets) {
      lines.push(`| (${s.id}) | ${cell(t.name)} | ${cell(t.target)} | ${cell(String(t.value ?? 'n/a'))} | **${t.pass ? 'PASS' : 'MISS'}** |`);
    }
  }
  lines.push('');
  for (const s of run.scenarios) lines.push(scenarioMarkdown(s));
  return lines.join('\n');
}

/**
 * The newest complete (not interrupted) run of a mode in the results folder, made with the gateway's own settings,
 * with its file name. With
 * `allScenarios`, only runs that cover every single-process scenario (a-e) count, so re-running one scenario,
 * or running the cluster scenarios alone, does not hide the rest.
 */
function latest(dir: string, mode: 'full' | 'quick', allScenarios = false): { run: RunResult; file: string } | null {
  return runsOf(dir, mode).find((r) => !allScenarios || CORE_SCENARIO_IDS.every((id) => r.run.scenarios.some((s) => s.id === id))) ?? null;
}

/** Every complete run of a mode, newest first. */
function runsOf(dir: string, mode: 'full' | 'quick'): Array<{ run: RunResult; file: string }> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(`-${mode}.json`));
  } catch {
    return [];
  }
  const runs: Array<{ run: RunResult; file: string }> = [];
  for (const f of files) {
    try {
      const run = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunResult;
      // A run with settings of its own (--gateway-env) measured those settings, not the gateway as it ships.
      if (!run.interrupted && run.mode === mode && Object.keys(run.gatewayEnv ?? {}).length === 0) runs.push({ run, file: f });
    } catch {
      // not a result file
    }
  }
  runs.sort((a, b) => Date.parse(b.run.startedAt) - Date.parse(a.run.startedAt));
  return runs;
}

function methodMarkdown(): string {
  const lines = [
    '## Method',
    '',
    'Every scenario runs against each of its targets in the same benchmark run (two, three for the flood), one after the other and never two at once, each on a ' +
      'fresh process started for it on a free loopback port:',
    '',
    '- **baseline**: `bench/baseline/responder.ts`, a raw `ws` server that answers every CALL with a fixed CALLRESULT, ' +
      'parsing the JSON of each frame and reading nothing but the message id and action from it (no validation, no state). ' +
      'It is the least any OCPP-J server can do on this machine with this Node.js.',
    '- **peer** (scenario c): `bench/baseline/ocpp-rpc-peer.ts`, an OCPP server on the `ocpp-rpc` library in strict mode ' +
      '(`strictMode: true`: every CALL and every answer it gives checked against the OCPP 1.6 / 2.0.1 schemas), answering ' +
      'each action the simulator sends with a fixed, schema-valid payload and doing nothing else (no events, no metrics): ' +
      'what a well-known library that validates costs, run between the raw baseline and the gateway.',
    '- **gateway**: `node dist/src/main.js` with its built-in defaults (an empty `CONFIG_DIR`): strict JSON-schema ' +
      'validation of every CALL, events published on the embedded bus and acknowledged before the charger is answered, ' +
      'the keepalive sweep, admin API and metrics on; `LOG_LEVEL=warn`, `SHUTDOWN_DRAIN_MS=0`.',
    '- **gateway, cluster mode** (scenarios f-h): the same, plus `NATS_URL`, `REDIS_URL` and `POD_ID` pointing at a ' +
      'private `nats-server -js` (storage in a temp dir) and a private `redis-server` (no persistence) that the benchmark ' +
      'starts on free ports for each target run and stops after it, and `WORKERS` where the scenario says. Events are ' +
      'stored in JetStream before a charger is answered; each connection is claimed in Redis. NATS and Redis share the ' +
      "machine's two cores with the gateway and the simulator; their RSS and CPU are reported per process.",
    '- **gateway, TLS + Basic auth** (scenario i): the same gateway with the plain port off (`SERVER_PLAIN_ENABLED=false`), ' +
      'chargers on `TLS_PORT` with a server certificate made for the run, and a `CREDENTIALS_FILE` holding every charger of ' +
      'the scenario pinned to security profile 2 (`ALLOW_UNKNOWN_CHARGERS=false`); the files live in a temp dir removed after the run.',
    '',
    'Both face exactly the same simulator options. Measuring the baseline minutes apart on the same machine turns every ' +
      "figure into a ratio that says what the gateway's own work costs, largely independent of how fast or how busy the " +
      'machine happens to be. The simulator (`src/sim`, `npm run sim -- --help`) runs in worker processes on the same ' +
      'two cores as the server: it reports its own CPU and event-loop delay and says when it, not the server, was the ' +
      'bottleneck. The "other processes" CPU is what the whole machine used (from `/proc/stat`) beyond the server, ' +
      'the simulator and the benchmark itself: when it is high, something else was running and the numbers are distorted. ' +
      "The kernel's TCP counters (accept-queue overflows, SYN retransmits, failed SYN cookies; machine-wide, from " +
      '`/proc/net/netstat`) show a server that takes new connections off its listen queue more slowly than they arrive.',
    '',
    'Per core: *msgs per server core-second* = msgs/s ÷ (server CPU % / 100), reported for every scenario and target, ' +
      'since on two shared cores a server that gets less CPU (the simulator taking the rest) also answers fewer messages; the ' +
      "flood's targets compare it. When the simulator reports itself the bottleneck of a run, that run's per-core figure is " +
      'marked and its ratios are n/a (not used): they would measure the load generator.',
    '',
    'What the figures mean: *connections held* = chargers still connected at the end / chargers; *CALLs answered* = ' +
      "CALLRESULTs / CALLs sent (calls cut by the storm's deliberate drop left out); *unexpected closes* = sockets the " +
      'simulator did not close itself; round trips are measured by the simulator from send to answer, *steady* being the ' +
      "CALLs answered after every charger had connected (without the ramp's boot storm); *server CPU* and *RSS* come from " +
      '`/proc/<pid>` once a second; *RSS per connection* = (RSS at the end of the load − RSS before the first connection) ' +
      '/ connections open.',
    '',
    'Scenarios (full size; `--quick` in brackets):',
    '',
  ];
  for (const id of SCENARIO_IDS) {
    const full = plan(id, 'full');
    const quick = plan(id, 'quick');
    const upTo = quick.sim.endAfterStormSec !== undefined ? 'at most ' : '';
    const size = quick.commands
      ? `${quick.commands.commandsPerSide} commands per side to ${quick.commands.chargersPerSide} chargers each`
      : `${quick.sim.chargers.toLocaleString('en-US')} chargers, ${upTo}${quick.sim.durationSec} s`;
    lines.push(`- **(${id}) ${full.name}** [quick: ${size}]. ` + `${full.description}`);
  }
  lines.push(
    '',
    'Reproduce: `npm run bench` (every scenario, about 50 minutes), `npm run bench -- --quick` (a few minutes), ' +
      '`npm run bench -- --scenario a,c` to pick scenarios (`--scenario i`: about 25 minutes at full size, most of it the TLS ' +
      "fleet's cold start, one scrypt verify per charger; `--quick --scenario i` about 6). " +
      'Each run writes `bench/results/<ISO date>-<full|quick>.json` ' +
      "(machine, commit, exact command, every number and the simulator's full reports) and rewrites this file from the " +
      'latest full and quick runs. `npm run bench -- --gateway-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles ' +
      'the gateway during the scenarios.',
    '',
    'Quick runs are short: their p99s rest on few samples and a single hiccup moves them several fold between runs; ' + 'judge latency on a full run.',
    '',
    'A benchmark reports; it does not fail the build. A target marked MISS comes with the numbers that miss it.',
    '',
  );
  return lines.join('\n');
}

/** Rewrites BENCHMARKS.md from the results folder, with the hand-written findings of `analysisFile` when it exists. */
export function writeBenchmarksMd(resultsDir: string, outFile: string, analysisFile?: string): void {
  const full = latest(resultsDir, 'full', true);
  const quick = latest(resultsDir, 'quick', true) ?? latest(resultsDir, 'quick');
  // Runs of some scenarios after the latest run of all of a-e (a re-run after a fix, the cluster
  // scenarios alone), shown in their own sections, oldest first.
  const later = (mode: 'full' | 'quick', main: { run: RunResult } | null): Array<{ run: RunResult; file: string }> =>
    runsOf(resultsDir, mode)
      .filter((r) => main !== null && Date.parse(r.run.startedAt) > Date.parse(main.run.startedAt))
      .reverse();
  const section = (r: { run: RunResult; file: string }, mode: 'full' | 'quick'): string => {
    const ids = r.run.scenarios.map((sc) => `(${sc.id})`).join(', ');
    const rerun = r.run.scenarios.every((sc) => CORE_SCENARIO_IDS.includes(sc.id as (typeof CORE_SCENARIO_IDS)[number]));
    const title =
      mode === 'full' ? (rerun ? `## Full-size re-run of scenario ${ids} after the full run` : `## Full-size run of scenario ${ids}`) : `## Quick run of scenario ${ids}`;
    return runMarkdown(r.run, mode, `bench/results/${r.file}`).replace(mode === 'full' ? '## Latest full run' : '## Latest quick run', title);
  };
  const analysis = analysisFile && existsSync(analysisFile) ? readFileSync(analysisFile, 'utf8').trim() + '\n' : '';
  const text = [
    '# Benchmarks',
    '',
    'Rewritten by `npm run bench` from the newest results in `bench/results/`; edit `bench/summary.ts` and',
    '`bench/analysis.md`, not this file. What is measured and how: [Method](#method); what limits the gateway: [Findings](#findings).',
    '',
    runMarkdown(full?.run ?? null, 'full', full ? `bench/results/${full.file}` : null),
    ...later('full', full).map((r) => section(r, 'full')),
    runMarkdown(quick?.run ?? null, 'quick', quick ? `bench/results/${quick.file}` : null),
    ...later('quick', quick).map((r) => section(r, 'quick')),
    analysis,
    methodMarkdown(),
  ].join('\n');
  writeFileSync(outFile, text.replace(/\n{3,}/g, '\n\n'));
}
