/**
 * The gateway's work per connection and per CALL, counted rather than timed: `npm run bench:instructions`.
 *
 * The flood (c) and the storm (d) time the servers, and on this project's shared 2-core machines the time a server
 * needs for the same work moves by 1.5x from one run to the next. That hides any change smaller than that. Here the
 * gateway and the raw responder each run under valgrind's callgrind with a simulated cache, side by side, and the
 * same fixed work is done on each: chargers connect and boot and report their connectors (half OCPP 1.6, half
 * 2.0.1), then flood the mix of (c), then close. Each stretch is bracketed from outside (`callgrind_control`), so
 * start-up is not counted, and repeated after warm-up passes, so that V8's optimised code is what gets counted: the
 * gateway's connection path was still being optimised after 3,000 connections, and its count per connection fell by
 * half until about 5,000 (bench/analysis.md, fourteenth round), hence eight warm-up passes by default.
 * What is reported per charger and per CALL: instructions, first-level and last-level cache misses, and a rough
 * cycle estimate built from them, for each server and as the gateway's ratio to the raw responder's.
 *
 * `--gateway-env "NAME=value ..."` sets the gateway's settings as (c) and (d) do; `--keep-dumps DIR` keeps each
 * measured pass's callgrind files there, to be taken apart by function and object with `callgrind_annotate`.
 *
 * What it does not count: the kernel (socket reads and writes, about a third of a CALL's time on either server),
 * waits, and the real caches' behaviour where it differs from the model. It complements (c) and (d); it does not
 * replace them.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { SimVersion } from '../src/sim/charger-answers.js';
import { bootNotification, meterValues16, meterValues201, statusNotification } from '../src/sim/messages.js';
import { type MixEntry, parseMix } from '../src/sim/options.js';
import { CallgrindControl, callgrindAvailable, callgrindLauncher, type EventCounts, estimatedCycles, firstLevelMisses, lastLevelMisses } from './callgrind.js';
import { machineInfo, sourceInfo } from './machine.js';
import { resultStamp } from './results.js';
import { FLOOD_MIX } from './scenarios.js';
import { parseGatewayEnv, REPO_ROOT, startTarget, type Target } from './targets.js';

const CONNECTORS = 2;
/** Chargers working at once in the connect and close stretches: a steady stream, not a storm. */
const LANES = 50;
/** The flood's mix, as in (c). */
const MIX = parseMix(FLOOD_MIX);
/** CALLs per round of the mix: every charger takes the same share of each action, at its own offset in the round. */
const MIX_ROUND = 20;

/** The action at `position` of a round of the mix: the weights laid out in order over the round. */
function mixAction(mix: readonly MixEntry[], position: number): string {
  const at = ((position % MIX_ROUND) + 0.5) * (mix[mix.length - 1].upTo / MIX_ROUND);
  return (mix.find((e) => at < e.upTo) ?? mix[mix.length - 1]).action;
}

export const STRETCHES = ['connect', 'flood', 'trickle', 'idle', 'close'] as const;
export type Stretch = (typeof STRETCHES)[number];

export interface Workload {
  chargers: number;
  callsPerCharger: number;
}

/**
 * Seconds of the idle stretch: every charger connected, nobody sending. What the server's timers cost in that time
 * (keepalive sweeps, samplers) is what it also spends during the trickle, which under valgrind lasts tens of times
 * longer than at full speed; the trickle's figure net of it is the CALLs' own.
 */
const IDLE_SEC = 3;

/** One charger's frames, made once and sent alike to every server, so that each parses the same bytes. */
export interface ChargerScript {
  identity: string;
  version: SimVersion;
  connect: string[];
  flood: string[];
  /** One CALL sent while no other charger has one in flight: steady load's shape, each CALL its own wake-up. */
  trickle: string;
}

function call(id: string, action: string, payload: unknown): string {
  return JSON.stringify([2, id, action, payload]);
}

export function makeScripts(w: Workload): ChargerScript[] {
  const scripts: ChargerScript[] = [];
  for (let i = 0; i < w.chargers; i++) {
    const version: SimVersion = i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1';
    const identity = `CG${String(i + 1).padStart(6, '0')}`;
    const connect = [call('b1', 'BootNotification', bootNotification(version, identity))];
    for (let c = 1; c <= CONNECTORS; c++) connect.push(call(`s${c}`, 'StatusNotification', statusNotification(version, c, 'Available')));
    const flood: string[] = [];
    let meterWh = 1000;
    const mixCall = (id: string, k: number): string => {
      const action = mixAction(MIX, i + k);
      const connector = (k % CONNECTORS) + 1;
      meterWh += 300;
      const payload =
        action === 'MeterValues'
          ? version === 'ocpp1.6'
            ? meterValues16(connector, undefined, meterWh)
            : meterValues201(connector, meterWh)
          : action === 'StatusNotification'
            ? statusNotification(version, connector, 'Available')
            : {};
      return call(id, action, payload);
    };
    for (let k = 0; k < w.callsPerCharger; k++) flood.push(mixCall(`f${k}`, k));
    // The next CALL of the charger's mix: across the fleet the trickle takes the flood's shares of each action.
    const trickle = mixCall('t0', w.callsPerCharger);
    scripts.push({ identity, version, connect, flood, trickle });
  }
  return scripts;
}

/** One charger's socket: sends a frame and waits for its CALLRESULT; anything else ends the run with its text. */
class ScriptedCharger {
  private socket: WebSocket | undefined;
  private waiting: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(
    readonly script: ChargerScript,
    private readonly url: string,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.url}/${this.script.identity}`, [this.script.version], { perMessageDeflate: false });
      this.socket = ws;
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('message', (data) => {
        const text = data.toString();
        const w = this.waiting;
        this.waiting = undefined;
        if (!w) return; // a CALL from the server would be answered by nobody: the work here sends none
        if (text.startsWith('[3,')) w.resolve();
        else w.reject(new Error(`${this.script.identity}: expected a CALLRESULT, got ${text.slice(0, 200)}`));
      });
    });
  }

  private opened(): WebSocket {
    if (!this.socket) throw new Error(`${this.script.identity}: not opened`);
    return this.socket;
  }

  send(frame: string): Promise<void> {
    const ws = this.opened();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      ws.send(frame);
    });
  }

  close(): Promise<void> {
    const ws = this.opened();
    return new Promise((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once('close', () => resolve());
      ws.close(1000);
    });
  }
}

/** Runs `each` over every charger, `lanes` at a time. */
async function inLanes<T>(items: T[], lanes: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) await each(items[next++]);
    }),
  );
}

/** What one pass counted in each stretch, and how long each stretch took on the clock. */
export interface PassCounts {
  counts: Record<Stretch, EventCounts>;
  wallMs: Record<Stretch, number>;
}

/** One pass of the work against one server: each stretch's counts. */
export async function pass(
  target: Target,
  control: CallgrindControl,
  scripts: ChargerScript[],
  keepAs?: (stretch: Stretch) => string,
  idleSec = IDLE_SEC,
): Promise<PassCounts> {
  const chargers = scripts.map((s) => new ScriptedCharger(s, target.url));
  const counts = {} as Record<Stretch, EventCounts>;
  const wallMs = {} as Record<Stretch, number>;
  const stretch = async (name: Stretch, work: () => Promise<unknown>): Promise<void> => {
    await control.zero();
    const started = performance.now();
    await work();
    wallMs[name] = performance.now() - started;
    counts[name] = await control.dump(keepAs?.(name));
  };
  await stretch('connect', () =>
    inLanes(chargers, LANES, async (c) => {
      await c.open();
      for (const frame of c.script.connect) await c.send(frame);
    }),
  );
  // Every charger at once, one CALL in flight each: the flood's shape.
  await stretch('flood', () =>
    Promise.all(
      chargers.map(async (c) => {
        for (const frame of c.script.flood) await c.send(frame);
      }),
    ),
  );
  // One CALL in flight in the whole fleet: the server sleeps between CALLs and wakes for each, as under steady load.
  await stretch('trickle', () => inLanes(chargers, 1, (c) => c.send(c.script.trickle)));
  await stretch('idle', () => new Promise((r) => setTimeout(r, idleSec * 1000)));
  await stretch('close', async () => {
    await inLanes(chargers, LANES, (c) => c.close());
    // The server finishes its side of each close after the client has seen it; give it a moment under valgrind.
    await new Promise((r) => setTimeout(r, 2000));
  });
  return { counts, wallMs };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export interface StretchFigures {
  /** Per charger (connect, close), per CALL (flood, trickle) or per second (idle), median over the measured passes. */
  per: 'charger' | 'CALL' | 'second';
  instructions: number;
  l1Misses: number;
  /** The first-level misses split: reading code (I1) against reading and writing data (D1). */
  l1CodeMisses: number;
  l1DataMisses: number;
  llMisses: number;
  estimatedCycles: number;
  /** Every pass's instruction count per unit, to show the spread. */
  instructionsByPass: number[];
  /**
   * The trickle only: the counts net of what the idle stretch counted per second over the trickle's time on the
   * clock, so that timers, which run tens of times more often per CALL under valgrind than at full speed, are not
   * charged to the CALLs. The figures above are the trickle as counted.
   */
  netOfIdle?: Omit<StretchFigures, 'per' | 'netOfIdle'>;
}

/** What a stretch's counts are divided by: its CALLs (flood, trickle), its seconds (idle) or its chargers. */
function unitsOf(stretch: Stretch, w: Workload, wallMs: number): number {
  if (stretch === 'flood') return w.chargers * w.callsPerCharger;
  if (stretch === 'idle') return wallMs / 1000;
  return w.chargers;
}

function perOf(stretch: Stretch): StretchFigures['per'] {
  if (stretch === 'flood' || stretch === 'trickle') return 'CALL';
  return stretch === 'idle' ? 'second' : 'charger';
}

/** A trickle's counts less the idle stretch's, scaled to the trickle's time on the clock (never below zero). */
export function netOfIdle(p: PassCounts): EventCounts {
  const scale = p.wallMs.trickle / p.wallMs.idle;
  const net: EventCounts = {};
  for (const [name, value] of Object.entries(p.counts.trickle)) net[name] = Math.max(0, value - (p.counts.idle[name] ?? 0) * scale);
  return net;
}

export function figuresOf(stretch: Stretch, passes: PassCounts[], w: Workload): StretchFigures {
  const units = passes.map((p) => unitsOf(stretch, w, p.wallMs[stretch]));
  const figures = (counts: EventCounts[]) => {
    const per = (f: (c: EventCounts) => number) => round1(median(counts.map((c, i) => f(c) / units[i])));
    return {
      instructions: per((c) => c.Ir),
      l1Misses: per(firstLevelMisses),
      l1CodeMisses: per((c) => c.I1mr ?? 0),
      l1DataMisses: per((c) => (c.D1mr ?? 0) + (c.D1mw ?? 0)),
      llMisses: per(lastLevelMisses),
      estimatedCycles: per(estimatedCycles),
      instructionsByPass: counts.map((c, i) => round1(c.Ir / units[i])),
    };
  };
  const counted = { per: perOf(stretch), ...figures(passes.map((p) => p.counts[stretch])) };
  return stretch === 'trickle' ? { ...counted, netOfIdle: figures(passes.map(netOfIdle)) } : counted;
}

/** The second-level cache size /proc/cpuinfo gives ("cache size"), else 1 MiB: the model's last level. */
function lastLevelBytes(): number {
  try {
    const m = /^cache size\s*:\s*(\d+) KB/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return 1024 * 1024;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chargers: { type: 'string' },
      calls: { type: 'string' },
      warmup: { type: 'string' },
      passes: { type: 'string' },
      out: { type: 'string' },
      'gateway-node-args': { type: 'string' },
      'gateway-env': { type: 'string' },
      'keep-dumps': { type: 'string' },
      threads: { type: 'boolean', default: false },
    },
  });
  const positive = (name: string, text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number of at least 1, not ${JSON.stringify(text)}`);
    return n;
  };
  const w: Workload = { chargers: positive('chargers', values.chargers, 500), callsPerCharger: positive('calls', values.calls, 20) };
  const warmup = positive('warmup', values.warmup, 8);
  const passes = positive('passes', values.passes, 3);
  const gatewayNodeArgs = values['gateway-node-args']?.split(/\s+/).filter(Boolean) ?? [];
  const gatewayEnv = parseGatewayEnv(values['gateway-env']);
  // Each measured pass's dumps, kept for `callgrind_annotate` instead of being removed once counted.
  const keepDir = values['keep-dumps'];
  if (keepDir !== undefined) mkdirSync(keepDir, { recursive: true });
  // V8's `--predictable` runs its collector and compilers on the main thread, in program order: the same work then
  // counts the same from pass to pass (the gateway's flood passes within 1-4 % instead of a quarter), and no helper
  // thread's waiting is counted as work (valgrind runs one thread at a time). `--threads` counts V8 as it runs in
  // production instead.
  const v8 = values.threads === true ? 'threads' : 'predictable';
  const v8Args = v8 === 'predictable' ? ['--predictable'] : [];
  if (!(await callgrindAvailable())) {
    process.stderr.write('bench:instructions needs valgrind (with callgrind_control): apt-get install valgrind\n');
    process.exitCode = 2;
    return;
  }
  const cache = { l1Bytes: 32 * 1024, llBytes: lastLevelBytes() };
  const outDir = mkdtempSync(join(tmpdir(), 'bench-callgrind-'));
  const scripts = makeScripts(w);
  const targets: Target[] = [];
  const startedAt = new Date();
  try {
    // Both start at once: under valgrind each takes a minute or two to be ready, and they count, not time. Both are
    // waited for, so that one that started is stopped below when the other did not.
    const started = await Promise.allSettled([
      startTarget('baseline', { launcher: callgrindLauncher(outDir, cache), nodeArgs: v8Args, timeoutMs: 300_000 }),
      startTarget('gateway', {
        launcher: callgrindLauncher(outDir, cache),
        nodeArgs: [...v8Args, ...gatewayNodeArgs],
        gatewayEnv,
        timeoutMs: 300_000,
      }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') targets.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const [raw, gateway] = targets;
    const servers = [
      { name: 'raw responder', dumpName: 'raw', target: raw },
      { name: 'gateway', dumpName: 'gateway', target: gateway },
    ];
    const counted = await Promise.all(
      servers.map(async ({ name, dumpName, target }) => {
        const control = new CallgrindControl(target.pid, outDir);
        const measured: PassCounts[] = [];
        for (let p = 0; p < warmup + passes; p++) {
          const keepAs = keepDir === undefined || p < warmup ? undefined : (s: Stretch) => join(keepDir, `${dumpName}-pass${p + 1 - warmup}-${s}.callgrind`);
          const counted = await pass(target, control, scripts, keepAs);
          process.stderr.write(
            `${name}: pass ${p + 1} of ${warmup + passes}${p < warmup ? ' (warm-up)' : ''}, ${Math.round(counted.counts.flood.Ir / unitsOf('flood', w, counted.wallMs.flood))} instructions per CALL in the flood, ` +
              `${Math.round(netOfIdle(counted).Ir / unitsOf('trickle', w, counted.wallMs.trickle))} in the trickle (net of idle)\n`,
          );
          if (p >= warmup) measured.push(counted);
        }
        return { name, stretches: Object.fromEntries(STRETCHES.map((s) => [s, figuresOf(s, measured, w)])) as Record<Stretch, StretchFigures> };
      }),
    );
    const [rawFigures, gatewayFigures] = counted;
    const ratios = Object.fromEntries(
      STRETCHES.map((s) => {
        const r = rawFigures.stretches[s];
        const g = gatewayFigures.stretches[s];
        return [
          s,
          {
            instructions: round3(g.instructions / r.instructions),
            l1Misses: round3(g.l1Misses / r.l1Misses),
            estimatedCycles: round3(g.estimatedCycles / r.estimatedCycles),
            ...(r.netOfIdle && g.netOfIdle
              ? {
                  netOfIdle: {
                    instructions: round3(g.netOfIdle.instructions / r.netOfIdle.instructions),
                    estimatedCycles: round3(g.netOfIdle.estimatedCycles / r.netOfIdle.estimatedCycles),
                  },
                }
              : {}),
          },
        ];
      }),
    );
    const command = [
      'npm run bench:instructions --',
      `--chargers ${w.chargers} --calls ${w.callsPerCharger} --warmup ${warmup} --passes ${passes}`,
      v8 === 'threads' ? '--threads' : '',
      gatewayNodeArgs.length ? `--gateway-node-args="${gatewayNodeArgs.join(' ')}"` : '',
      values['gateway-env'] ? `--gateway-env="${values['gateway-env']}"` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const report = {
      kind: 'instructions',
      machine: machineInfo(),
      ...sourceInfo(),
      command,
      startedAt: startedAt.toISOString(),
      params: {
        ...w,
        connectors: CONNECTORS,
        protocols: 'ocpp1.6 and ocpp2.0.1, alternating',
        mix: FLOOD_MIX,
        warmup,
        passes,
        cache,
        v8,
        gatewayNodeArgs,
        gatewayEnv,
      },
      servers: counted,
      gatewayOverRaw: ratios,
    };
    const dir = join(REPO_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = values.out ?? join(dir, `${resultStamp(startedAt)}-instructions.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    for (const s of STRETCHES) {
      const r = rawFigures.stretches[s];
      const g = gatewayFigures.stretches[s];
      process.stdout.write(
        `${s.padEnd(8)} per ${r.per.padEnd(7)} instructions raw ${r.instructions} gateway ${g.instructions} (${ratios[s].instructions}x); ` +
          `L1 misses ${r.l1Misses} / ${g.l1Misses} (${ratios[s].l1Misses}x); estimated cycles ${r.estimatedCycles} / ${g.estimatedCycles} (${ratios[s].estimatedCycles}x)\n`,
      );
      const net = ratios[s].netOfIdle;
      if (net && r.netOfIdle && g.netOfIdle)
        process.stdout.write(
          `${''.padEnd(8)} net of idle: instructions raw ${r.netOfIdle.instructions} gateway ${g.netOfIdle.instructions} (${net.instructions}x); ` +
            `estimated cycles ${r.netOfIdle.estimatedCycles} / ${g.netOfIdle.estimatedCycles} (${net.estimatedCycles}x)\n`,
        );
    }
    process.stdout.write(`results: ${file}\n`);
  } finally {
    await Promise.all(targets.map((t) => t.stop(10_000)));
    rmSync(outDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
