/**
 * One fuzz campaign against the real gateway process: fast-check lanes run side by side (OCPP-J frames on a 1.6
 * and a 2.0.1 connection, HTTP upgrade requests, floods and slow readers, and the security lanes of
 * security-lanes.ts: credentials, client certificates, cut TLS handshakes against the process's TLS listener and
 * credential store) while a well-behaved charger sends Heartbeats beside them and a monitor reads the gateway's
 * own metrics. It holds, throughout:
 * - the process never dies;
 * - its RSS (the gateway's `process_resident_memory_bytes`) never passes `baseline + rssHeadroomBytes`, and the
 *   lowest RSS of every 30 s after the first 30 s (what it keeps across collections) stays under
 *   `baseline + rssKeptBytes`;
 * - every Heartbeat of the well-behaved charger gets its CALLRESULT within `heartbeatCeilingMs`;
 * - every input gets the answer the test's own oracles (oracle.ts, handshake-oracle.ts, credentials-oracle.ts)
 *   call for, and at the end the gateway's counters agree (failed TLS handshakes, profiles proven) and its output
 *   holds no password or Authorization value the lanes sent;
 * - a backend reading the admin API's event stream keeps it open, and the gateway logs nothing at error level:
 *   its error lines mean a failure inside it (an event it could not deliver, a CALL it could not handle), which
 *   no input from the network should cause.
 * A failure names the lane, the seed, fast-check's replay path and the exact input.
 */
import { randomBytes } from 'node:crypto';
import { type ClientRequest, request } from 'node:http';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { schemaOracle, VERSIONS, type Version } from '../helpers/schema-oracle.js';
import { type FloodCase, type FrameCase, floodCaseArb, frameCaseArb, type GarbageCase, type HandshakeCase, handshakeCaseArb } from './arbitraries.js';
import { type FuzzedGateway, gatewayRss, httpText, scrapeMetrics, startFuzzedGateway } from './gateway-process.js';
import { describeInput, FuzzFailure, type Lane, Recent, sleep, Tally, within } from './lane.js';

export { describeInput, FuzzFailure } from './lane.js';

import { ThrottleModel } from './credentials-oracle.js';
import { expectedHandshake, handshakeRequest } from './handshake-oracle.js';
import { answerMismatch, type Expectation, expectedAnswer, frameCategory } from './oracle.js';
import { createSecurityFixture } from './security-fixture.js';
import { certificateLane, credentialsLane, type SecurityTarget, type TlsLaneCounts, tlsHandshakeLane } from './security-lanes.js';
import { encodeFrame, OP, openWebSocket, RawConnection, type ServerFrame, standardHeaders, upgradeRequest } from './wire.js';

export interface CampaignOptions {
  seed: number;
  durationMs: number;
  /**
   * How far above its settled RSS the gateway may go. What the fuzzer can make it hold at once is small and
   * bounded by config: two 1 MiB messages in flight on the frame lanes, four paused flooders each capped by the
   * outbox (2 MiB + 64 KiB buffered), one handshake at a time, and the records of the chargers it invented within
   * the fuzzed gateway's remembered-charger bounds (some 5 MB): under 24 MiB of live data. The rest of the
   * headroom is V8's and the allocator's slack between collections, which on a busy two-core machine reaches some
   * 175 MiB at its peaks in ten-minute runs (the heap is collected late while the machine is loaded).
   */
  rssHeadroomBytes?: number;
  /**
   * How far above its settled RSS the lowest RSS of a 30 s window may be. Each window holds several collections,
   * so its lowest sample is close to what the gateway keeps; in ten-minute runs it stays 60 to 115 MiB above the
   * settled RSS (the live data above, plus the heap V8 keeps reserved after its peaks). A window whose lowest RSS
   * is higher than this kept memory it should have given back: a leak, which climbs window after window.
   */
  rssKeptBytes?: number;
  /**
   * A Heartbeat is answered locally in the tick it arrives; on a shared two-core machine under fuzz load it still
   * takes milliseconds. Five seconds is a stalled event loop or a starved connection, not noise.
   */
  heartbeatCeilingMs?: number;
  log?: (line: string) => void;
  /**
   * Input kinds left out, to look past a known bug while its fix is pending: handshake endings
   * (`resetAfterSend`, `endAfterSend`, `partialThenReset`, `partialThenWait`) and flood kinds (`pingFlood`,
   * `callFlood`, `slowHandshake`). The suite never leaves anything out.
   */
  exclude?: readonly string[];
}

const STOPPED = 'stopped';

export interface CampaignReport {
  seed: number;
  runs: Record<string, number>;
  heartbeats: number;
  maxHeartbeatMs: number;
  baselineRssBytes: number;
  maxRssBytes: number;
  rssBoundBytes: number;
}

// ---------------------------------------------------------------------------------------------------------------

/** A charger that does everything right, sending Heartbeats throughout; any miss is a campaign failure. */
class WellBehavedCharger {
  private ws: WebSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, number>();
  private seq = 0;
  answered = 0;
  maxLatencyMs = 0;
  failure: string | undefined;
  private stopping = false;

  constructor(
    private readonly url: string,
    private readonly ceilingMs: number,
  ) {}

  async start(): Promise<void> {
    const ws = new WebSocket(this.url, ['ocpp1.6']);
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', (err) => (this.failure ??= `well-behaved charger: socket error ${err.message}`));
    ws.on('close', (code) => {
      if (!this.stopping) this.failure ??= `well-behaved charger was disconnected (close ${code})`;
    });
    ws.on('message', (data) => this.onAnswer(String(data)));
    this.timer = setInterval(() => this.tick(), 200);
  }

  private onAnswer(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.failure ??= `well-behaved charger got a frame that is not JSON: ${text.slice(0, 200)}`;
      return;
    }
    const id = Array.isArray(frame) ? frame[1] : undefined;
    const sentAt = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (!Array.isArray(frame) || frame[0] !== 3 || sentAt === undefined) {
      this.failure ??= `well-behaved charger got ${text.slice(0, 200)} instead of a Heartbeat CALLRESULT`;
      return;
    }
    const verdict = schemaOracle('ocpp1.6').response('Heartbeat', frame[2]);
    if (!verdict.valid) this.failure ??= `Heartbeat answer breaks its schema: ${text.slice(0, 200)}`;
    this.pending.delete(id as string);
    this.answered++;
    this.maxLatencyMs = Math.max(this.maxLatencyMs, Date.now() - sentAt);
  }

  private tick(): void {
    const now = Date.now();
    for (const [id, at] of this.pending) {
      if (now - at > this.ceilingMs) this.failure ??= `well-behaved charger: Heartbeat ${id} not answered within ${this.ceilingMs} ms`;
    }
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const id = `hb-${++this.seq}`;
    this.pending.set(id, now);
    this.ws.send(JSON.stringify([2, id, 'Heartbeat', {}]));
  }

  /** Waits for the last Heartbeats' answers, then closes. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const end = Date.now() + this.ceilingMs;
    while (this.pending.size > 0 && Date.now() < end && this.failure === undefined) await sleep(20);
    if (this.pending.size > 0) this.failure ??= `well-behaved charger: ${this.pending.size} Heartbeats unanswered at the end`;
    this.stopping = true;
    this.ws?.close();
  }
}

/** A backend on the admin API's event stream for the whole campaign, so every published event is serialized. */
class EventStreamReader {
  private req: ClientRequest | undefined;
  bytes = 0;
  failure: string | undefined;
  private stopping = false;

  start(adminPort: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: adminPort, path: '/api/v1/events' }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`/api/v1/events answered ${res.statusCode}`));
          return;
        }
        res.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
        res.on('end', () => {
          if (!this.stopping) this.failure ??= 'the gateway ended the event stream of a backend that reads it';
        });
        resolve();
      });
      req.on('error', (err) => {
        if (!this.stopping) this.failure ??= `event stream: ${err.message}`;
        reject(err);
      });
      req.end();
      this.req = req;
    });
  }

  stop(): void {
    this.stopping = true;
    this.req?.destroy();
  }
}

/** The first line the gateway logged at error level (50) or above since `from`, if any. */
function errorLogLine(lines: readonly string[], from: number): string | undefined {
  for (let i = from; i < lines.length; i++) {
    const m = /"level":(\d+)/.exec(lines[i]);
    if (m && Number(m[1]) >= 50) return lines[i].slice(0, 1500);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------

/** OCPP-J messages and WebSocket violations on one long-lived connection of one version (reopened after a close). */
function frameLane(g: FuzzedGateway, version: Version, seed: number, tally: Tally, categories: Tally): Lane<FrameCase> {
  let conn: RawConnection | undefined;
  let sentinel = 0;
  let opened = 0;
  const recent = new Recent();
  const identity = () => `fz-${version === 'ocpp1.6' ? '16' : '201'}-${seed}-${opened}`;
  const connection = async () => {
    if (conn === undefined || conn.ended) {
      conn?.destroy();
      opened++;
      conn = await openWebSocket(g.port, `/ocpp/${identity()}`, version);
      if (conn.head?.headers['sec-websocket-protocol'] !== version) throw new FuzzFailure(`${version} not chosen: ${conn.head?.raw}`);
    }
    return conn;
  };

  /** The next frame that is not a pong; counts pongs. */
  const next = async (c: RawConnection, pongs: { n: number }): Promise<ServerFrame | undefined> => {
    for (;;) {
      const f = await c.nextFrame(10_000);
      if (f === undefined || f.opcode !== OP.pong) return f;
      pongs.n++;
    }
  };

  const expectClose = async (c: RawConnection, code: number, what: string, pongs: { n: number }) => {
    const f = await next(c, pongs);
    if (f === undefined) throw new FuzzFailure(`${what}: expected a close ${code}, the connection ended without one`);
    if (f.opcode !== OP.close) throw new FuzzFailure(`${what}: expected a close ${code}, got opcode ${f.opcode} ${f.payload.toString().slice(0, 200)}`);
    const got = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
    if (got !== code) throw new FuzzFailure(`${what}: expected close ${code}, got ${got} (${f.payload.subarray(2).toString()})`);
    if (!(await c.waitEnded(10_000))) throw new FuzzFailure(`${what}: the gateway did not end the TCP connection after the close`);
  };

  return {
    name: `frames ${version}`,
    arb: frameCaseArb(version),
    recent,
    async run(input) {
      recent.add(describeInput(input));
      const c = await connection();
      const pongs = { n: 0 };
      if (input.kind === 'violation') {
        tally.add(`close ${input.closeCode}`);
        c.write(input.bytes);
        await expectClose(c, input.closeCode, input.what, pongs);
        return;
      }
      const opcode = input.binary ? OP.binary : OP.text;
      let pingsSent = 0;
      if (input.fragments === 1) c.write(encodeFrame(opcode, input.message));
      else {
        const mid = Math.floor(input.message.length / 2);
        c.write(encodeFrame(opcode, input.message.subarray(0, mid), { fin: false }));
        c.write(encodeFrame(OP.ping, Buffer.from('p')));
        pingsSent++;
        c.write(encodeFrame(OP.continuation, input.message.subarray(mid)));
      }
      const expected: Expectation = expectedAnswer(version, input.message, input.binary);
      categories.add(frameCategory(input.message, input.binary));
      tally.add(
        expected.kind === 'error' ? expected.code : expected.kind === 'close' ? `close ${expected.code}` : expected.kind === 'result' ? 'CALLRESULT' : 'no answer',
      );
      if (expected.kind === 'close') {
        await expectClose(c, expected.code, 'oversized or non-UTF-8 message', pongs);
        return;
      }
      const sentinelId = `~s${++sentinel}`;
      c.write(encodeFrame(OP.text, Buffer.from(JSON.stringify([2, sentinelId, 'Heartbeat', {}]))));
      const answers: unknown[] = [];
      for (;;) {
        const f = await next(c, pongs);
        if (f === undefined)
          throw new FuzzFailure(
            `no answer to the sentinel Heartbeat (connection ${c.ended ? 'ended' : 'silent'}) after ${answers.length} answers: ${describeInput(answers)}`,
          );
        if (f.opcode === OP.close) {
          throw new FuzzFailure(
            `the gateway closed the connection (${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005} ${f.payload.subarray(2).toString()}); expected ${JSON.stringify(expected)}`,
          );
        }
        if (f.opcode !== OP.text) throw new FuzzFailure(`unexpected opcode ${f.opcode} from the gateway`);
        const text = f.payload.toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new FuzzFailure(`the gateway sent a frame that is not JSON: ${text.slice(0, 300)}`);
        }
        if (Array.isArray(parsed) && parsed[0] === 3 && parsed[1] === sentinelId) break;
        answers.push(parsed);
      }
      if (pongs.n !== pingsSent) throw new FuzzFailure(`${pingsSent} pings sent between fragments, ${pongs.n} pongs received`);
      if (expected.kind === 'none') {
        if (answers.length !== 0) throw new FuzzFailure(`expected no answer, got ${describeInput(answers)}`);
        return;
      }
      if (answers.length !== 1) throw new FuzzFailure(`expected exactly one answer ${JSON.stringify(expected)}, got ${describeInput(answers)}`);
      const mismatch = answerMismatch(version, expected, answers[0]);
      if (mismatch !== null) throw new FuzzFailure(mismatch);
    },
    async close() {
      conn?.destroy();
    },
  };
}

/** Upgrade requests, whole or cut short, read or reset. */
function handshakeLane(g: FuzzedGateway, exclude: ReadonlySet<string>, tally: Tally): Lane<HandshakeCase | GarbageCase> {
  const recent = new Recent();
  return {
    name: 'handshakes',
    arb: handshakeCaseArb.filter((c) => !exclude.has(c.ending)),
    recent,
    async run(input) {
      recent.add(describeInput(input));
      const c = await RawConnection.open(g.port);
      try {
        const bytes = input.kind === 'garbage' ? input.bytes : Buffer.from(handshakeRequest(input, g.port, randomBytes(16).toString('base64')));
        const cut = input.kind === 'upgrade' ? Math.floor(bytes.length * input.cut) : Math.floor(bytes.length / 2);
        switch (input.ending) {
          case 'resetAfterSend':
            c.write(bytes);
            c.reset();
            return;
          case 'endAfterSend':
            c.socket.end(bytes);
            await c.waitEnded(2000);
            return;
          case 'partialThenReset':
            c.write(bytes.subarray(0, cut));
            c.reset();
            return;
          case 'partialThenWait':
            c.write(bytes.subarray(0, cut));
            await sleep(100);
            return;
          case 'read':
            break;
        }
        c.write(bytes);
        if (input.kind === 'garbage') {
          // Bytes that are not HTTP, or not yet: rejected at once, or waited for until Node's headers timeout
          // (60 s) when they could still become a request ("U" could be the start of "UNLOCK"). Only the
          // process's survival and everyone else's service are asserted here, by the campaign.
          await c.readHead(300);
          return;
        }
        const expected = expectedHandshake(input);
        tally.add(`HTTP ${expected.status}${'close' in expected ? ' + close 1002' : ''}`);
        const head = await c.readHead(5000);
        if (head === undefined) throw new FuzzFailure(`no HTTP answer (expected ${expected.status})${c.ended ? '; the connection was closed' : ''}`);
        if (head.status !== expected.status)
          throw new FuzzFailure(`expected HTTP ${expected.status}, got: ${head.raw.split('\r\n')[0]} (${(await c.readRefusalBody(500)).trim().slice(0, 200)})`);
        if (expected.status !== 101) return;
        const protocol = head.headers['sec-websocket-protocol'];
        if (protocol !== expected.protocol) throw new FuzzFailure(`expected subprotocol ${String(expected.protocol)}, got ${String(protocol)}`);
        if ('close' in expected) {
          const f = await c.nextFrame(5000);
          const code = f?.opcode === OP.close && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
          if (code !== 1002) throw new FuzzFailure(`no supported version offered: expected close 1002, got ${f ? `opcode ${f.opcode} code ${code}` : 'nothing'}`);
        }
      } finally {
        c.destroy();
      }
    },
    async close() {},
  };
}

/** Ping floods and CALL floods from chargers that do not read, held open a while; slow, dribbled handshakes. */
function floodLane(g: FuzzedGateway, seed: number, exclude: ReadonlySet<string>): Lane<FloodCase> {
  const recent = new Recent();
  const held: RawConnection[] = [];
  let n = 0;
  const hold = (c: RawConnection) => {
    held.push(c);
    while (held.length > 4) held.shift()!.reset();
  };
  return {
    name: 'floods',
    arb: floodCaseArb.filter((c) => !exclude.has(c.kind)),
    recent,
    async run(input) {
      recent.add(describeInput(input));
      const path = `/ocpp/fz-flood-${seed}-${++n}`;
      if (input.kind === 'slowHandshake') {
        const c = await RawConnection.open(g.port);
        try {
          const bytes = Buffer.from(upgradeRequest(path, standardHeaders(g.port, 'ocpp2.0.1')));
          const step = Math.ceil(bytes.length / input.chunks);
          for (let i = 0; i < bytes.length; i += step) {
            c.write(bytes.subarray(i, i + step));
            await sleep(30);
          }
          const head = await c.readHead(5000);
          if (head?.status !== 101 || head.headers['sec-websocket-protocol'] !== 'ocpp2.0.1') {
            throw new FuzzFailure(`a handshake sent in ${input.chunks} pieces was answered ${head ? head.raw.split('\r\n')[0] : 'with nothing'}`);
          }
        } finally {
          c.destroy();
        }
        return;
      }
      const c = await openWebSocket(g.port, path, 'ocpp1.6');
      c.autoPong = false;
      c.socket.pause();
      hold(c);
      const frames: Buffer[] = [];
      if (input.kind === 'pingFlood') {
        const ping = encodeFrame(OP.ping, Buffer.alloc(input.size, 0x70));
        for (let i = 0; i < input.count; i++) frames.push(ping);
      } else {
        // Each is answered with a CALLERROR of some 4 KB (the unknown property is named in it): buffers fill fast.
        const call = (i: number) => encodeFrame(OP.text, Buffer.from(JSON.stringify([2, `f${i}`, 'DataTransfer', { vendorId: 'x', ['p'.repeat(4000)]: 1 }])));
        for (let i = 0; i < input.count; i++) frames.push(call(i));
      }
      c.write(Buffer.concat(frames));
      await sleep(50);
    },
    async close() {
      for (const c of held.splice(0)) c.reset();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const { seed, durationMs } = options;
  const log = options.log ?? (() => {});
  const headroom = options.rssHeadroomBytes ?? 224 * 1024 * 1024;
  const keptHeadroom = options.rssKeptBytes ?? 160 * 1024 * 1024;
  const ceiling = options.heartbeatCeilingMs ?? 5000;
  const exclude = new Set(options.exclude ?? []);
  // Compile the schemas before the clock starts.
  for (const v of VERSIONS) schemaOracle(v);
  const fixture = await createSecurityFixture(seed);
  let g: FuzzedGateway;
  try {
    g = await startFuzzedGateway({ ...fixture.env(), TLS_HANDSHAKE_TIMEOUT_MS: String(TLS_HANDSHAKE_TIMEOUT_MS) });
  } catch (err) {
    await fixture.cleanup();
    throw err;
  }
  const tlsPort = g.proc.tlsPort;
  if (tlsPort === undefined) throw new Error('the fuzzed gateway did not report its TLS port');
  const security: SecurityTarget = { port: g.port, tlsPort, fixture, throttle: new ThrottleModel(), tally: new Tally(), profiles: new Tally(), secrets: new Set() };
  const tlsCounts: TlsLaneCounts = { failed: 0, stalled: 0, resetAfterWrite: 0, resetAtClientFinished: 0 };
  const tlsTally = new Tally();
  const watcher = new WellBehavedCharger(`ws://127.0.0.1:${g.port}/ocpp/well-behaved-${randomBytes(12).toString('hex')}`, ceiling);
  const events = new EventStreamReader();
  let monitor: NodeJS.Timeout | undefined;
  const lanes: Array<Lane<any>> = [];
  try {
    await watcher.start();
    await events.start(g.adminPort);
    const logFrom = g.proc.stdout.length;
    await sleep(1000);
    const baseline = await gatewayRss(g.adminPort);
    const bound = baseline + headroom;
    let maxRss = baseline;
    let fatal: string | undefined;
    let sampling = false;
    let samples = 0;
    let lastRss = baseline;
    const keptBound = baseline + keptHeadroom;
    /** The lowest RSS of the current 30 s window (60 samples). */
    let windowMin = Number.POSITIVE_INFINITY;
    monitor = setInterval(() => {
      if (samples > 0 && samples % 60 === 0) {
        log(
          `fuzz: ${Math.round((samples * 500) / 1000)} s, RSS ${mib(lastRss)} MiB (lowest of the last 30 s ${mib(windowMin)}, max ${mib(maxRss)}), ${watcher.answered} Heartbeats answered`,
        );
        // The first window is the warm-up: caches fill and the heap finds its size.
        if (samples >= 120 && Number.isFinite(windowMin) && windowMin > keptBound)
          fatal ??= `the gateway kept ${mib(windowMin)} MiB through a whole 30 s window (its lowest RSS), over ${mib(keptBound)} MiB (settled at ${mib(baseline)} MiB + ${mib(keptHeadroom)} MiB): memory that is not given back`;
        windowMin = Number.POSITIVE_INFINITY;
      }
      // Every 30 s (above) a progress line: a long run shows whether RSS settles or climbs.
      samples++;
      if (sampling) return;
      if (!g.alive()) {
        fatal ??= g.deathNote();
        return;
      }
      if (watcher.failure !== undefined) fatal ??= watcher.failure;
      if (events.failure !== undefined) fatal ??= events.failure;
      const errorLine = errorLogLine(g.proc.stdout, logFrom);
      if (errorLine !== undefined) fatal ??= `the gateway logged an error: ${errorLine}`;
      sampling = true;
      gatewayRss(g.adminPort)
        .then((rss) => {
          lastRss = rss;
          maxRss = Math.max(maxRss, rss);
          windowMin = Math.min(windowMin, rss);
          if (rss > bound)
            fatal ??= `the gateway's RSS reached ${mib(rss)} MiB, over its bound of ${mib(bound)} MiB (settled at ${mib(baseline)} MiB + ${mib(headroom)} MiB headroom)`;
        })
        .catch((err: Error) => {
          if (g.alive()) fatal ??= `the admin API stopped answering /metrics: ${err.message}`;
        })
        .finally(() => (sampling = false));
    }, 500);
    log(
      `fuzz: seed ${seed}, ${Math.round(durationMs / 1000)} s, gateway on port ${g.port}, RSS settled at ${mib(baseline)} MiB, bound ${mib(bound)} MiB, kept at most ${mib(keptBound)} MiB`,
    );

    const frameTally = new Tally();
    const categories = new Tally();
    const handshakeTally = new Tally();
    lanes.push(
      frameLane(g, 'ocpp1.6', seed, frameTally, categories),
      frameLane(g, 'ocpp2.0.1', seed, frameTally, categories),
      handshakeLane(g, exclude, handshakeTally),
      floodLane(g, seed, exclude),
      credentialsLane(security, seed),
      certificateLane(security, seed),
      tlsHandshakeLane(security, TLS_HANDSHAKE_TIMEOUT_MS, tlsCounts, tlsTally),
    );
    const runs: Record<string, number> = {};
    let errorSeenBy: string | undefined;
    const deadline = Date.now() + durationMs;
    // The input each lane is running: fast-check's time limit may give up on it while it still runs, and its
    // answer must have come (and been counted on both sides) before the lanes close and the counts are compared.
    const inFlight = new Map<string, Promise<void>>();
    const results = await Promise.all(
      lanes.map(async (lane, i) => {
        runs[lane.name] = 0;
        const property = fc.asyncProperty(lane.arb, async (input) => {
          if (fatal !== undefined) throw new FuzzFailure(fatal);
          runs[lane.name]++;
          const running = lane.run(input);
          inFlight.set(
            lane.name,
            running.catch(() => {}),
          );
          await within(running, 30_000, lane.name);
          // Checked after every input, so the input that made the gateway log an error is the one reported.
          const errorLine = errorLogLine(g.proc.stdout, logFrom);
          if (errorLine !== undefined) {
            if (errorSeenBy !== undefined && errorSeenBy !== lane.name) throw new FuzzFailure(`${STOPPED} (lane "${errorSeenBy}" saw the gateway log an error)`);
            errorSeenBy = lane.name;
            throw new FuzzFailure(`the gateway logged an error: ${errorLine}`);
          }
          if (!g.alive()) {
            await sleep(0);
            throw new FuzzFailure(g.deathNote());
          }
          if (fatal !== undefined) throw new FuzzFailure(fatal);
        });
        const details = await fc.check(property, {
          seed: seed + i,
          numRuns: Number.MAX_SAFE_INTEGER,
          interruptAfterTimeLimit: Math.max(1, deadline - Date.now()),
          markInterruptAsFailure: false,
          // A live process carries state from run to run: a shrunk input replayed on it proves less than the
          // original, and a dead process fails every replay. Report the input as found.
          endOnFailure: true,
        });
        return { lane, details, laneSeed: seed + i };
      }),
    );
    const failed = results.filter((r) => r.details.failed);
    const failures = failed.filter((r) => !String((r.details.errorInstance as Error | undefined)?.message).startsWith(STOPPED));
    if (failed.length > 0) {
      const replay = `fuzz campaign seed ${seed} failed (replay: npm run fuzz -- --seed ${seed} --duration ${Math.round(durationMs / 1000)})`;
      const recentOf = (l: Lane<unknown>) => `  "${l.name}" last inputs (oldest first):\n    ${l.recent}`;
      const ownErrorLine = failures.some((f) => String((f.details.errorInstance as Error | undefined)?.message).startsWith('the gateway logged an error'));
      const globalCause = !g.alive() ? g.deathNote() : ownErrorLine ? undefined : fatal;
      if (globalCause !== undefined) {
        // Death, memory, the bystander, the event stream, an error logged: any lane's recent input may be the cause.
        throw new FuzzFailure(`${replay}\n${globalCause}\n${lanes.map(recentOf).join('\n')}`);
      }
      const text = failures
        .map(({ lane, details, laneSeed }) => {
          const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
          return `lane "${lane.name}" (seed ${laneSeed}, path ${details.counterexamplePath}) failed after ${details.numRuns} runs:\n  ${cause}\n  input: ${describeInput(details.counterexample?.[0])}`;
        })
        .join('\n');
      throw new FuzzFailure(`${replay}\n${text}\n${lanes.map(recentOf).join('\n')}`);
    }
    await within(Promise.all(inFlight.values()), 30_000, 'the inputs still running at the time limit');
    for (const lane of lanes.splice(0)) await lane.close();
    await watcher.stop();
    if (watcher.failure !== undefined) throw new FuzzFailure(watcher.failure);
    if (fatal !== undefined) throw new FuzzFailure(fatal);
    const errorLine = errorLogLine(g.proc.stdout, logFrom);
    if (errorLine !== undefined) throw new FuzzFailure(`the gateway logged an error: ${errorLine}`);
    if (events.failure !== undefined) throw new FuzzFailure(events.failure);
    if (!g.alive()) throw new FuzzFailure(g.deathNote());
    await checkCounted(g, frameTally, categories);
    await checkSecurity(g, security, tlsCounts);
    const health = await httpText(g.adminPort, '/healthz');
    if (health.status !== 200) throw new FuzzFailure(`/healthz answered ${health.status} after the campaign`);
    const report: CampaignReport = {
      seed,
      runs,
      heartbeats: watcher.answered,
      maxHeartbeatMs: watcher.maxLatencyMs,
      baselineRssBytes: baseline,
      maxRssBytes: maxRss,
      rssBoundBytes: bound,
    };
    if (watcher.answered === 0) throw new FuzzFailure('the well-behaved charger got no Heartbeat answered');
    log(`fuzz: frames expected: ${frameTally}`);
    log(`fuzz: handshakes expected: ${handshakeTally}`);
    log(`fuzz: credentials and certificates expected: ${security.tally}`);
    const blocked = security.throttle.blocked;
    log(`fuzz: accepted by proven profile: ${security.profiles}; keys blocked by the throttle: ${blocked.identities} identities, ${blocked.addresses} addresses`);
    log(`fuzz: TLS handshakes expected: ${tlsTally}`);
    log(
      `fuzz: seed ${seed} passed: ${Object.entries(runs)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; ` +
        `${watcher.answered} Heartbeats answered (slowest ${watcher.maxLatencyMs} ms); ${mib(events.bytes)} MiB of events streamed; RSS max ${mib(maxRss)} MiB of ${mib(bound)} MiB`,
    );
    return report;
  } finally {
    clearInterval(monitor);
    events.stop();
    for (const lane of lanes) await lane.close();
    await watcher.stop().catch(() => {});
    const code = await g.stop();
    await fixture.cleanup();
    if (code !== 0 && g.proc.child.signalCode === null) log(`fuzz: the gateway exited with ${code} when stopped`);
  }
}

/**
 * Every input of the frame lanes was counted, exactly: malformed and binary frames, unmatched responses, and each
 * CALLERROR code sent. FormationViolation and GenericError are left out: the flood lane's CALLs earn them too
 * (a schema refusal each, or a GenericError once more are waiting than the pipelining bound allows), as many as
 * the gateway read before their connection went, which no one can predict.
 */
async function checkCounted(g: FuzzedGateway, answers: Tally, categories: Tally): Promise<void> {
  const metrics = await scrapeMetrics(g.adminPort);
  const count = (t: Tally, key: string) => t.counts.get(key) ?? 0;
  const problems: string[] = [];
  const expect = (name: string, want: number) => {
    const got = metrics.get(name) ?? 0;
    if (got !== want) problems.push(`${name} is ${got}, expected ${want}`);
  };
  expect('ocpp_malformed_frames_total', count(categories, 'malformed') + count(categories, 'brokenResponse') + count(categories, 'binary'));
  expect('ocpp_malformed_frames_total{problem="binary_frame"}', count(categories, 'binary'));
  expect('ocpp_unmatched_responses_total', count(categories, 'response') + count(categories, 'brokenResponse'));
  for (const code of [
    'ProtocolError',
    'RpcFrameworkError',
    'MessageTypeNotSupported',
    'FormatViolation',
    'OccurenceConstraintViolation',
    'PropertyConstraintViolation',
    'TypeConstraintViolation',
    'NotImplemented',
    'NotSupported',
    'InternalError',
  ]) {
    expect(`ocpp_callerrors_sent_total{code="${code}"}`, count(answers, code));
  }
  if (problems.length > 0) throw new FuzzFailure(`inputs were not counted as they were answered: ${problems.join('; ')}`);
}

/**
 * Short, so the TLS lane's stalled handshakes are dropped within a few seconds of the campaign and each costs the
 * lane little time; the default (10 s) is what operators get.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 3000;

/**
 * The security lanes' outcomes as the gateway counted them: every failed TLS handshake exactly once (stalled ones
 * as timeouts), every accepted connection under the profile it proved; and not one secret in its output.
 */
async function checkSecurity(g: FuzzedGateway, t: SecurityTarget, tls: TlsLaneCounts): Promise<void> {
  const problems: string[] = [];
  // A reset reaches the gateway a moment after the lane has moved on: give the last ones time to be counted.
  let metrics = await scrapeMetrics(g.adminPort);
  for (let i = 0; i < 50 && (metrics.get('ocpp_tls_client_errors_total') ?? 0) < tls.failed; i++) {
    await sleep(100);
    metrics = await scrapeMetrics(g.adminPort);
  }
  const got = (name: string) => metrics.get(name) ?? 0;
  const counted = got('ocpp_tls_client_errors_total');
  if (counted > tls.failed + tls.resetAtClientFinished || counted < tls.failed - tls.resetAfterWrite) {
    const byReason = [...metrics].filter(([name]) => name.startsWith('ocpp_tls_client_errors_total{')).map(([name, v]) => `${name.slice(29)} ${v}`);
    const dropped = got('ocpp_connection_attempts_total{outcome="too_many_handshakes_tls"}');
    problems.push(
      `ocpp_tls_client_errors_total is ${counted} (${byReason.join(', ')}; dropped by the handshake bound ${dropped}), expected ${tls.failed} ` +
        `(at least ${tls.failed - tls.resetAfterWrite}: ${tls.resetAfterWrite} ended with a reset right after writing; ` +
        `at most ${tls.failed + tls.resetAtClientFinished}: ${tls.resetAtClientFinished} reset as soon as the client had sent its Finished)`,
    );
  }
  if (got('ocpp_tls_client_errors_total{reason="timeout"}') !== tls.stalled)
    problems.push(
      `ocpp_tls_client_errors_total{reason="timeout"} is ${got('ocpp_tls_client_errors_total{reason="timeout"}')}, expected ${tls.stalled} (the stalled handshakes)`,
    );
  for (const profile of ['1', '2', '3']) {
    const name = `ocpp_security_profile_connections_total{profile="${profile}"}`;
    const want = t.profiles.counts.get(profile) ?? 0;
    if (got(name) !== want) problems.push(`${name} is ${got(name)}, expected ${want}`);
  }
  const output = [...g.proc.stdout, ...g.proc.stderr].join('\n');
  for (const secret of [...t.fixture.passwords, ...t.secrets]) {
    if (output.includes(secret)) problems.push(`the gateway printed a secret (${secret.length} characters, starting ${JSON.stringify(secret.slice(0, 3))})`);
  }
  if (problems.length > 0) throw new FuzzFailure(`the security lanes' inputs were not counted as they were answered, or leaked: ${problems.join('; ')}`);
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
