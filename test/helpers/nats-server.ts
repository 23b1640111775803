import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The NATS server the tests share (with JetStream); override with NATS_URL. */
export const SHARED_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
/** The server binary fault tests start themselves; override with NATS_SERVER_BIN. */
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

const IN_CI = process.env.CI === 'true';

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 4222) };
}

/** Resolves with the server's INFO line when something speaking NATS answers at host:port. */
function probe(host: string, port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let text = '';
    const done = (result: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) done(text.startsWith('INFO ') ? text : null);
    });
    socket.on('error', () => done(null));
  });
}

/**
 * `false` when the shared server is there with JetStream, else the reason to skip (node:test's `skip` option).
 * Under CI (CI=true) a missing server is a failure, not a skip: the import of the test file throws.
 */
export async function sharedNatsSkipReason(): Promise<false | string> {
  const { host, port } = hostPort(SHARED_NATS_URL);
  const info = await probe(host, port);
  let reason: string | null = null;
  if (info === null) reason = `NATS not reachable at ${SHARED_NATS_URL}: start nats-server -js (or set NATS_URL)`;
  else if (!/"jetstream":true/.test(info)) reason = `NATS at ${SHARED_NATS_URL} has no JetStream: start nats-server -js`;
  if (reason === null) return false;
  if (IN_CI) throw new Error(`${reason} (CI=true: the NATS tests must run)`);
  return reason;
}

/** `false` when the nats-server binary can be started, else the reason to skip (a failure under CI). */
export async function natsServerBinarySkipReason(): Promise<false | string> {
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn(NATS_SERVER_BIN, ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (ok) return false;
  const reason = `${NATS_SERVER_BIN} cannot be started: install nats-server (or set NATS_SERVER_BIN) for the NATS fault tests`;
  if (IN_CI) throw new Error(`${reason} (CI=true: the NATS tests must run)`);
  return reason;
}

/** A stream name and subject root no other test run uses, so runs on the shared server never see each other. */
export function uniqueNames(): { root: string; stream: string } {
  const id = randomBytes(6).toString('hex');
  return { root: `t${id}`, stream: `T_${id}` };
}

export async function connectTo(url: string): Promise<NatsConnection> {
  return connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => false);
}

/** The process state letter (`T` = stopped) from /proc. */
async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A nats-server of the test's own (JetStream, storage in a temp dir), which the test may pause, kill and
 * restart on the same port and storage. Never touches the shared server.
 */
export class OwnNatsServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnNatsServer> {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'nats-bus-test-'));
    const server = new OwnNatsServer(await freePort(), storeDir);
    await server.launch();
    return server;
  }

  /** Starts the process (again) and resolves once JetStream answers on the port. */
  async launch(): Promise<void> {
    const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], { stdio: 'ignore' });
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code} while starting`))));
    exited.catch(() => {});
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`nats-server on ${this.port} did not become ready`);
      if (child.exitCode !== null) await exited;
      if ((await probe('127.0.0.1', this.port, 500)) !== null && (await this.jetStreamAnswers())) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async jetStreamAnswers(): Promise<boolean> {
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
      const jsm = await jetstreamManager(nc, { timeout: 1000 });
      await jsm.getAccountInfo();
      return true;
    } catch {
      return false;
    } finally {
      await nc?.close();
    }
  }

  /** SIGSTOP, resolved once the process is stopped: the socket stays open but nothing is answered. */
  async pause(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) throw new Error('the server is not running');
    child.kill('SIGSTOP');
    // The signal is delivered asynchronously; a message sent before the stop takes effect would still be answered.
    await waitFor('the server to stop', async () => (await processState(child.pid as number)) === 'T');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGKILL, resolved once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await gone;
  }

  /** Kills the server and removes its storage. */
  async dispose(): Promise<void> {
    await this.kill();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. A wait, never an assertion on time. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface StoredMessage {
  seq: number;
  subject: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read the fields of the events they published
  data: any;
  msgId: string | undefined;
}

/** Every message the stream holds (optionally those on `filter`), in stream order, read by a consumer of the test's own. */
export async function readStream(nc: NatsConnection, stream: string, filter?: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: filter ?? '>' });
  const expected = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  if (expected === 0) return [];
  const consumer = await jsm.jetstream().consumers.get(stream, filter === undefined ? {} : { filter_subjects: filter });
  const messages = await consumer.consume();
  const out: StoredMessage[] = [];
  for await (const m of messages) {
    out.push({ seq: m.seq, subject: m.subject, data: m.json(), msgId: m.headers?.get('Nats-Msg-Id') || undefined });
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

/** Messages per subject, as the server counts them. */
export async function subjectCounts(nc: NatsConnection, stream: string): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream, { subjects_filter: '>' });
  return { ...(info.state.subjects ?? {}) };
}
