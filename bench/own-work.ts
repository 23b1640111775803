/**
 * The gateway's own work per CALL, without sockets: `npm run bench:own-work`.
 *
 * The flood scenario (c) measures everything a CALL costs the server, and most of that is the same for any Node.js
 * WebSocket server: the kernel's read and write, ws's framing, streams, JSON.parse. What the gateway adds on top
 * (schema validation, the RPC endpoint, answer turns, events, metrics, its outbox) is a few microseconds hidden in
 * that, and scatters with the machine. This harness measures it alone: real gateway sessions, made by the gateway's
 * own accept path, are handed the flood's frames directly (1,000 chargers, OCPP 1.6, 60 % MeterValues, 25 % Heartbeat,
 * 15 % StatusNotification) and write their answers to a socket stand-in that only counts them. Beside it, in the
 * same run, a raw responder's work on the same frames: parse the JSON, answer a fixed payload, frame and write it.
 * The difference is what the gateway's own code costs per CALL, the figure bench/analysis.md reasons about.
 *
 * Variants are measured in turns (one round of each, then the next), several times; the median and the lowest
 * are reported, as a shared machine only ever makes a run slower.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { WebSocket } from 'ws';
import { SUBJECTS } from '../src/bus/types.js';
import { loadConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway/gateway.js';
import type { ChargerSession } from '../src/gateway/session.js';
import { createLogger } from '../src/observability/logger.js';
import { bootNotification, meterValues16, statusNotification } from '../src/sim/messages.js';
import { textFrame } from '../src/transport/text-frame.js';
import { machineInfo, sourceInfo } from './machine.js';
import { resultStamp } from './results.js';
import { REPO_ROOT } from './targets.js';

const CHARGERS = 1000;
/** The flood's mix as rounds per 20: every charger gets one frame per round, of that round's action. */
const MIX: Array<[action: string, weight: number]> = [
  ['MeterValues', 12],
  ['Heartbeat', 5],
  ['StatusNotification', 3],
];

/** What the harness writes to instead of a TCP socket: counts frames, remembers whether each was a CALLRESULT. */
class CountingStream {
  frames = 0;
  notResults = 0;
  write(chunk: Buffer): boolean {
    this.frames++;
    // A text frame to a client: a 2- or 4-byte header (no mask), then the JSON, which starts `[3,` for a CALLRESULT.
    const len = chunk[1] & 0x7f;
    const start = len === 126 ? 4 : len === 127 ? 10 : 2;
    if (chunk[start] !== 0x5b || chunk[start + 1] !== 0x33) this.notResults++;
    return true;
  }
}

/** Enough of ws's WebSocket for a session: open, nothing buffered, the stream under it, and no-op control calls. */
function socketStandIn(stream: CountingStream): WebSocket {
  const noop = () => undefined;
  return {
    readyState: 1,
    bufferedAmount: 0,
    _socket: stream,
    on: noop,
    once: noop,
    close: noop,
    terminate: noop,
    ping: noop,
    pong: noop,
    send: noop,
  } as unknown as WebSocket;
}

interface Variant {
  name: string;
  /** Hands one frame to charger `i`. */
  receive(i: number, frame: Buffer): void;
  stream: CountingStream;
}

/** The gateway itself, with config overrides; its sessions made by its accept path, as for a real connection. */
async function gatewayVariant(name: string, overrides: Record<string, unknown>, dirs: string[], listen = false): Promise<Variant> {
  const configDir = mkdtempSync(join(tmpdir(), 'own-work-config-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'own-work-state-'));
  dirs.push(configDir, stateDir);
  const config = loadConfig({ configDir, env: {}, overrides: { ...overrides, server: { host: '127.0.0.1', port: 0 }, instance: { stateDir } } });
  const gateway = await Gateway.create({ config, log: createLogger('silent') });
  // An in-process listener of every event (as an open event stream is), which does nothing with them: with nobody
  // listening the gateway does not build events that would reach nobody, so this variant shows what they cost.
  if (listen) gateway.bus.subscribe(SUBJECTS.allEvents, () => undefined);
  // accept() is private: it is the gateway's own path from an upgraded socket to a session, which is what is measured.
  const accept = (gateway as unknown as { accept(socket: WebSocket, charger: object): ChargerSession }).accept.bind(gateway);
  const stream = new CountingStream();
  const sessions: ChargerSession[] = [];
  for (let i = 0; i < CHARGERS; i++) {
    sessions.push(accept(socketStandIn(stream), { identity: `OWN${i}`, protocol: 'ocpp1.6', remoteAddress: '127.0.0.1', acceptSequence: i + 1, securityProfile: 0 }));
  }
  return { name, stream, receive: (i, frame) => sessions[i].onFrame(frame, false) };
}

/** The least a server does per CALL: parse, answer a fixed payload, frame and write (the raw baseline's work). */
function rawVariant(): Variant {
  const stream = new CountingStream();
  const now = new Date().toISOString();
  const answers: Record<string, string> = {
    MeterValues: '{}',
    Heartbeat: `{"currentTime":"${now}"}`,
    StatusNotification: '{}',
    BootNotification: `{"currentTime":"${now}","interval":300,"status":"Accepted"}`,
  };
  return {
    name: 'raw responder',
    stream,
    receive: (_i, frame) => {
      const message = JSON.parse(frame.toString());
      stream.write(textFrame(`[3,${JSON.stringify(message[1])},${answers[message[2]] ?? '{}'}]`));
    },
  };
}

let messageId = 0;
function frameOf(action: string, payload: unknown): Buffer {
  return Buffer.from(JSON.stringify([2, `m${++messageId}`, action, payload]));
}

/** Rounds of frames: every charger gets one frame per round; the actions follow the mix's weights. */
function floodRounds(): Buffer[][] {
  const rounds: Buffer[][] = [];
  let k = 0;
  for (const [action, weight] of MIX) {
    for (let w = 0; w < weight; w++, k++) {
      const round: Buffer[] = [];
      for (let i = 0; i < CHARGERS; i++) {
        const payload =
          action === 'MeterValues' ? meterValues16(1, undefined, 1000 + k * 10 + i) : action === 'Heartbeat' ? {} : statusNotification('ocpp1.6', 1, 'Available');
        round.push(frameOf(action, payload));
      }
      rounds.push(round);
    }
  }
  // Interleave the actions as a flood would (not 12 rounds of MeterValues first).
  return rounds.map((_, r) => rounds[(r * 7) % rounds.length]);
}

/** Garbage-collection pauses of the main thread so far, in ms: what a CALL's garbage costs shows here. */
let gcPauseMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `rounds` rounds through a variant; the CPU and wall time of the main thread per CALL, in µs. */
async function measure(variant: Variant, rounds: Buffer[][], count: number): Promise<{ wallUs: number; cpuUs: number; gcUs: number; calls: number }> {
  const framesBefore = variant.stream.frames;
  const gcBefore = gcPauseMs;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let calls = 0;
  for (let r = 0; r < count; r++) {
    const round = rounds[r % rounds.length];
    for (let i = 0; i < CHARGERS; i++) variant.receive(i, round[i]);
    calls += CHARGERS;
    // As the flood's chargers do, each sends its next CALL once the last one is answered: the gateway answers in
    // answer turns (some in this turn's ticks, the rest in the next turns' check phases), and the next round waits
    // for all of them. Handing out rounds without waiting would let CALLs pile up by the hundred thousand, which no
    // charger does and which costs the gateway garbage collection that a real flood never asks of it.
    while (variant.stream.frames - framesBefore < calls) await nextTurn();
  }
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  // GC entries are delivered asynchronously: one more turn lets the last ones in.
  await nextTurn();
  return { wallUs: (wall * 1000) / calls, cpuUs: (used.user + used.system) / calls, gcUs: ((gcPauseMs - gcBefore) * 1000) / calls, calls };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeats: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' } } });
  const repeats = Number(values.repeats ?? 7);
  const roundsPerRepeat = Number(values.rounds ?? 200);
  const dirs: string[] = [];
  try {
    const variants = [
      await gatewayVariant('gateway', {}, dirs),
      await gatewayVariant('gateway, validation off', { ocpp: { validation: { default: 'off' } } }, dirs),
      rawVariant(),
      await gatewayVariant('gateway, events listened to', {}, dirs, true),
    ];
    // Every charger boots first, as on a real connection.
    for (const v of variants) {
      for (let i = 0; i < CHARGERS; i++) v.receive(i, frameOf('BootNotification', bootNotification('ocpp1.6', `OWN${i}`)));
      while (v.stream.frames < CHARGERS) await nextTurn();
    }
    const rounds = floodRounds();
    for (const v of variants) await measure(v, rounds, 60); // warm-up: optimised code, grown heap
    const samples = variants.map(() => [] as Array<{ wallUs: number; cpuUs: number; gcUs: number }>);
    for (let r = 0; r < repeats; r++) {
      for (let v = 0; v < variants.length; v++) samples[v].push(await measure(variants[v], rounds, roundsPerRepeat));
    }
    const results = variants.map((v, i) => {
      const s = samples[i];
      return {
        variant: v.name,
        wallUsPerCall: { median: round2(median(s.map((x) => x.wallUs))), min: round2(Math.min(...s.map((x) => x.wallUs))) },
        cpuUsPerCall: { median: round2(median(s.map((x) => x.cpuUs))), min: round2(Math.min(...s.map((x) => x.cpuUs))) },
        gcPauseUsPerCall: { median: round2(median(s.map((x) => x.gcUs))), min: round2(Math.min(...s.map((x) => x.gcUs))) },
        answers: v.stream.frames,
        notCallResults: v.stream.notResults,
      };
    });
    const [gateway, noValidation, raw, listened] = results;
    const summary = {
      gatewayOwnWorkUsPerCall: round2(gateway.wallUsPerCall.median - raw.wallUsPerCall.median),
      validationUsPerCall: round2(gateway.wallUsPerCall.median - noValidation.wallUsPerCall.median),
      eventsForAListenerUsPerCall: round2(listened.wallUsPerCall.median - gateway.wallUsPerCall.median),
      gatewayOverRaw: round2(gateway.wallUsPerCall.median / raw.wallUsPerCall.median),
    };
    const failures = results.filter((r) => r.notCallResults > 0).map((r) => `${r.variant}: ${r.notCallResults} answers were not CALLRESULTs`);
    const startedAt = new Date();
    const report = {
      kind: 'own-work',
      machine: machineInfo(),
      ...sourceInfo(),
      command: `npm run bench:own-work -- --repeats ${repeats} --rounds ${roundsPerRepeat}`,
      startedAt: startedAt.toISOString(),
      params: { chargers: CHARGERS, protocol: 'ocpp1.6', mix: 'MeterValues:60,Heartbeat:25,StatusNotification:15', repeats, roundsPerRepeat },
      results,
      summary,
      failures,
    };
    const dir = join(REPO_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = values.out ?? join(dir, `${resultStamp(startedAt)}-own-work.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    for (const r of results) {
      process.stdout.write(
        `${r.variant.padEnd(26)} ${String(r.wallUsPerCall.median).padStart(6)} µs per CALL (median of ${repeats}; lowest ${r.wallUsPerCall.min}), CPU ${r.cpuUsPerCall.median} µs, GC pauses ${r.gcPauseUsPerCall.median} µs\n`,
      );
    }
    process.stdout.write(
      `gateway's own work ${summary.gatewayOwnWorkUsPerCall} µs per CALL (${summary.gatewayOverRaw}x the raw work), of which validation ${summary.validationUsPerCall} µs; events built for a listener add ${summary.eventsForAListenerUsPerCall} µs\n`,
    );
    process.stdout.write(`results: ${file}\n`);
    if (failures.length > 0) {
      process.stderr.write(`${failures.join('\n')}\n`);
      process.exitCode = 1;
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  // The gateways hold timers and sessions over stand-in sockets that never close: nothing to drain.
  process.exit();
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
