/**
 * The servers a benchmark scenario measures, each started as a fresh child process on a free
 * loopback port: the gateway (`dist/src/main.js`, default configuration: strict schema validation,
 * events published on the embedded bus) and the raw `ws` baseline responder. Only one runs at a
 * time; each is stopped (SIGTERM, then SIGKILL) before the next starts. `tls` is the same gateway serving chargers
 * over TLS only, every one of them in its credential store and pinned to security profile 2 (TLS + Basic auth).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { makeTlsFleetFiles } from './tls-fleet.js';

/**
 * `cluster`: the gateway in cluster mode (NATS + Redis given in `StartOptions.cluster`), possibly with several workers.
 * `tls`: the embedded gateway with the plain port off, chargers over TLS with Basic auth (`StartOptions.tlsFleet`).
 * `peer`: the second baseline, an OCPP server on the ocpp-rpc library in strict mode (bench/baseline/ocpp-rpc-peer.ts).
 */
export type TargetKind = 'baseline' | 'peer' | 'gateway' | 'cluster' | 'tls';

/** The baselines: small stand-alone servers that print `listening <port>`, without admin API or config. */
export function isBaselineKind(kind: TargetKind): kind is 'baseline' | 'peer' {
  return kind === 'baseline' || kind === 'peer';
}

/** The repository root (this file runs from dist/bench/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GATEWAY_MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');
const RESPONDER = join(REPO_ROOT, 'dist', 'bench', 'baseline', 'responder.js');
const PEER = join(REPO_ROOT, 'dist', 'bench', 'baseline', 'ocpp-rpc-peer.js');

export interface StartOptions {
  /**
   * Open the V8 inspector on a free loopback port, so that the benchmark can force a full garbage
   * collection before reading RSS (the idle-memory scenario). Nothing attaches otherwise.
   */
  inspect?: boolean;
  /** Extra Node.js options for the process, e.g. `--cpu-prof` to profile it. */
  nodeArgs?: string[];
  /**
   * A program that runs Node.js for the target, with its own arguments before Node's (e.g. `valgrind` and its
   * options, for bench/instructions.ts). The program must keep the process id, as valgrind does.
   */
  launcher?: string[];
  /**
   * For the gateway kinds: settings by their environment variable (e.g. `ADMISSION_MAX_HANDSHAKES`), over the
   * benchmark's own. The run records them (`gatewayEnv` in its results) and is then not used for BENCHMARKS.md.
   */
  gatewayEnv?: Record<string, string>;
  /** How long to wait for readiness. */
  timeoutMs?: number;
  /** For `cluster`: the services, the instance id and the number of worker processes (`WORKERS`). */
  cluster?: { natsUrl: string; redisUrl: string; podId: string; workers?: number };
  /** For `tls`: the identities of the fleet, each given a credential record (profile 2, one shared password). */
  tlsFleet?: string[];
}

export interface Target {
  kind: TargetKind;
  pid: number;
  port: number;
  /** Chargers connect to `${url}/{identity}`. */
  url: string;
  /** The environment given to the process beyond PATH (for the results). */
  env: Record<string, string>;
  /** The admin API's port (0 for the baseline). */
  adminPort: number;
  /** For `tls`: what each charger connects with (its password; the CA to trust for the server's certificate). */
  chargerAuth?: { password: string; caFile: string };
  argv: string[];
  /** Last lines of the process's stderr and stdout, for a note when something went wrong. */
  output(): string[];
  /** Whether the process is still running. */
  alive(): boolean;
  /** A full, synchronous garbage collection in the target (needs `inspect`). */
  collectGarbage(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** GET over HTTP; the status code, or 0 when nothing answered. */
function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** GET over HTTP; the body when the answer is 200, else null. */
export function httpText(port: number, path: string, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

const OUTPUT_LINES = 40;

/**
 * `--gateway-env "A=1 B=2"`: settings for the gateway under test by environment variable. Names are the
 * gateway's own upper-case variables; anything else is refused, so a typo cannot pass for a setting.
 */
export function parseGatewayEnv(text: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (text ?? '').split(/\s+/).filter(Boolean)) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (match === null) throw new RangeError(`--gateway-env: "${pair}" is not NAME=value with an upper-case NAME`);
    env[match[1]] = match[2];
  }
  return env;
}

/** Starts one target and resolves once it accepts chargers. */
export async function startTarget(kind: TargetKind, options: StartOptions = {}): Promise<Target> {
  const port = await freePort();
  const cleanups: Array<() => Promise<void>> = [];
  const env: Record<string, string> = {};
  const args: string[] = [];
  if (options.inspect) args.push('--inspect=127.0.0.1:0');
  args.push(...(options.nodeArgs ?? []));
  let url = `ws://127.0.0.1:${port}/ocpp`;
  let chargerAuth: Target['chargerAuth'];
  if (kind === 'gateway' || kind === 'cluster' || kind === 'tls') {
    const configDir = await mkdtemp(join(tmpdir(), 'bench-gw-config-'));
    const stateDir = await mkdtemp(join(tmpdir(), 'bench-gw-state-'));
    cleanups.push(
      () => rm(configDir, { recursive: true, force: true }),
      () => rm(stateDir, { recursive: true, force: true }),
    );
    Object.assign(env, {
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(port),
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(await freePort()),
      STATE_DIR: stateDir,
      // An empty folder: the built-in defaults, not the repository's config/application.yaml.
      CONFIG_DIR: configDir,
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '0',
    });
    Object.assign(env, options.gatewayEnv ?? {});
    if (kind === 'cluster') {
      const c = options.cluster;
      if (!c) throw new Error('a cluster target needs StartOptions.cluster');
      Object.assign(env, { NATS_URL: c.natsUrl, REDIS_URL: c.redisUrl, POD_ID: c.podId, WORKERS: String(c.workers ?? 1) });
    }
    if (kind === 'tls') {
      if (!options.tlsFleet?.length) throw new Error('a tls target needs StartOptions.tlsFleet');
      const files = await makeTlsFleetFiles(options.tlsFleet);
      cleanups.push(files.remove);
      const tlsPort = await freePort();
      Object.assign(env, {
        TLS_PORT: String(tlsPort),
        TLS_CERT_FILE: files.certFile,
        TLS_KEY_FILE: files.keyFile,
        SERVER_PLAIN_ENABLED: 'false',
        CREDENTIALS_FILE: files.credentialsFile,
        ALLOW_UNKNOWN_CHARGERS: 'false',
      });
      url = `wss://127.0.0.1:${tlsPort}/ocpp`;
      chargerAuth = { password: files.password, caFile: files.caFile };
    }
    args.push(GATEWAY_MAIN);
  } else {
    args.push(kind === 'peer' ? PEER : RESPONDER, '--port', String(port), '--host', '127.0.0.1');
  }

  const [command, ...commandArgs] = options.launcher?.length ? [...options.launcher, process.execPath, ...args] : [process.execPath, ...args];
  const child: ChildProcess = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let inspectorUrl: string | null = null;
  let stderrText = '';
  let stdoutText = '';
  const keep = (line: string): void => {
    output.push(line);
    if (output.length > OUTPUT_LINES) output.shift();
  };
  let onStdout: (text: string) => void = () => {};
  child.stdout!.on('data', (chunk: Buffer) => {
    stdoutText += chunk.toString();
    let i: number;
    while ((i = stdoutText.indexOf('\n')) >= 0) {
      const line = stdoutText.slice(0, i);
      stdoutText = stdoutText.slice(i + 1);
      keep(line);
      onStdout(line);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderrText += chunk.toString();
    let i: number;
    while ((i = stderrText.indexOf('\n')) >= 0) {
      const line = stderrText.slice(0, i);
      stderrText = stderrText.slice(i + 1);
      const m = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (m) inspectorUrl = m[1];
      keep(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const stop = (graceMs = 30_000) =>
    (stopping ??= (async () => {
      if (!ended) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      for (const c of cleanups) await c();
      return exited;
    })());

  try {
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 20_000;
      const deadline = Date.now() + timeoutMs;
      let done = false;
      const finish = (error?: Error): void => {
        if (done) return;
        done = true;
        clearInterval(poll);
        if (error) reject(error);
        else resolve();
      };
      void exited.then(({ code, signal }) => finish(new Error(`${kind} exited (${signal ?? code}) before it was ready:\n${output.join('\n')}`)));
      // The baseline prints `listening <port>`; the gateway logs "gateway accepting chargers" at
      // info, which LOG_LEVEL=warn hides, so its admin /readyz (up after the charger listener) says it.
      // With several workers the first worker's /readyz says nothing of the others: the primary's
      // `gateway_workers_ready` gauge on /metrics counts them.
      const workers = kind === 'cluster' ? (options.cluster?.workers ?? 1) : 1;
      onStdout = (line) => {
        if (isBaselineKind(kind) && /^listening \d+/.test(line)) finish();
        if (!isBaselineKind(kind) && workers === 1 && line.includes('"gateway accepting chargers"')) finish();
      };
      const poll = setInterval(() => {
        if (Date.now() > deadline) {
          finish(new Error(`${kind} was not ready within ${timeoutMs} ms:\n${output.join('\n')}`));
          return;
        }
        if (!isBaselineKind(kind) && workers === 1) {
          void httpStatus(Number(env.ADMIN_PORT), '/readyz').then((status) => {
            if (status === 200) finish();
          });
        } else if (!isBaselineKind(kind)) {
          void httpText(Number(env.ADMIN_PORT), '/metrics').then((text) => {
            const m = /^gateway_workers_ready(?:\{[^}]*\})? (\d+)/m.exec(text ?? '');
            if (m && Number(m[1]) >= workers) finish();
          });
        }
      }, 100);
    });
    if (options.inspect) {
      const until = Date.now() + 5000;
      while (!inspectorUrl && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      if (!inspectorUrl) throw new Error(`${kind}: the inspector did not announce its address`);
    }
  } catch (error) {
    await stop(2000);
    throw error;
  }

  return {
    kind,
    pid: child.pid!,
    port,
    url,
    env,
    ...(chargerAuth ? { chargerAuth } : {}),
    adminPort: env.ADMIN_PORT ? Number(env.ADMIN_PORT) : 0,
    argv: [command, ...commandArgs],
    output: () => [...output],
    alive: () => !ended,
    collectGarbage: () => {
      if (!inspectorUrl) return Promise.reject(new Error(`${kind} was started without the inspector`));
      return inspectorCall(inspectorUrl, 'HeapProfiler.collectGarbage');
    },
    stop,
  };
}

/** One DevTools-protocol command over the target's inspector socket. */
function inspectorCall(url: string, method: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => ws.send(JSON.stringify({ id: 1, method })));
    ws.on('message', (data) => {
      const reply = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
      if (reply.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
      else resolve();
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
