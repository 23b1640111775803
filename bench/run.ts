#!/usr/bin/env node
/**
 * The benchmark: `npm run bench` (every scenario, full size), `npm run bench -- --quick` (a few
 * minutes), `--scenario a,c` to pick. Each scenario runs against the raw baseline responder and
 * then the gateway, each a fresh process, never both at once; the results go to
 * bench/results/<ISO date>-<full|quick>.json and BENCHMARKS.md is rewritten.
 *
 * Live progress goes to stderr, the comparison and PASS/MISS per target to stdout. Exit code 0
 * whatever the targets say (a benchmark reports); 1 when the run itself broke; 2 for bad options.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { runSimulation } from '../src/sim/index.js';
import { DEFAULTS as SIM_DEFAULTS } from '../src/sim/options.js';
import { waitedPercent } from '../src/sim/proc-stats.js';
import { type CommandStats, runCommandRoundTrips } from './commands.js';
import { MachineLoad, machineInfo, sourceInfo, tcpCounters, tcpDelta } from './machine.js';
import { childPids, ProcessSampler, type WatchedProcess } from './process-sampler.js';
import {
  deriveResult,
  everyRoundCheck,
  type GatewayCounters,
  lateArrivalsOf,
  type Mode,
  medianRound,
  type RoundOutcome,
  type RoundsRecord,
  type RunResult,
  ratios,
  resultStamp,
  roundFigure,
  roundOrder,
  roundOutcome,
  type ScenarioResult,
  type SettledMemory,
  type TargetResult,
} from './results.js';
import { parseRounds, plan, SCENARIO_IDS, type ScenarioId, type ScenarioPlan } from './scenarios.js';
import { type ClusterServices, type ServicesSnapshot, servicesFigures, startClusterServices } from './services.js';
import { formatScenarioText, writeBenchmarksMd } from './summary.js';
import { httpText, isBaselineKind, parseGatewayEnv, REPO_ROOT, startTarget, type Target, type TargetKind } from './targets.js';

/** An absolute path inside the repository as a path relative to it; anything else as it is. */
function repoRelative(arg: string): string {
  if (!isAbsolute(arg)) return arg;
  const rel = relative(REPO_ROOT, arg);
  return rel.startsWith('..') || isAbsolute(rel) ? arg : rel;
}

const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const BENCHMARKS_MD = join(REPO_ROOT, 'BENCHMARKS.md');
const ANALYSIS_MD = join(REPO_ROOT, 'bench', 'analysis.md');
/** Pause between two target runs, so that the kernel has closed the previous run's sockets. */
const PAUSE_MS = 3000;
/** Above this CPU (percent of one core) used by other processes, a run's numbers are flagged. */
const OTHER_CPU_NOTE = 25;

const USAGE = `Usage: npm run bench [-- options]

  --quick                      the few-minute version of every scenario
  --scenario a,c               only these scenarios (${SCENARIO_IDS.join(', ')}; default all)
  --gateway-node-args="ARGS"   extra Node.js options for the gateway, e.g. --gateway-node-args="--cpu-prof --cpu-prof-dir=prof"
                               (with "=": a value that starts with "--" is otherwise taken for an option of its own)
  --rounds N                   rounds for the scenarios that run in rounds ((a) to (d); odd; default 3, and 1 for (a)
                               and (b) with --quick): a storm's time and a steady p99 move by 1.5-2x between rounds of
                               one server, and more rounds steady the median
  --gateway-env="A=1 B=2"      settings for the gateway under test by environment variable, e.g.
                               --gateway-env="ADMISSION_MAX_HANDSHAKES=8192" (recorded in the results; not used for BENCHMARKS.md)
  --help                       this text

Scenarios: (a) TC-E2E-04 12,000 chargers 10 min, (b) 19,000 chargers in one process, (c) flood,
(d) reconnect storm, (e) idle memory, each against the baseline responder and the gateway;
(f) 36,000 chargers on two cluster-mode workers, (g) event publishing with JetStream acknowledgements
(baseline, embedded bus, cluster mode), (h) command round trip to the same and to another instance,
(i) the reconnect storm of (d) over plain ws and over TLS with Basic auth (security profile 2).
(f)-(h) start a private nats-server -js and redis-server (NATS_SERVER_BIN, REDIS_SERVER_BIN to override).`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : 0;
}

/** A full GC in the target, a second to let it return memory, then its RSS. */
async function settledRss(collect: () => Promise<void>, pid: number): Promise<number> {
  await collect();
  await sleep(1000);
  return rssMB(pid);
}

interface RunContext {
  mode: Mode;
  signal: AbortSignal;
  gatewayNodeArgs: string[];
  gatewayEnv: Record<string, string>;
}

/** One scenario against one target: start it, run the simulator against it, stop it. */
async function runTarget(kind: TargetKind, p: ScenarioPlan, ctx: RunContext, extra: { withLateArrivals?: boolean } = {}): Promise<TargetResult> {
  const settle = p.settleAtSec !== undefined;
  log(`[${p.id} ${kind}] starting ${kind}${settle ? ' with the inspector (for forced GC)' : ''}`);
  const workers = kind === 'cluster' ? (p.clusterWorkers ?? 1) : 1;
  let services: ClusterServices | null = null;
  let target: Target | null = null;
  try {
    if (kind === 'cluster') {
      services = await startClusterServices();
      log(`[${p.id} ${kind}] private nats-server (pid ${services.natsPid}) at ${services.natsUrl}, redis-server (pid ${services.redisPid}) at ${services.redisUrl}`);
    }
    target = await startTarget(kind, {
      inspect: settle,
      nodeArgs: isBaselineKind(kind) ? [] : ctx.gatewayNodeArgs,
      gatewayEnv: ctx.gatewayEnv,
      ...(services ? { cluster: { natsUrl: services.natsUrl, redisUrl: services.redisUrl, podId: 'bench', workers }, timeoutMs: 60_000 } : {}),
      ...(kind === 'tls' ? { tlsFleet: fleetIdentities(p) } : {}),
    });
    return await loadTarget(kind, p, ctx, target, services, workers, extra.withLateArrivals === true);
  } finally {
    await target?.stop(5000);
    await services?.stop();
  }
}

/** The identities the simulator will give the scenario's chargers (its default prefix and first index). */
function fleetIdentities(p: ScenarioPlan): string[] {
  const prefix = p.sim.prefix ?? SIM_DEFAULTS.prefix;
  const first = p.sim.firstIndex ?? SIM_DEFAULTS.firstIndex;
  return Array.from({ length: p.sim.chargers }, (_, i) => `${prefix}${first + i}`);
}

/** A counter of the gateway's /metrics page by one label, e.g. connection attempts by outcome. */
function countsByLabel(metrics: string | null, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const line = new RegExp(`^${name}\\{[^}]*${label}="([^"]+)"[^}]*\\} ([0-9.e+]+)`, 'gm');
  for (const m of (metrics ?? '').matchAll(line)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

/** What the gateway itself counted during the run: every upgrade attempt by outcome (refusals included), TLS client errors, profiles. */
function gatewayCounters(metrics: string | null): GatewayCounters | null {
  if (metrics === null) return null;
  return {
    attemptsByOutcome: countsByLabel(metrics, 'ocpp_connection_attempts_total', 'outcome'),
    tlsClientErrorsByReason: countsByLabel(metrics, 'ocpp_tls_client_errors_total', 'reason'),
    acceptedByProfile: countsByLabel(metrics, 'ocpp_security_profile_connections_total', 'profile'),
  };
}

/** The processes of a cluster deployment: each gateway worker (or the single instance), NATS and Redis. */
function deploymentProcesses(target: Target, services: ClusterServices, workers: number): WatchedProcess[] {
  const gateway = workers > 1 ? childPids(target.pid).map((pid, i) => ({ role: `gateway worker ${i + 1}`, pid })) : [{ role: 'gateway', pid: target.pid }];
  return [...gateway, { role: 'nats-server', pid: services.natsPid }, { role: 'redis-server', pid: services.redisPid }];
}

/** Runs the simulator against a started target and derives its result (the target is stopped here, to read its exit). */
async function loadTarget(
  kind: TargetKind,
  p: ScenarioPlan,
  ctx: RunContext,
  target: Target,
  services: ClusterServices | null,
  workers: number,
  withLateArrivals: boolean,
): Promise<TargetResult> {
  const settle = p.settleAtSec !== undefined;
  const late = withLateArrivals ? p.lateArrivals : undefined;
  const sim = { ...p.sim, ...p.simFor?.[kind], ...(late ? { durationSec: late.loadSec } : {}) };
  log(`[${p.id} ${kind}] pid ${target.pid} on port ${target.port}; ${sim.chargers} chargers for ${sim.durationSec} s`);
  const settledBefore = settle ? await settledRss(target.collectGarbage, target.pid) : 0;
  const sampler = services ? new ProcessSampler(deploymentProcesses(target, services, workers)) : null;
  sampler?.markLoadStart();
  const servicesBefore = services ? await services.snapshot() : null;
  let servicesLoaded: Promise<ServicesSnapshot> | null = null;

  const machine = new MachineLoad();
  const tcpBefore = tcpCounters();
  const cpuAtStart = process.cpuUsage();
  let machineCpuPct: number | null = null;
  let benchCpuPct = 0;
  const measureMachine = (): void => {
    if (machineCpuPct !== null) return;
    sampler?.markLoaded();
    // Read while every charger is still connected: Redis then holds each one's claim.
    servicesLoaded ??= services?.snapshot() ?? null;
    servicesLoaded?.catch(() => {}); // read below
    machineCpuPct = machine.cpuPercent();
    const own = process.cpuUsage(cpuAtStart);
    benchCpuPct = Math.round(((own.user + own.system) / 1000 / Math.max(1, machine.elapsedSec * 1000)) * 1000) / 10;
  };
  const loadTimer = setTimeout(measureMachine, sim.durationSec * 1000);
  let servicesSteadyStart: Promise<ServicesSnapshot> | null = null;
  const steadyTimer =
    sampler && services && p.steadyFromSec !== undefined && p.steadyFromSec < sim.durationSec
      ? setTimeout(() => {
          sampler.markSteadyStart();
          servicesSteadyStart = services.snapshot();
          servicesSteadyStart.catch(() => {}); // read below
        }, p.steadyFromSec * 1000)
      : null;

  let settledLoaded: Promise<number> | null = null;
  const settleTimer = settle
    ? setTimeout(() => {
        settledLoaded = settledRss(target.collectGarbage, target.pid);
        settledLoaded.catch(() => {}); // read below
      }, p.settleAtSec! * 1000)
    : null;

  // Scenario c: the late chargers' own simulator, started into the load; its report is awaited after the main one.
  let lateRun: Promise<Awaited<ReturnType<typeof runSimulation>>> | null = null;
  const lateTimer = late
    ? setTimeout(() => {
        log(`[${p.id} ${kind}] ${late.sim.chargers} more chargers connect at once`);
        lateRun = runSimulation({
          ...late.sim,
          url: target.url,
          reportEverySec: ctx.mode === 'full' ? 10 : 5,
          log: (line) => log(`[${p.id} ${kind} late] ${line}`),
          signal: ctx.signal,
        });
        lateRun.catch(() => {}); // read below
      }, late.afterSec * 1000)
    : null;

  let report: Awaited<ReturnType<typeof runSimulation>>;
  try {
    report = await runSimulation({
      ...sim,
      url: target.url,
      ...(target.chargerAuth ? { password: target.chargerAuth.password, caFile: target.chargerAuth.caFile } : {}),
      // Several workers: the primary's own figures would say nothing; the sampler reads each worker.
      ...(workers > 1 ? {} : { serverPid: target.pid }),
      reportEverySec: ctx.mode === 'full' ? 10 : 5,
      log: (line) => log(`[${p.id} ${kind}] ${line}`),
      signal: ctx.signal,
    });
  } finally {
    clearTimeout(loadTimer);
    if (steadyTimer) clearTimeout(steadyTimer);
    if (settleTimer) clearTimeout(settleTimer);
    if (lateTimer) clearTimeout(lateTimer);
  }
  const lateReport = lateRun ? await (lateRun as Promise<Awaited<ReturnType<typeof runSimulation>>>) : null;
  measureMachine();
  const processes = sampler?.stop();
  const servicesAtLoad = servicesLoaded ? await (servicesLoaded as Promise<ServicesSnapshot>) : null;
  const servicesAtSteady = servicesSteadyStart ? await (servicesSteadyStart as Promise<ServicesSnapshot>) : null;
  const tcp = tcpDelta(tcpBefore, tcpCounters());

  let settled: SettledMemory | null = null;
  if (settledLoaded) {
    const loadedMB = await (settledLoaded as Promise<number>);
    const connections = report.connections.openAtEnd;
    settled = {
      beforeMB: settledBefore,
      loadedMB,
      connections,
      perConnectionKB: connections > 0 && loadedMB > settledBefore ? Math.round((((loadedMB - settledBefore) * 1024) / connections) * 100) / 100 : null,
    };
  }
  // A fresh process per target run: its counters are this run's. Read before it is stopped, with time to spare: just
  // after the simulator closed 19,000 TLS connections the gateway took more than 2 s to answer.
  const counters = p.readGatewayCounters && !isBaselineKind(kind) ? gatewayCounters(await httpText(target.adminPort, '/metrics', 30_000)) : null;
  const alive = target.alive();
  const exit = await target.stop();
  if (!alive) log(`[${p.id} ${kind}] the ${kind} process went away during the run:\n${target.output().join('\n')}`);
  else if (exit.code !== 0) log(`[${p.id} ${kind}] the ${kind} exited with ${exit.signal ?? exit.code} on SIGTERM:\n${target.output().slice(-10).join('\n')}`);
  return deriveResult(report, {
    kind,
    pid: target.pid,
    exit: { code: exit.code, signal: exit.signal },
    settled,
    machineCpuPct,
    loadAverageBefore: machine.loadAverageBefore,
    benchCpuPct,
    tcp,
    ...(counters ? { gatewayCounters: counters } : {}),
    ...(lateReport ? { lateArrivals: lateArrivalsOf(lateReport) } : {}),
    ...(servicesBefore && servicesAtLoad ? { services: servicesFigures(servicesBefore, servicesAtLoad) } : {}),
    ...(servicesAtSteady && servicesAtLoad ? { servicesSteady: servicesFigures(servicesAtSteady, servicesAtLoad) } : {}),
    ...(processes ? { processes, deployment: { workers, instances: workers > 1 ? Array.from({ length: workers }, (_, i) => `bench-w${i + 1}`) : ['bench'] } } : {}),
  });
}

/** `gateway_cluster_command_forwards_total` by outcome, from a Prometheus text page. */
function forwardCounts(metrics: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of (metrics ?? '').matchAll(/^gateway_cluster_command_forwards_total\{outcome="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/**
 * Scenario h: command round trips through one admin API, first against the embedded gateway (chargers on
 * it), then against two cluster instances A and B (chargers on each, every command sent through A's).
 */
async function runCommandScenario(p: ScenarioPlan, ctx: RunContext): Promise<CommandStats[]> {
  const c = p.commands!;
  const out: CommandStats[] = [];
  const common = { chargersPerSide: c.chargersPerSide, commandsPerSide: c.commandsPerSide, perSec: c.perSec, signal: ctx.signal };
  const embedded = await startTarget('gateway', { nodeArgs: ctx.gatewayNodeArgs, gatewayEnv: ctx.gatewayEnv });
  try {
    log(`[${p.id} gateway] pid ${embedded.pid} on port ${embedded.port}`);
    out.push(
      ...(await runCommandRoundTrips({
        ...common,
        adminPort: embedded.adminPort,
        sides: [{ where: 'embedded', url: embedded.url, prefix: 'CMD-E-' }],
        log: (line) => log(`[${p.id} gateway] ${line}`),
      })),
    );
  } finally {
    await embedded.stop(5000);
  }
  if (ctx.signal.aborted) return out;
  await sleep(PAUSE_MS);
  const services = await startClusterServices();
  const instances: Target[] = [];
  try {
    log(`[${p.id} cluster] private nats-server at ${services.natsUrl}, redis-server at ${services.redisUrl}`);
    for (const podId of ['bench-a', 'bench-b']) {
      instances.push(
        await startTarget('cluster', {
          nodeArgs: ctx.gatewayNodeArgs,
          gatewayEnv: ctx.gatewayEnv,
          cluster: { natsUrl: services.natsUrl, redisUrl: services.redisUrl, podId },
          timeoutMs: 60_000,
        }),
      );
    }
    const [a, b] = instances;
    log(`[${p.id} cluster] instance A pid ${a.pid} port ${a.port}, instance B pid ${b.pid} port ${b.port}`);
    const forwardsBefore = forwardCounts(await httpText(a.adminPort, '/metrics'));
    const stats = await runCommandRoundTrips({
      ...common,
      adminPort: a.adminPort,
      sides: [
        { where: 'same instance', url: a.url, prefix: 'CMD-A-' },
        { where: 'other instance', url: b.url, prefix: 'CMD-B-' },
      ],
      log: (line) => log(`[${p.id} cluster] ${line}`),
    });
    const forwardsAfter = forwardCounts(await httpText(a.adminPort, '/metrics'));
    const forwards: Record<string, number> = {};
    for (const [outcome, n] of Object.entries(forwardsAfter)) forwards[outcome] = n - (forwardsBefore[outcome] ?? 0);
    for (const st of stats) if (st.where === 'other instance') st.forwardsByOutcome = forwards;
    out.push(...stats);
  } finally {
    for (const t of instances) await t.stop(5000);
    await services.stop();
  }
  return out;
}

/** Every round's figure per target and the gateway's against the raw baseline's in the same round. */
function roundsNote(r: RoundsRecord): string {
  const what = r.measure === 'perCore' ? 'msgs per core-second' : r.measure === 'steadyP99' ? 'steady p99 round trip in ms' : 'seconds until every charger was back';
  const fig = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : v.toLocaleString('en-US'));
  const kinds = [...new Set(r.rounds.flatMap((x) => x.order))];
  const perKind = kinds.map((k) => `${k} ${r.rounds.map((x) => fig(x.figures[k])).join(' / ')}`).join('; ');
  const sameRound = r.rounds.map((x) => {
    const g = x.figures.gateway;
    const b = x.figures.baseline;
    return g !== null && g !== undefined && b !== null && b !== undefined && b > 0 ? `${(g / b).toFixed(2)}x` : 'n/a';
  });
  // A storm's time moves with the kernel's SYN retransmissions, by 1.5-2x between rounds of one server; the
  // listen-queue overflows of each round show how far each server kept up with the burst (bench/analysis.md).
  const overflows =
    r.measure === 'stormSec'
      ? `; listen-queue overflows by round: ${kinds.map((k) => `${k} ${r.rounds.map((x) => fig(x.outcomes?.[k]?.listenOverflows)).join(' / ')}`).join('; ')}` +
        `; the opening handshake of the last charger back, by round: ${kinds.map((k) => `${k} ${r.rounds.map((x) => lastHandshake(x.outcomes?.[k])).join(' / ')}`).join('; ')}` +
        `; the server's CPU from the drop until all were back, and the share of the time its main thread wanted a core and waited for one, by round: ${kinds.map((k) => `${k} ${r.rounds.map((x) => serverInStorm(x.outcomes?.[k])).join(' / ')}`).join('; ')}`
      : '';
  return (
    `run in ${r.rounds.length} round${r.rounds.length === 1 ? '' : 's'} (orders: ${r.rounds.map((x) => x.order.join(', ')).join(' | ')}); ${what} by round: ${perKind}${overflows}; ` +
    `gateway against the raw baseline within each round: ${sameRound.join(' / ')}. Each target's median round is the one reported and checked above`
  );
}

/** `3.02 s (TCP connect 3.01 s)`, `… after 1 failed attempt`: how the storm's last charger got back (`-` where not recorded). */
function lastHandshake(outcome: RoundOutcome | undefined): string {
  const last = outcome?.stormTail?.slowest.at(-1);
  if (last === undefined) return '-';
  const failed = Object.values(last.failures).reduce((a, b) => a + b, 0);
  const tcp = last.tcpConnectSec < 0 ? '' : ` (TCP connect ${last.tcpConnectSec} s)`;
  return `${last.connectSec} s${tcp}${failed > 0 ? ` after ${failed} failed attempt${failed === 1 ? '' : 's'}` : ''}`;
}

/** `4.12 s, waited 46 %`: the server's CPU in a storm and how much of its main thread's time it waited for a core (`-` where not recorded). */
function serverInStorm(outcome: RoundOutcome | undefined): string {
  const u = outcome?.stormServer;
  if (u === undefined) return '-';
  const share = waitedPercent(u);
  return `${u.cpuSec} s${share === null ? '' : `, waited ${share} %`}`;
}

function notesFor(s: ScenarioResult): string[] {
  const notes: string[] = [];
  for (const t of [s.baseline, s.peer ?? null, s.gateway, s.cluster ?? null, s.tls ?? null]) {
    if (!t) continue;
    if (t.simulator.bottleneck) {
      notes.push(
        `${t.kind}: the load generator (the simulator), not the server, was the bottleneck (${t.simulator.notes.join('; ')}); the ${t.kind}'s figures are a lower bound of what it can do, and its per-core ratios are n/a (not used)`,
      );
    }
    if (t.machine.otherCpuPct !== null && t.machine.otherCpuPct > OTHER_CPU_NOTE) {
      notes.push(`${t.kind}: other processes used ${t.machine.otherCpuPct} % of a core during the load (machine ${t.machine.cpuPct} %): the numbers may be distorted`);
    }
    if (t.serverGone) notes.push(`${t.kind}: the server process went away during the run`);
    else if (t.exit.code !== 0) notes.push(`${t.kind}: exited with ${t.exit.signal ?? t.exit.code} on SIGTERM instead of 0`);
    if (!t.passed) notes.push(`${t.kind}: ${t.failures.join('; ')}`);
    if (t.failed > 0) {
      const reasons = Object.entries(t.failedByReason)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const kernel =
        t.tcp && t.tcp.listenOverflows > 0
          ? `; meanwhile the kernel counted ${t.tcp.listenOverflows} accept-queue overflows, ${t.tcp.synRetransmits} SYN retransmits and ${t.tcp.syncookiesFailed} failed SYN cookies (the server took connections off its listen queue more slowly than they came)`
          : '';
      notes.push(`${t.kind}: ${t.failed} connection attempts failed (${reasons}) and were retried after the back-off${kernel}`);
    }
  }
  for (const t of s.id === 'c' ? [s.baseline, s.peer ?? null, s.gateway] : []) {
    if (t && t.everConnected < t.chargers) {
      notes.push(
        `${t.kind}: ${t.chargers - t.everConnected} chargers were still shaking hands at the end: Node.js accepts one ` +
          'connection per turn of its event loop, and a server that answers every ready charger in one turn makes turns long ' +
          '(the gateway bounds the answers per turn, src/ocpp/answer-turns.ts), so the flood ran with fewer chargers; its msgs/s is still the saturated rate',
      );
    }
  }
  if (s.rounds) notes.push(roundsNote(s.rounds));
  if (s.id === 'c' && s.baseline?.simulator.bottleneck && !s.gateway?.simulator.bottleneck) {
    notes.push('the baseline was held back by the simulator and the gateway was not: the plain msgs/s ratio flatters the gateway');
  }
  return notes;
}

async function main(): Promise<number> {
  let values: { quick?: boolean; scenario?: string; help?: boolean; rounds?: string; 'gateway-node-args'?: string; 'gateway-env'?: string };
  try {
    values = parseArgs({
      options: {
        quick: { type: 'boolean' },
        scenario: { type: 'string' },
        rounds: { type: 'string' },
        'gateway-node-args': { type: 'string' },
        'gateway-env': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let gatewayEnv: Record<string, string>;
  let roundsOption: number | undefined;
  try {
    gatewayEnv = parseGatewayEnv(values['gateway-env']);
    roundsOption = parseRounds(values.rounds);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const mode: Mode = values.quick ? 'quick' : 'full';
  const ids = (values.scenario ?? SCENARIO_IDS.join(','))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = ids.filter((id) => !SCENARIO_IDS.includes(id as ScenarioId));
  if (unknown.length || ids.length === 0) {
    process.stderr.write(`--scenario: unknown ${unknown.join(', ') || '(none given)'}; choose from ${SCENARIO_IDS.join(', ')}\n`);
    return 2;
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    if (++interrupts > 1) process.exit(130);
    log('stopping: the current run drains and closes, the rest is skipped (again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date();
  const source = sourceInfo();
  const npmArgs = process.env.npm_lifecycle_event === 'bench' ? process.argv.slice(2) : null;
  const run: RunResult = {
    mode,
    machine: machineInfo(),
    commit: source.commit,
    dirty: source.dirty,
    dirtyPaths: source.dirtyPaths,
    // Paths inside the repository are recorded relative to it: a result says what ran, not on whose disk.
    command: process.argv.map(repoRelative),
    invokedAs: npmArgs ? `npm run bench${npmArgs.length ? ` -- ${npmArgs.join(' ')}` : ''}` : null,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    interrupted: false,
    ...(Object.keys(gatewayEnv).length > 0 ? { gatewayEnv } : {}),
    scenarios: [],
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${resultStamp(startedAt)}-${mode}.json`);
  const save = (): void => {
    run.finishedAt = new Date().toISOString();
    writeFileSync(file, JSON.stringify(run, null, 2) + '\n');
  };

  const ctx: RunContext = {
    mode,
    signal: controller.signal,
    gatewayNodeArgs: values['gateway-node-args']?.split(/\s+/).filter(Boolean) ?? [],
    gatewayEnv,
  };
  log(`benchmark (${mode}): scenarios ${ids.join(', ')}; commit ${source.commit?.slice(0, 12) ?? '?'}${source.dirty ? ' (dirty)' : ''}; results ${file}`);
  let broke = false;
  for (const id of ids as ScenarioId[]) {
    if (controller.signal.aborted) break;
    const p = plan(id, mode, roundsOption);
    log(`== (${id}) ${p.name}`);
    const { check, ...rest } = p;
    const scenario: ScenarioResult = {
      id,
      name: p.name,
      description: p.description,
      params: {
        ...(p.commands ? { ...p.commands } : rest.sim),
        ...(p.settleAtSec !== undefined ? { settleAtSec: p.settleAtSec } : {}),
        ...(p.clusterWorkers !== undefined ? { clusterWorkers: p.clusterWorkers } : {}),
        ...(p.simFor ? { simFor: p.simFor } : {}),
        ...(p.rounds ? { rounds: p.rounds.count } : {}),
      },
      baseline: null,
      gateway: null,
      ...(p.runs?.includes('peer') ? { peer: null } : {}),
      ...(p.runs?.includes('cluster') ? { cluster: null } : {}),
      ...(p.runs?.includes('tls') ? { tls: null } : {}),
      ratios: {},
      targets: [],
      notes: [],
    };
    run.scenarios.push(scenario);
    try {
      if (p.commands) scenario.commands = await runCommandScenario(p, ctx);
      else {
        const runs = p.runs ?? ['baseline', 'gateway'];
        const roundCount = p.rounds?.count ?? 1;
        const byKind = new Map<TargetKind, TargetResult[]>(runs.map((k) => [k, []]));
        const record: RoundsRecord | null = p.rounds ? { measure: p.rounds.measure, rounds: [] } : null;
        for (let round = 0; round < roundCount && !controller.signal.aborted; round++) {
          const order = roundOrder(runs, round);
          const figures: RoundsRecord['rounds'][number]['figures'] = {};
          const outcomes: NonNullable<RoundsRecord['rounds'][number]['outcomes']> = {};
          for (const [i, kind] of order.entries()) {
            if (controller.signal.aborted) break;
            if (i > 0 || round > 0) await sleep(PAUSE_MS);
            if (record) log(`[${p.id} ${kind}] round ${round + 1} of ${roundCount}`);
            const result = await runTarget(kind, p, ctx);
            byKind.get(kind)?.push(result);
            if (record) {
              figures[kind] = roundFigure(result, record.measure);
              outcomes[kind] = roundOutcome(result);
            }
          }
          record?.rounds.push({ order, figures, outcomes });
        }
        for (const kind of runs) {
          const results = byKind.get(kind) ?? [];
          scenario[kind] = record ? medianRound(results, record.measure) : (results[0] ?? null);
        }
        if (record) scenario.rounds = record;
        // Chargers arriving during the load: a run of their own per target, so that their handshakes do not
        // distort the per-core figures of the runs above; only their figures are kept from it.
        for (const kind of p.lateArrivals?.runs ?? []) {
          const measured = scenario[kind];
          if (controller.signal.aborted || !measured) break;
          await sleep(PAUSE_MS);
          log(`[${p.id} ${kind}] again, with ${p.lateArrivals!.sim.chargers} more chargers arriving at ${p.lateArrivals!.afterSec} s`);
          measured.lateArrivals = (await runTarget(kind, p, ctx, { withLateArrivals: true })).lateArrivals;
        }
      }
    } catch (error) {
      broke = true;
      scenario.error = (error as Error)?.message ?? String(error);
      log(`(${id}) failed: ${(error as Error)?.stack ?? String(error)}`);
    }
    scenario.ratios = ratios(scenario.baseline, scenario.gateway, scenario.peer ?? null);
    scenario.targets = check(scenario.baseline, scenario.gateway, scenario.cluster ?? null, scenario.commands ?? [], scenario.tls ?? null, scenario.peer ?? null);
    if (scenario.rounds) scenario.targets.push(everyRoundCheck(scenario.rounds, 'gateway'));
    scenario.notes = notesFor(scenario);
    process.stdout.write(`\n${formatScenarioText(scenario)}\n`);
    save();
    if (!controller.signal.aborted) await sleep(PAUSE_MS);
  }

  run.interrupted = controller.signal.aborted;
  save();
  if (!run.interrupted) writeBenchmarksMd(RESULTS_DIR, BENCHMARKS_MD, ANALYSIS_MD);
  const checks = run.scenarios.flatMap((s) => s.targets.map((t) => ({ id: s.id, ...t })));
  process.stdout.write(
    `\n${checks.filter((c) => c.pass).length} of ${checks.length} targets met` +
      `${run.interrupted ? ' (interrupted: BENCHMARKS.md left as it was)' : '; BENCHMARKS.md rewritten'}; results in ${file}\n`,
  );
  for (const c of checks) process.stdout.write(`  ${c.pass ? 'PASS' : 'MISS'} (${c.id}) ${c.name}: ${c.value ?? 'n/a'} (target ${c.target})\n`);
  if (run.interrupted) return 130;
  return broke ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
