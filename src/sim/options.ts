/**
 * The simulator's options: what a caller may give, the defaults, and the checks and derived values
 * (worker count, source addresses) worked out once before anything starts.
 */
import os from 'node:os';

/** `mix` alternates 1.6 and 2.0.1 chargers; `both` offers both, 2.0.1 first, and speaks what the server picks. */
export type ProtocolChoice = '1.6' | '2.0.1' | 'mix' | 'both';

export interface SimulationOptions {
  /** Central system endpoint; each charger appends its identity, e.g. ws://127.0.0.1:8080/ocpp. */
  url: string;
  chargers?: number;
  protocol?: ProtocolChoice;
  /** Identities are `${prefix}${index}`. */
  prefix?: string;
  firstIndex?: number;
  /** Basic auth password; the username is the identity. */
  password?: string;
  /** How long the load runs, counted from the first connection attempt. */
  durationSec?: number;
  /** After the run: how long to wait for outstanding calls before closing. */
  drainSec?: number;
  /**
   * Average CALLs per minute per charger after its boot sequence. 0: none (idle chargers: after the
   * boot sequence only answers to the central system and the messages it triggers).
   */
  callsPerMinute?: number;
  /** Send the next CALL as soon as the last is answered. */
  flood?: boolean;
  /**
   * Instead of the session script, every paced (or flooding) CALL is drawn from this mix of actions by weight,
   * e.g. `MeterValues:60,Heartbeat:25,StatusNotification:15` (the realistic flood of issue 10).
   */
  mix?: string;
  connectors?: number;
  meterValuesPerSession?: number;
  heartbeatsBetweenSessions?: number;
  /** Spacing of meter values during a session; 0 follows the calls-per-minute pace. */
  meterIntervalSec?: number;
  callTimeoutSec?: number;
  handshakeTimeoutSec?: number;
  reconnect?: boolean;
  reconnectBaseSec?: number;
  reconnectMaxSec?: number;
  /** Worker processes; 0 runs every charger in this process; 'auto' sizes by --per-process and cores. */
  workers?: number | 'auto';
  perProcess?: number;
  /**
   * Source addresses to bind: a count N (127.0.0.1..127.0.0.N), a list, 0 to let the kernel
   * choose, or 'auto' (enough 127.x addresses toward a 127.x target, none otherwise).
   */
  sourceAddresses?: number | string[] | 'auto';
  /** Local ports [low, high] given out with the source addresses. */
  sourcePorts?: [number, number];
  /** New connections per second across all workers (reconnects included). */
  rampPerSec?: number;
  /**
   * At this second of the run, cut every open socket at once (no closing handshake), as a network
   * blip would; the chargers reconnect with the back-off and boot again. Counted apart from
   * unexpected closes, and reported as a reconnect storm.
   */
  dropAllAtSec?: number;
  /**
   * Instead of a fixed second: cut every open socket this many seconds after every charger of the run had
   * booted (the workers are told together). For a fleet whose start takes an unknown time, e.g. when each
   * charger's first connection pays a slow password hash on the server.
   */
  dropAfterAllBootedSec?: number;
  /**
   * New connections per second across all workers once the drop happened; 0 (the default): no
   * limit, each charger reconnects when its back-off ends, as a real fleet does.
   */
  dropRampPerSec?: number;
  /** With dropAllAtSec: end the run this long after every dropped charger booted again (--duration stays the limit). */
  endAfterStormSec?: number;
  /** Sample this process's RSS and CPU (the server under test). */
  serverPid?: number;
  reportEverySec?: number;
  /** Accept self-signed certificates on wss://. */
  insecure?: boolean;
  /** A PEM file of the CA(s) that signed the server's certificate on wss://: trusted instead of the system's (and checked, unlike --insecure). */
  caFile?: string;
  /** Receives the live progress lines; none when absent. */
  log?: (line: string) => void;
  /** Aborting ends the run early, with the usual drain and report. */
  signal?: AbortSignal;
}

export const DEFAULTS = {
  chargers: 10,
  protocol: '1.6' as ProtocolChoice,
  prefix: 'SIM',
  firstIndex: 1,
  durationSec: 30,
  drainSec: 10,
  callsPerMinute: 6,
  connectors: 2,
  meterValuesPerSession: 5,
  heartbeatsBetweenSessions: 2,
  meterIntervalSec: 0,
  callTimeoutSec: 30,
  handshakeTimeoutSec: 20,
  reconnectBaseSec: 1,
  reconnectMaxSec: 60,
  perProcess: 18_000,
  rampPerSec: 1000,
  reportEverySec: 5,
  // Below the kernel's ephemeral range (32768-60999), so that it never collides with ports the
  // kernel hands to other programs, and above the usual service ports.
  sourcePorts: [10_000, 32_767] as [number, number],
};

/** Options with every value settled: what the shards are started with. */
export interface ResolvedOptions {
  url: string;
  chargers: number;
  protocol: ProtocolChoice;
  prefix: string;
  firstIndex: number;
  password: string | undefined;
  durationMs: number;
  drainMs: number;
  callsPerMinute: number;
  flood: boolean;
  /** The mix of actions by cumulative weight (null: the session script). */
  mix: MixEntry[] | null;
  connectors: number;
  meterValuesPerSession: number;
  heartbeatsBetweenSessions: number;
  meterIntervalMs: number;
  callTimeoutMs: number;
  handshakeTimeoutMs: number;
  reconnect: boolean;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  workers: number;
  perProcess: number;
  /** Empty: the kernel picks source address and port. */
  sourceAddresses: string[];
  sourcePortBase: number;
  sourcePortSpan: number;
  rampPerSec: number;
  /** When every open socket is cut (ms from the start); null: never. */
  dropAllAtMs: number | null;
  /** Cut every open socket this long after every charger had booted (ms); null: no such drop. */
  dropAfterAllBootedMs: number | null;
  /** Admission rate after the drop; 0: unlimited. */
  dropRampPerSec: number;
  /** End the run this long after the storm is over; null: run to the end of the duration. */
  endAfterStormMs: number | null;
  serverPid: number | undefined;
  reportEveryMs: number;
  insecure: boolean;
  /** Read by each worker (a path, not the PEM, crosses IPC). */
  caFile: string | undefined;
}

/** One action of a `--mix` and its weight's upper bound on the cumulative scale (0..total). */
export interface MixEntry {
  action: string;
  upTo: number;
}

/** The actions a `--mix` may name: the ones a charger sends unprompted outside a session. */
export const MIX_ACTIONS = ['MeterValues', 'Heartbeat', 'StatusNotification'] as const;

/** Parses `Action:weight,...` into cumulative entries; throws RangeError on an unknown action or a weight that is not a positive number. */
export function parseMix(text: string): MixEntry[] {
  const entries: MixEntry[] = [];
  let total = 0;
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z]+)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    check(m !== null, `--mix: expected Action:weight, got "${part}"`);
    const [, action, weight] = m!;
    check((MIX_ACTIONS as readonly string[]).includes(action), `--mix: ${action} is not one of ${MIX_ACTIONS.join(', ')}`);
    check(Number(weight) > 0, `--mix: the weight of ${action} must be > 0`);
    total += Number(weight);
    entries.push({ action, upTo: total });
  }
  return entries;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(message);
}

function isLoopbackV4(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Fills defaults, checks ranges, and works out workers and source addresses. Throws RangeError. */
export function resolveOptions(o: SimulationOptions): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new RangeError(`--url: not a URL: ${o.url}`);
  }
  check(url.protocol === 'ws:' || url.protocol === 'wss:', '--url must start with ws:// or wss://');

  const chargers = o.chargers ?? DEFAULTS.chargers;
  check(Number.isInteger(chargers) && chargers >= 1, '--chargers must be a positive integer');
  const protocol = o.protocol ?? DEFAULTS.protocol;
  check(['1.6', '2.0.1', 'mix', 'both'].includes(protocol), '--protocol must be 1.6, 2.0.1, mix or both');
  const perProcess = o.perProcess ?? DEFAULTS.perProcess;
  check(Number.isInteger(perProcess) && perProcess >= 1, '--per-process must be a positive integer');

  let workers: number;
  if (o.workers === undefined || o.workers === 'auto') {
    // Enough processes for the socket limit, and one per core for big runs so a single event
    // loop does not become the bottleneck.
    const cores = os.availableParallelism();
    workers = Math.max(Math.ceil(chargers / perProcess), Math.min(cores, Math.ceil(chargers / 5000)));
  } else {
    workers = o.workers;
    check(Number.isInteger(workers) && workers >= 0, '--workers must be 0 (in-process) or a positive integer');
    workers = Math.min(workers, chargers);
  }
  check(
    Math.ceil(chargers / Math.max(1, workers)) <= perProcess,
    `${chargers} chargers over ${Math.max(1, workers)} process(es) is more than --per-process ${perProcess} each`,
  );

  let sourceAddresses: string[];
  const sa = o.sourceAddresses ?? 'auto';
  const [portLow, portHigh] = o.sourcePorts ?? DEFAULTS.sourcePorts;
  check(
    Number.isInteger(portLow) && Number.isInteger(portHigh) && portLow >= 1024 && portHigh <= 65535 && portHigh >= portLow,
    '--source-ports must be LOW-HIGH within 1024-65535',
  );
  const portSpan = portHigh - portLow + 1;
  if (Array.isArray(sa)) sourceAddresses = sa;
  else {
    let n: number;
    if (sa === 'auto') {
      // Toward a 127.x target every 127/8 address is local: spread over as many as give every
      // charger two distinct (address, port) pairs, one for its first connection and one for a
      // reconnect, so that no charger waits on another's TIME_WAIT.
      n = isLoopbackV4(url.hostname) ? Math.min(254, Math.ceil((2 * chargers) / portSpan)) : 0;
    } else {
      n = sa;
      check(Number.isInteger(n) && n >= 0 && n <= 254, '--source-addresses must be 0..254 or a list');
    }
    sourceAddresses = Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
  }
  check(
    sourceAddresses.length === 0 || chargers <= sourceAddresses.length * portSpan,
    `${chargers} chargers need more than ${sourceAddresses.length} source address(es) x ${portSpan} ports`,
  );

  const num = (value: number | undefined, fallback: number, name: string, min = 0): number => {
    const v = value ?? fallback;
    check(Number.isFinite(v) && v >= min, `${name} must be a number >= ${min}`);
    return v;
  };
  const callsPerMinute = num(o.callsPerMinute, DEFAULTS.callsPerMinute, '--calls-per-minute');
  const reconnectBaseSec = num(o.reconnectBaseSec, DEFAULTS.reconnectBaseSec, '--reconnect-base');
  const reconnectMaxSec = num(o.reconnectMaxSec, DEFAULTS.reconnectMaxSec, '--reconnect-max');
  check(reconnectMaxSec >= reconnectBaseSec, '--reconnect-max must be >= --reconnect-base');
  const connectors = num(o.connectors, DEFAULTS.connectors, '--connectors', 1);
  check(Number.isInteger(connectors), '--connectors must be an integer');
  const rampPerSec = num(o.rampPerSec, DEFAULTS.rampPerSec, '--ramp');
  check(rampPerSec > 0, '--ramp must be > 0');
  if (o.caFile !== undefined) check(o.caFile.length > 0 && url.protocol === 'wss:', '--ca-file needs a wss:// URL');
  if (o.serverPid !== undefined) check(Number.isInteger(o.serverPid) && o.serverPid > 0, '--server-pid must be a process id');
  const durationSec = num(o.durationSec, DEFAULTS.durationSec, '--duration');
  let dropAllAtMs: number | null = null;
  if (o.dropAllAtSec !== undefined) {
    const at = num(o.dropAllAtSec, 0, '--drop-all-at');
    check(at > 0 && at < durationSec, '--drop-all-at must be after the start and before the end of --duration');
    check(o.reconnect !== false, '--drop-all-at needs reconnecting chargers (not --no-reconnect)');
    dropAllAtMs = at * 1000;
  }
  let dropAfterAllBootedMs: number | null = null;
  if (o.dropAfterAllBootedSec !== undefined) {
    check(dropAllAtMs === null, '--drop-after-boot and --drop-all-at exclude each other');
    check(o.reconnect !== false, '--drop-after-boot needs reconnecting chargers (not --no-reconnect)');
    dropAfterAllBootedMs = num(o.dropAfterAllBootedSec, 0, '--drop-after-boot') * 1000;
  }
  const dropRampPerSec = num(o.dropRampPerSec, 0, '--drop-ramp');
  let endAfterStormMs: number | null = null;
  if (o.endAfterStormSec !== undefined) {
    check(dropAllAtMs !== null || dropAfterAllBootedMs !== null, '--end-after-storm needs --drop-all-at or --drop-after-boot');
    endAfterStormMs = num(o.endAfterStormSec, 0, '--end-after-storm') * 1000;
  }
  const prefix = o.prefix ?? DEFAULTS.prefix;
  const firstIndex = num(o.firstIndex, DEFAULTS.firstIndex, '--first-index');

  return {
    url: o.url,
    chargers,
    protocol,
    prefix,
    firstIndex,
    password: o.password,
    durationMs: durationSec * 1000,
    drainMs: num(o.drainSec, DEFAULTS.drainSec, '--drain') * 1000,
    callsPerMinute,
    flood: o.flood ?? false,
    mix: o.mix === undefined ? null : parseMix(o.mix),
    connectors,
    meterValuesPerSession: Math.floor(num(o.meterValuesPerSession, DEFAULTS.meterValuesPerSession, '--meter-values')),
    heartbeatsBetweenSessions: Math.floor(num(o.heartbeatsBetweenSessions, DEFAULTS.heartbeatsBetweenSessions, '--heartbeats')),
    meterIntervalMs: num(o.meterIntervalSec, DEFAULTS.meterIntervalSec, '--meter-interval') * 1000,
    callTimeoutMs: num(o.callTimeoutSec, DEFAULTS.callTimeoutSec, '--call-timeout', 0.001) * 1000,
    handshakeTimeoutMs: num(o.handshakeTimeoutSec, DEFAULTS.handshakeTimeoutSec, '--handshake-timeout', 0.001) * 1000,
    reconnect: o.reconnect ?? true,
    reconnectBaseMs: reconnectBaseSec * 1000,
    reconnectMaxMs: reconnectMaxSec * 1000,
    workers,
    perProcess,
    sourceAddresses,
    sourcePortBase: portLow,
    sourcePortSpan: portSpan,
    rampPerSec,
    dropAllAtMs,
    dropAfterAllBootedMs,
    dropRampPerSec,
    endAfterStormMs,
    serverPid: o.serverPid,
    reportEveryMs: num(o.reportEverySec, DEFAULTS.reportEverySec, '--report-every', 0.1) * 1000,
    insecure: o.insecure ?? false,
    caFile: o.caFile,
  };
}

/** The identity of charger number `i` (0-based within the run). */
export function identityOf(o: Pick<ResolvedOptions, 'prefix' | 'firstIndex'>, i: number): string {
  return `${o.prefix}${o.firstIndex + i}`;
}

/** The subprotocols charger `i` offers. */
export function protocolsOf(choice: ProtocolChoice, i: number): string[] {
  switch (choice) {
    case '1.6':
      return ['ocpp1.6'];
    case '2.0.1':
      return ['ocpp2.0.1'];
    case 'mix':
      return i % 2 === 0 ? ['ocpp1.6'] : ['ocpp2.0.1'];
    case 'both':
      return ['ocpp2.0.1', 'ocpp1.6'];
  }
}
