/**
 * Redis for the registry tests: the shared server at 127.0.0.1:6379 (with a key prefix of the test run's own),
 * or a private redis-server on a free port that fault tests may kill, stall and restart.
 *
 * Without Redis the tests are skipped with the reason, except in CI (`CI=true`), where a missing Redis is a failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../bench/targets.js';

export const SHARED_REDIS = { host: '127.0.0.1', port: 6379 };
const inCi = process.env.CI === 'true';

/** PING over a plain socket: true when a Redis answers PONG within a second. */
export function redisAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** `false` when the shared Redis answers, else the reason to skip; throws in CI, where Redis must be there. */
export async function sharedRedisSkipReason(): Promise<string | false> {
  if (await redisAnswers(SHARED_REDIS.port, SHARED_REDIS.host)) return false;
  const reason = `no Redis answers PING at ${SHARED_REDIS.host}:${SHARED_REDIS.port}`;
  if (inCi) throw new Error(`${reason}; CI=true requires it for the registry tests`);
  return `${reason} (start one to run these tests)`;
}

/** `false` when redis-server can be started here, else the reason to skip; throws in CI. */
export async function ownRedisSkipReason(): Promise<string | false> {
  const found = await new Promise<boolean>((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (found) return false;
  const reason = 'redis-server is not on the PATH';
  if (inCi) throw new Error(`${reason}; CI=true requires it for the registry fault tests`);
  return `${reason} (install Redis to run these tests)`;
}

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `test-registry-${process.pid}-${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix` (test clean-up; the registry itself never deletes unconditionally). */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** Every key under `prefix`. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** One number from INFO, e.g. `infoNumber(client, 'stats', 'total_commands_processed')`. */
export async function infoNumber(client: Redis, section: string, field: string): Promise<number> {
  const info = await client.info(section);
  const line = info.split('\r\n').find((l) => l.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`INFO ${section} has no ${field}`);
  return Number(line.slice(field.length + 1));
}

/** Calls of every command so far, from INFO commandstats (commands run by scripts count too). */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await client.info('commandstats')).split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match !== null) calls.set(match[1], Number(match[2]));
  }
  return calls;
}

/** The commands called between two `commandCalls` snapshots, by name (only those called at all). */
export function callsBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, count] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const delta = count - (before.get(name) ?? 0);
    if (delta > 0) out[name] = delta;
  }
  return out;
}

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A redis-server of the test's own. Without persistence by default: a restart starts it empty. `persistent`
 * keeps its data in a temp dir with an append-only file synced on every write (as production runs it), so a
 * kill and restart keeps every acknowledged write.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dataDir: string | undefined,
  ) {}

  static async start(options: { persistent?: boolean } = {}): Promise<OwnRedis> {
    const dataDir = options.persistent === true ? await mkdtemp(path.join(tmpdir(), 'redis-test-')) : undefined;
    const server = new OwnRedis(await freePort(), dataDir);
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after `kill`). */
  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('the test redis-server is already running');
    const persistence =
      this.dataDir === undefined ? ['--save', '', '--appendonly', 'no'] : ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dataDir];
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', ...persistence], { stdio: 'ignore' });
    this.child = child;
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitUntil(() => redisAnswers(this.port), `redis-server on port ${this.port}`);
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the process without closing its sockets: connections stay open and nothing answers. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  client(): Redis {
    return new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: false });
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    if (this.dataDir !== undefined) await rm(this.dataDir, { recursive: true, force: true });
  }
}
