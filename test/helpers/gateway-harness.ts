/**
 * Starts real gateways for tests: in-process (the composition root on port 0) or as the real server process.
 * Every helper cleans up what it made: sockets, temp folders and child processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../bench/targets.js';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/observability/logger.js';

export interface GatewayHarness {
  gateway: Gateway;
  /** `ws://127.0.0.1:PORT/ocpp` (or the configured prefix): append `/{identity}`. */
  url: string;
  port: number;
  stateDir: string;
  /** Stops the gateway and removes the temp folders it created (not a stateDir passed in). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Config overrides, layered last (e.g. `{ ocpp: { maxQueuedInboundCalls: 2 } }`). */
  overrides?: Record<string, unknown>;
  /** Reuse a state folder (to restart on it); it is then left in place. */
  stateDir?: string;
}

/** Merges plain objects key by key (arrays and scalars replace). */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** A real in-process gateway on 127.0.0.1 and a free port, with a silent logger and a fresh temp state folder. */
export async function startGateway(options: StartOptions = {}): Promise<GatewayHarness> {
  const configDir = await mkdtemp(join(tmpdir(), 'gw-config-'));
  const ownState = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'gw-state-')));
  let gateway: Gateway | undefined;
  try {
    const config = loadConfig({
      configDir,
      env: {},
      overrides: merge({ server: { host: '127.0.0.1', port: 0 }, instance: { stateDir } }, options.overrides ?? {}),
    });
    gateway = await Gateway.create({ config, log: createLogger('silent') });
    const port = await gateway.start();
    const g = gateway;
    let stopped: Promise<void> | undefined;
    return {
      gateway: g,
      port,
      url: `ws://127.0.0.1:${port}${config.server.pathPrefix === '/' ? '' : config.server.pathPrefix}`,
      stateDir,
      stop: () =>
        (stopped ??= (async () => {
          try {
            await g.stop();
          } finally {
            await rm(configDir, { recursive: true, force: true });
            if (ownState) await rm(stateDir, { recursive: true, force: true });
          }
        })()),
    };
  } catch (err) {
    await rm(configDir, { recursive: true, force: true });
    if (ownState) await rm(stateDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The current value of a counter or gauge in the gateway's registry, summed over the label sets that match
 * `labels` (all of them when none are given); 0 when the metric has no value yet.
 */
export async function metricValue(gateway: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = gateway.metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric named ${name}`);
  const data = await metric.get();
  let sum = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number | undefined>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}

/** Polls until `check` is true; throws with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw HTTP upgrades: for what the ws client hides (a 101 without a subprotocol, the close frame's bytes).

export interface RawUpgradeResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body of a refusal (non-101). */
  body: string;
  /** The first frame the server sent after a 101, when it was a close frame. */
  close?: { code: number; reason: string };
  /** Opcode of the first frame after a 101 (0x8 = close), undefined when none came in time. */
  firstOpcode?: number;
}

/** A WebSocket upgrade sent by hand on a raw socket that keeps every byte it receives and answers nothing. */
export interface HandWrittenUpgrade {
  socket: Socket;
  received(): Buffer;
}

/** Connects, sends the upgrade request for `path` offering ocpp1.6, and keeps what the server sends. */
export async function handWrittenUpgrade(port: number, path: string): Promise<HandWrittenUpgrade> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let bytes = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (bytes = Buffer.concat([bytes, chunk])));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n',
  );
  return { socket, received: () => bytes };
}

/**
 * Sends a WebSocket upgrade request by hand and reports the answer, and after a 101 the first server frame
 * (waiting at most `frameWaitMs` for it; then the socket is dropped and `firstOpcode` is undefined).
 */
export function rawUpgrade(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  { timeoutMs = 3000, frameWaitMs = 1000 }: { timeoutMs?: number; frameWaitMs?: number } = {},
): Promise<RawUpgradeResult> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`raw upgrade of ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      const frameTimer = setTimeout(() => finish(), frameWaitMs);
      let buffer = head;
      const result: RawUpgradeResult = { status: res.statusCode ?? 0, headers: res.headers, body: '' };
      const finish = () => {
        clearTimeout(frameTimer);
        socket.destroy();
        resolve(result);
      };
      const tryParse = () => {
        if (buffer.length < 2) return false;
        const opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return false;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return false;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return false;
        result.firstOpcode = opcode;
        if (opcode === 0x8) {
          const payload = buffer.subarray(offset, offset + length);
          result.close = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() } : { code: 1005, reason: '' };
        }
        return true;
      };
      if (tryParse()) return finish();
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        if (tryParse()) finish();
      });
      socket.on('end', finish);
      socket.on('error', finish);
    });
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The real server process.

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');

/** A port that was free a moment ago: the benchmark's helper, shared so both pick ports alike. */
export { freePort };

export interface ServerProcess {
  child: ChildProcess;
  /** The plain listener's port; the TLS one's when the plain listener is off. */
  port: number;
  /** The TLS listener's port, when it has one. */
  tlsPort?: number;
  /**
   * The admin API's port, as the process reports it once it is up (the kernel picks it unless ADMIN_PORT is given).
   * A primary with workers reports ADMIN_PORT as configured.
   */
  adminPort: number;
  /** The environment the process was started with, the harness's defaults included. */
  env: Readonly<Record<string, string>>;
  url: string;
  /** Every stdout line so far (pino JSON). */
  stdout: string[];
  stderr: string[];
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. Removes the temp folders it made. */
  stop(): Promise<number | null>;
}

export interface ProcessOptions {
  /**
   * Environment for the process, on top of PATH, a temp STATE_DIR, an empty CONFIG_DIR, SERVER_HOST=127.0.0.1,
   * LOG_LEVEL=info, ADMIN_PORT=0 (any free port), SHUTDOWN_DRAIN_MS=0 and glibc's fixed mmap threshold as
   * `npm start` sets it (each replaced when given here).
   *
   * A function is called again for every attempt: a port it picks with `freePort` is picked again when another
   * socket took it before the process could bind it (the attempt fails with EADDRINUSE and the next one runs).
   * Prefer port 0 where the process reports the port it bound (ADMIN_PORT, TLS_PORT): then nothing can collide.
   */
  env?: Record<string, string> | (() => Promise<Record<string, string>>);
  /** Start it without the mmap threshold `npm start` sets, as `node dist/src/main.js` alone would be. */
  withoutMallocTuning?: boolean;
  timeoutMs?: number;
}

async function processEnvironment(env: Record<string, string>, withoutMallocTuning = false): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const made: string[] = [];
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    SERVER_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The admin API listens too: on a port the kernel picks when it binds, so processes in parallel never collide
    // (a port found free beforehand can be handed to another test's client socket before the process binds it).
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    SHUTDOWN_DRAIN_MS: '0',
  };
  // As `npm start` sets it (package.json).
  if (!withoutMallocTuning) base.MALLOC_MMAP_THRESHOLD_ = '131072';
  if (env.CONFIG_DIR === undefined) made.push((base.CONFIG_DIR = await mkdtemp(join(tmpdir(), 'gw-proc-config-'))));
  if (env.STATE_DIR === undefined) made.push((base.STATE_DIR = await mkdtemp(join(tmpdir(), 'gw-proc-state-'))));
  return {
    env: { ...base, ...env },
    cleanup: async () => {
      for (const dir of made) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Spawns `node dist/src/main.js` on a free port (unless SERVER_PORT is given) and waits for its
 * "gateway accepting chargers" log line; the ports are read from that line.
 *
 * SERVER_PORT is a port found free, not 0, because tests read it back from the effective configuration. A port found
 * free can be handed to another test's client socket before the process binds it; a process that fails to start for
 * that reason is started again with ports picked again (at most three times): the one chosen here, and those an
 * `env` function picks. A fixed SERVER_PORT in an `env` object is the caller's and is not retried.
 */
export async function startServerProcess(options: ProcessOptions = {}): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const callerEnv = typeof options.env === 'function' ? await options.env() : (options.env ?? {});
    try {
      return await startServerProcessOnce(callerEnv, options);
    } catch (err) {
      const portsPickedAgain = typeof options.env === 'function' || callerEnv.SERVER_PORT === undefined;
      if (!portsPickedAgain || attempt >= 3 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

async function startServerProcessOnce(callerEnv: Record<string, string>, options: ProcessOptions): Promise<ServerProcess> {
  const { env, cleanup } = await processEnvironment({ SERVER_PORT: String(await freePort()), ...callerEnv }, options.withoutMallocTuning);
  const child = spawn(process.execPath, [MAIN], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<number | null> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(timer);
        await cleanup();
        return code;
      }
      await cleanup();
      return child.exitCode;
    })());

  let tlsPort: number | undefined;
  let adminPort = Number(env.ADMIN_PORT);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the gateway process did not start within ${options.timeoutMs ?? 15000} ms`)), options.timeoutMs ?? 15000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(new Error(`${err.message}\nstderr: ${stderr.join('\n')}\nstdout: ${stdout.slice(-5).join('\n')}`));
    };
    lines(child.stderr!, (line) => stderr.push(line));
    lines(child.stdout!, (line) => {
      stdout.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number | null; tlsPort?: number | null; adminPort?: number };
        if (entry.msg === 'gateway accepting chargers' && (typeof entry.port === 'number' || typeof entry.tlsPort === 'number')) {
          clearTimeout(timer);
          if (typeof entry.tlsPort === 'number') tlsPort = entry.tlsPort;
          if (typeof entry.adminPort === 'number' && entry.adminPort !== 0) adminPort = entry.adminPort;
          resolve(typeof entry.port === 'number' ? entry.port : (tlsPort as number));
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => fail(new Error(`the gateway process exited with ${code} before accepting chargers`)));
  }).catch(async (err: Error) => {
    await stop();
    throw err;
  });
  return { child, port, tlsPort, adminPort, env, url: `ws://127.0.0.1:${port}`, stdout, stderr, stop };
}

/** Runs the server process expecting it to exit by itself (a bad config); kills it after `timeoutMs`. */
export async function runServerProcessToExit(options: ProcessOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const callerEnv = typeof options.env === 'function' ? await options.env() : (options.env ?? {});
  const { env, cleanup } = await processEnvironment(callerEnv, options.withoutMallocTuning);
  const child = spawn(process.execPath, [MAIN], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  await cleanup();
  return { code, stdout, stderr };
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      onLine(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
}

/** A GET without upgrade, for the plain-HTTP answers. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `promise`, or a rejection naming `what` after `timeoutMs`; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
