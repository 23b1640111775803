#!/usr/bin/env node
/**
 * Command line of the charge point simulator / load generator:
 *   npm run sim -- --url ws://127.0.0.1:8080/ocpp --chargers 2000 --duration 30
 * Live lines go to stderr, the summary to stdout, the full report to --json FILE.
 * Exit code: 0; 1 when --require-all is given and the run was not clean; 2 on bad options.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULTS, type ProtocolChoice, type SimulationOptions } from './options.js';
import { formatSummary, type SimulationReport } from './report.js';
import { runSimulation } from './run.js';

interface OptionSpec {
  type: 'string' | 'boolean';
  arg?: string;
  help: string;
}

/** Every option, once: parseArgs is configured from it and --help printed from it. */
const SPEC: Record<string, OptionSpec> = {
  url: { type: 'string', arg: 'URL', help: 'central system endpoint; each charger appends /<identity> (required)' },
  chargers: { type: 'string', arg: 'N', help: `number of simulated chargers (default ${DEFAULTS.chargers})` },
  protocol: { type: 'string', arg: 'P', help: `1.6 | 2.0.1 | mix (alternate) | both (offer both, 2.0.1 first) (default ${DEFAULTS.protocol})` },
  prefix: { type: 'string', arg: 'S', help: `identity prefix: identities are <prefix><index> (default ${DEFAULTS.prefix})` },
  'first-index': { type: 'string', arg: 'N', help: `index of the first charger (default ${DEFAULTS.firstIndex})` },
  password: { type: 'string', arg: 'PW', help: 'HTTP Basic auth password; the username is the identity' },
  duration: { type: 'string', arg: 'SEC', help: `load duration, ramp included (default ${DEFAULTS.durationSec})` },
  drain: { type: 'string', arg: 'SEC', help: `after the load, wait this long for outstanding calls, then close with 1000 (default ${DEFAULTS.drainSec})` },
  'calls-per-minute': {
    type: 'string',
    arg: 'N',
    help: `average CALLs per minute per charger, jittered; 0 = idle after the boot sequence (default ${DEFAULTS.callsPerMinute})`,
  },
  flood: { type: 'boolean', help: 'send each next CALL as soon as the last one is answered' },
  mix: {
    type: 'string',
    arg: 'A:W,...',
    help: 'instead of the session script, draw every CALL from this mix of actions by weight (MeterValues, Heartbeat, StatusNotification), e.g. MeterValues:60,Heartbeat:25,StatusNotification:15',
  },
  connectors: { type: 'string', arg: 'N', help: `connectors (1.6) / EVSEs (2.0.1) per charger (default ${DEFAULTS.connectors})` },
  'meter-values': { type: 'string', arg: 'N', help: `meter value messages per charging session (default ${DEFAULTS.meterValuesPerSession})` },
  heartbeats: { type: 'string', arg: 'N', help: `Heartbeats between charging sessions (default ${DEFAULTS.heartbeatsBetweenSessions})` },
  'meter-interval': { type: 'string', arg: 'SEC', help: 'spacing of meter values during a session (default: the calls-per-minute pace)' },
  'call-timeout': { type: 'string', arg: 'SEC', help: `a CALL not answered within this counts as timed out (default ${DEFAULTS.callTimeoutSec})` },
  'handshake-timeout': { type: 'string', arg: 'SEC', help: `WebSocket opening handshake timeout (default ${DEFAULTS.handshakeTimeoutSec})` },
  'no-reconnect': { type: 'boolean', help: 'do not reconnect dropped chargers' },
  'reconnect-base': { type: 'string', arg: 'SEC', help: `back-off after the first drop; doubles per failed attempt, randomized (default ${DEFAULTS.reconnectBaseSec})` },
  'reconnect-max': { type: 'string', arg: 'SEC', help: `back-off ceiling (default ${DEFAULTS.reconnectMaxSec})` },
  workers: { type: 'string', arg: 'N', help: 'worker processes; 0 = run in this process (default: auto from --per-process and cores)' },
  'per-process': { type: 'string', arg: 'N', help: `most chargers per process (default ${DEFAULTS.perProcess})` },
  'source-addresses': {
    type: 'string',
    arg: 'N|LIST',
    help: 'bind sockets round-robin to 127.0.0.1..127.0.0.N or to a comma list, each with its own source port; 0 = let the kernel choose (default auto: enough 127.x addresses for a 127.x target, none otherwise)',
  },
  'source-ports': { type: 'string', arg: 'LOW-HIGH', help: `source ports given out with --source-addresses (default ${DEFAULTS.sourcePorts.join('-')})` },
  ramp: { type: 'string', arg: 'N', help: `new connections per second, reconnects included (default ${DEFAULTS.rampPerSec})` },
  'drop-all-at': {
    type: 'string',
    arg: 'SEC',
    help: 'reconnect storm: at this second cut every open socket at once (no close frame); chargers reconnect with the back-off',
  },
  'drop-after-boot': {
    type: 'string',
    arg: 'SEC',
    help: 'reconnect storm: cut every open socket this long after every charger had booted (instead of --drop-all-at)',
  },
  'drop-ramp': { type: 'string', arg: 'N', help: 'new connections per second after the drop (default 0: no limit, each charger comes back when its back-off ends)' },
  'end-after-storm': {
    type: 'string',
    arg: 'SEC',
    help: 'with --drop-all-at or --drop-after-boot: end the run this long after every dropped charger booted again (--duration stays the limit)',
  },
  'server-pid': { type: 'string', arg: 'PID', help: 'sample this process (the server under test): RSS and CPU from /proc' },
  'report-every': { type: 'string', arg: 'SEC', help: `live line interval on stderr (default ${DEFAULTS.reportEverySec})` },
  quiet: { type: 'boolean', help: 'no live lines' },
  json: { type: 'string', arg: 'FILE', help: 'write the full report as JSON' },
  'require-all': { type: 'boolean', help: 'exit 1 unless every charger connected and every CALL got a CALLRESULT' },
  insecure: { type: 'boolean', help: 'accept any TLS certificate on wss://' },
  'ca-file': { type: 'string', arg: 'FILE', help: "wss://: trust the CA(s) in this PEM file for the server's certificate (checked, unlike --insecure)" },
  help: { type: 'boolean', help: 'print this help' },
};

function usage(): string {
  const rows = Object.entries(SPEC).map(([name, s]) => [`--${name}${s.arg ? ` ${s.arg}` : ''}`, s.help]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    'Usage: npm run sim -- --url ws://host:port/ocpp [options]',
    '',
    'Simulates OCPP-J 1.6 / 2.0.1 charge points against any central system and reports',
    "connections, call outcomes, latency percentiles, throughput and (with --server-pid) the server's cost.",
    '',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join('\n');
}

class UsageError extends Error {}

function number(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: not a number: ${String(raw)}`);
  return n;
}

function toOptions(values: Record<string, unknown>): SimulationOptions {
  if (typeof values.url !== 'string') throw new UsageError('--url is required');
  let sourceAddresses: SimulationOptions['sourceAddresses'];
  const sa = values['source-addresses'];
  if (typeof sa === 'string') {
    sourceAddresses = /^\d+$/.test(sa)
      ? Number(sa)
      : sa === 'auto'
        ? 'auto'
        : sa
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
  }
  let sourcePorts: [number, number] | undefined;
  if (typeof values['source-ports'] === 'string') {
    const m = /^(\d+)-(\d+)$/.exec(values['source-ports']);
    if (!m) throw new UsageError(`--source-ports: expected LOW-HIGH, got ${values['source-ports']}`);
    sourcePorts = [Number(m[1]), Number(m[2])];
  }
  const workers = values.workers === 'auto' ? 'auto' : number(values, 'workers');
  return {
    url: values.url,
    chargers: number(values, 'chargers'),
    protocol: values.protocol as ProtocolChoice | undefined,
    prefix: values.prefix as string | undefined,
    firstIndex: number(values, 'first-index'),
    password: values.password as string | undefined,
    durationSec: number(values, 'duration'),
    drainSec: number(values, 'drain'),
    callsPerMinute: number(values, 'calls-per-minute'),
    flood: values.flood === true,
    mix: values.mix as string | undefined,
    connectors: number(values, 'connectors'),
    meterValuesPerSession: number(values, 'meter-values'),
    heartbeatsBetweenSessions: number(values, 'heartbeats'),
    meterIntervalSec: number(values, 'meter-interval'),
    callTimeoutSec: number(values, 'call-timeout'),
    handshakeTimeoutSec: number(values, 'handshake-timeout'),
    reconnect: values['no-reconnect'] !== true,
    reconnectBaseSec: number(values, 'reconnect-base'),
    reconnectMaxSec: number(values, 'reconnect-max'),
    workers,
    perProcess: number(values, 'per-process'),
    sourceAddresses,
    sourcePorts,
    rampPerSec: number(values, 'ramp'),
    dropAllAtSec: number(values, 'drop-all-at'),
    dropAfterAllBootedSec: number(values, 'drop-after-boot'),
    dropRampPerSec: number(values, 'drop-ramp'),
    endAfterStormSec: number(values, 'end-after-storm'),
    serverPid: number(values, 'server-pid'),
    reportEverySec: number(values, 'report-every'),
    insecure: values.insecure === true,
    caFile: values['ca-file'] as string | undefined,
  };
}

async function main(): Promise<number> {
  let values: Record<string, unknown>;
  let options: SimulationOptions;
  try {
    const parsed = parseArgs({
      options: Object.fromEntries(Object.entries(SPEC).map(([name, s]) => [name, { type: s.type }])),
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
    if (values.help) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    options = toOptions(values);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage()}\n`);
    return 2;
  }

  // First Ctrl-C: stop early but still drain, close cleanly and report. Second: leave at once.
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('stopping: draining and closing connections (again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let report: SimulationReport;
  try {
    report = await runSimulation({
      ...options,
      signal: controller.signal,
      log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
  } catch (error) {
    if (error instanceof RangeError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  process.stdout.write(`${formatSummary(report)}\n`);
  if (typeof values.json === 'string') writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return values['require-all'] && !report.passed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
