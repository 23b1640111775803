/**
 * The services cluster mode stands on, started by the benchmark for one target run and stopped after
 * it: a private `nats-server -js` (its storage in a temp dir) and a private `redis-server` (no
 * persistence), each on a free loopback port. Nothing of a shared server is touched, and each run
 * starts with an empty stream and an empty registry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { freePort } from './targets.js';

/** What the services hold at one moment: the events stream and the Redis keys, memory and command count. */
export interface ServicesSnapshot {
  atMs: number;
  stream: { name: string; messages: number; bytes: number } | null;
  redis: { keys: number; usedMemoryBytes: number; commandsProcessed: number; commandCalls: Record<string, number> } | null;
}

/** The services' figures over a load window: from two snapshots. */
export interface ServicesFigures {
  stream: { name: string; messages: number; bytes: number; bytesPerEvent: number | null; eventsPerSec: number | null } | null;
  redis: {
    keysLoaded: number;
    usedMemoryBeforeMB: number;
    usedMemoryLoadedMB: number;
    commandsPerSec: number | null;
    /** Redis commands by name over the window (commands run inside scripts included). */
    commandCalls: Record<string, number>;
  } | null;
}

export interface ClusterServices {
  natsUrl: string;
  redisUrl: string;
  natsPid: number;
  redisPid: number;
  /** The stream's and Redis's state now (a part is null when it could not be read). */
  snapshot(): Promise<ServicesSnapshot>;
  /** Stops both and removes the NATS storage. */
  stop(): Promise<void>;
}

const STREAM = 'OCPP_EVENTS';

async function streamState(url: string): Promise<ServicesSnapshot['stream']> {
  let nc: Awaited<ReturnType<typeof natsConnect>> | undefined;
  try {
    nc = await natsConnect({ servers: url, reconnect: false, timeout: 2000 });
    const info = await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(STREAM);
    return { name: STREAM, messages: info.state.messages, bytes: info.state.bytes };
  } catch {
    return null;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

function infoField(text: string, field: string): number {
  const line = text.split('\r\n').find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.slice(field.length + 1)) : 0;
}

async function redisState(client: Redis): Promise<ServicesSnapshot['redis']> {
  try {
    const [memory, stats, commandstats, keys] = await Promise.all([client.info('memory'), client.info('stats'), client.info('commandstats'), client.dbsize()]);
    const calls: Record<string, number> = {};
    for (const line of commandstats.split('\r\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (m) calls[m[1]] = Number(m[2]);
    }
    return { keys, usedMemoryBytes: infoField(memory, 'used_memory'), commandsProcessed: infoField(stats, 'total_commands_processed'), commandCalls: calls };
  } catch {
    return null;
  }
}

/** The window between two snapshots; the benchmark's own INFO calls are left in (a handful). */
export function servicesFigures(before: ServicesSnapshot, loaded: ServicesSnapshot): ServicesFigures {
  const sec = Math.max(0.001, (loaded.atMs - before.atMs) / 1000);
  const mb = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  const s = loaded.stream;
  const b = before.stream;
  const r = loaded.redis;
  const rb = before.redis;
  const calls: Record<string, number> = {};
  if (r && rb) {
    for (const [name, n] of Object.entries(r.commandCalls)) {
      const d = n - (rb.commandCalls[name] ?? 0);
      if (d > 0) calls[name] = d;
    }
  }
  return {
    stream: s
      ? {
          name: s.name,
          messages: s.messages,
          bytes: s.bytes,
          bytesPerEvent: s.messages > 0 ? Math.round(s.bytes / s.messages) : null,
          eventsPerSec: b ? Math.round((s.messages - b.messages) / sec) : null,
        }
      : null,
    redis: r
      ? {
          keysLoaded: r.keys,
          usedMemoryBeforeMB: rb ? mb(rb.usedMemoryBytes) : 0,
          usedMemoryLoadedMB: mb(r.usedMemoryBytes),
          commandsPerSec: rb ? Math.round((r.commandsProcessed - rb.commandsProcessed) / sec) : null,
          commandCalls: calls,
        }
      : null,
  };
}

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';
const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Resolves with the first line a server sends (or answers to `hello`) at the port, null when nothing does. */
function firstLine(port: number, hello: string | null, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (line: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('connect', () => {
      if (hello !== null) socket.write(hello);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const i = text.indexOf('\r\n');
      if (i >= 0) done(text.slice(0, i));
    });
    socket.on('error', () => done(null));
  });
}

async function waitReady(what: string, child: ChildProcess, ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.signalCode ?? child.exitCode}) while starting`);
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function spawnService(bin: string, args: string[]): ChildProcess {
  const child = spawn(bin, args, { stdio: 'ignore' });
  // A missing binary is reported by the readiness wait (the process "exits"), not as an unhandled error.
  child.on('error', () => {});
  return child;
}

/** Starts a private NATS (JetStream) and Redis; resolves once both answer. */
export async function startClusterServices(): Promise<ClusterServices> {
  const storeDir = await mkdtemp(join(tmpdir(), 'bench-nats-'));
  const natsPort = await freePort();
  const redisPort = await freePort();
  const nats = spawnService(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', storeDir]);
  const redis = spawnService(REDIS_SERVER_BIN, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  let client: Redis | undefined;
  const stop = async (): Promise<void> => {
    client?.disconnect();
    await Promise.all([stopChild(nats), stopChild(redis)]);
    await rm(storeDir, { recursive: true, force: true });
  };
  try {
    await waitReady(`${NATS_SERVER_BIN} on port ${natsPort}`, nats, async () => /"jetstream":true/.test((await firstLine(natsPort, null)) ?? ''));
    await waitReady(`${REDIS_SERVER_BIN} on port ${redisPort}`, redis, async () => (await firstLine(redisPort, 'PING\r\n')) === '+PONG');
  } catch (error) {
    await stop();
    throw error;
  }
  const natsUrl = `nats://127.0.0.1:${natsPort}`;
  return {
    natsUrl,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    natsPid: nats.pid!,
    redisPid: redis.pid!,
    snapshot: async () => {
      client ??= new Redis({ host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: 1, lazyConnect: false });
      const [stream, r] = await Promise.all([streamState(natsUrl), redisState(client)]);
      return { atMs: Date.now(), stream, redis: r };
    },
    stop,
  };
}
