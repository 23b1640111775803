/**
 * The registry in Redis, shared by every gateway instance of a cluster. Key formats are in redis-keys.ts,
 * the conditions of every write in redis-scripts.ts; docs/cluster.md ("Ownership (Redis)") has both.
 *
 * Failure behaviour: commands are never queued while Redis is unreachable and never wait longer than
 * `commandTimeoutMs` for an answer; they reject with RegistryUnavailableError and nothing is decided. The client
 * reconnects on its own; `isReady()` says whether it is connected now. An instance cut off for longer than the
 * TTL loses `ownershipValid()` (see OwnershipLease) and must register again.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { OwnershipLease } from './ownership-lease.js';
import { RegistryKeys } from './redis-keys.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';
import {
  assertBlockSize,
  assertFloor,
  assertIdentity,
  assertInstanceId,
  type ClaimResult,
  InstanceIdInUseError,
  InstanceRegistrationLostError,
  MAX_TRANSACTION_ID,
  type Owner,
  type Ownership,
  type Registry,
  RegistryUnavailableError,
  type TransactionIdBlock,
  TransactionIdsExhaustedError,
} from './types.js';

export const DEFAULT_TTL_MS = 30_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
export const DEFAULT_CHUNK_SIZE = 1_000;
/** How long an identity's last epoch is remembered after its last claim (the clock floor covers the rest). */
export const DEFAULT_EPOCH_MEMORY_MS = 7 * 24 * 3600 * 1000;

export interface RedisRegistryOptions {
  /** A `redis://` URL, or ioredis options (host, port, password, tls ...). Timeouts and queueing are set here. */
  connection: string | RedisOptions;
  /** Put before every key, e.g. `ocpp:`; must not contain `{` or `}`. Default none. */
  keyPrefix?: string;
  /** Life of a claim and of an instance registration without refresh. Default 30 s. */
  ttlMs?: number;
  /** Longest wait for any answer from Redis, and for a connection. Default 2 s. */
  commandTimeoutMs?: number;
  /** Identities per refresh or owners script call. Default 1,000. */
  chunkSize?: number;
  /** How long the per-identity epoch counter outlives the identity's last claim. Default 7 days. */
  epochMemoryMs?: number;
  /** Connection errors of the client (it reconnects by itself); for logging, which should be rate limited. */
  onConnectionError?: (err: Error) => void;
}

/** ioredis with the registry's scripts defined on it (all take numkeys first, then keys, then arguments). */
type ScriptedRedis = Redis & Record<ScriptName, (numKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>>;

export class RedisRegistry implements Registry {
  readonly ttlMs: number;
  readonly keys: RegistryKeys;
  private readonly client: ScriptedRedis;
  private readonly chunkSize: number;
  private readonly epochMemoryMs: number;
  private readonly commandTimeoutMs: number;
  /** Tells this process's registration apart from another process that uses the same instance id. */
  private readonly token = randomUUID();
  private readonly lease: OwnershipLease;
  private instanceId: string | undefined;
  private closed = false;

  constructor(options: RedisRegistryOptions) {
    this.ttlMs = positiveInteger('ttlMs', options.ttlMs ?? DEFAULT_TTL_MS);
    this.commandTimeoutMs = positiveInteger('commandTimeoutMs', options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    this.chunkSize = positiveInteger('chunkSize', options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.epochMemoryMs = positiveInteger('epochMemoryMs', options.epochMemoryMs ?? DEFAULT_EPOCH_MEMORY_MS);
    this.keys = new RegistryKeys(options.keyPrefix ?? '');
    this.lease = new OwnershipLease(this.ttlMs);
    const base: RedisOptions = typeof options.connection === 'string' ? {} : options.connection;
    if (base.keyPrefix !== undefined) throw new TypeError("set the registry's keyPrefix option, not the client's: the client would prefix keys past the hash-tag checks");
    const settings: RedisOptions = {
      ...base,
      lazyConnect: false,
      // A registry decision that waits for a reconnect is stale by the time it is made: fail fast instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: this.commandTimeoutMs,
      // Back within half a second of Redis: the reconnect delay eats into what is left of the ownership lease.
      retryStrategy: (attempt) => Math.min(100 * attempt, 500),
    };
    const client = typeof options.connection === 'string' ? new Redis(options.connection, settings) : new Redis(settings);
    for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua: script.lua, readOnly: script.readOnly });
    // Without a listener ioredis prints every connection error; the owner decides how to log them.
    client.on('error', (err: Error) => options.onConnectionError?.(err));
    this.client = client as ScriptedRedis;
  }

  /** A registry connected to Redis (RegistryUnavailableError, and nothing left open, if that fails within `timeoutMs`). */
  static async connect(options: RedisRegistryOptions, timeoutMs?: number): Promise<RedisRegistry> {
    const registry = new RedisRegistry(options);
    try {
      await registry.waitUntilReady(timeoutMs);
    } catch (err) {
      await registry.close();
      throw err;
    }
    return registry;
  }

  /** Resolves once connected; RegistryUnavailableError if that takes longer than `timeoutMs` (the client keeps trying). */
  async waitUntilReady(timeoutMs = this.commandTimeoutMs): Promise<void> {
    if (this.isReady()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new RegistryUnavailableError('connect', new Error(`not connected after ${timeoutMs} ms (status ${this.client.status})`)));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
  }

  async claim(identity: string, instanceId: string): Promise<ClaimResult> {
    assertIdentity(identity);
    assertInstanceId(instanceId);
    const [epoch, previousInstance, previousEpoch] = (await this.run(
      'claim',
      'registryClaim',
      [this.keys.connection(identity), this.keys.epoch(identity)],
      [instanceId, this.ttlMs, this.epochMemoryMs],
    )) as [string, string | null, string | null];
    const result: ClaimResult = { epoch: toEpoch(epoch) };
    if (previousInstance !== null && previousEpoch !== null) result.previous = { instanceId: String(previousInstance), epoch: toEpoch(previousEpoch) };
    return result;
  }

  async release(identity: string, epoch: number): Promise<boolean> {
    assertIdentity(identity);
    return (await this.run('release', 'registryRelease', [this.keys.connection(identity)], [String(epoch)])) === 1;
  }

  async refresh(held: readonly Ownership[]): Promise<Ownership[]> {
    for (const entry of held) assertIdentity(entry.identity);
    const chunks: Array<readonly Ownership[]> = [];
    for (let i = 0; i < held.length; i += this.chunkSize) chunks.push(held.slice(i, i + this.chunkSize));
    // All chunks go out at once (one round trip's worth of writes on the socket); Redis runs them one by one.
    const answers = await Promise.all(
      chunks.map(
        (chunk) =>
          this.run(
            'refresh',
            'registryRefresh',
            chunk.map((entry) => this.keys.connection(entry.identity)),
            [this.ttlMs, ...chunk.map((entry) => String(entry.epoch))],
          ) as Promise<number[]>,
      ),
    );
    const lost: Ownership[] = [];
    answers.forEach((positions, c) => {
      for (const position of positions) lost.push(chunks[c][position - 1]);
    });
    return lost;
  }

  async owner(identity: string): Promise<Owner | null> {
    return (await this.owners([identity]))[0];
  }

  async owners(identities: readonly string[]): Promise<Array<Owner | null>> {
    for (const identity of identities) assertIdentity(identity);
    const chunks: Array<readonly string[]> = [];
    for (let i = 0; i < identities.length; i += this.chunkSize) chunks.push(identities.slice(i, i + this.chunkSize));
    const answers = await Promise.all(
      chunks.map((chunk) =>
        this.run(
          'owners',
          'registryOwners',
          chunk.map((identity) => this.keys.connection(identity)),
          [],
        ),
      ),
    );
    const out: Array<Owner | null> = [];
    for (const flat of answers as Array<Array<string | null>>) {
      for (let i = 0; i < flat.length; i += 2)
        out.push(flat[i] === null || flat[i + 1] === null ? null : { instanceId: String(flat[i]), epoch: toEpoch(flat[i + 1] as string) });
    }
    return out;
  }

  async registerInstance(instanceId: string): Promise<void> {
    assertInstanceId(instanceId);
    if (this.instanceId !== undefined && this.instanceId !== instanceId) {
      throw new TypeError(`this registry is registered as "${this.instanceId}"; one registry serves one instance`);
    }
    const sentAt = this.lease.stamp();
    const taken = (await this.run('registerInstance', 'registryRegisterInstance', [this.keys.instances], [this.token, this.ttlMs, instanceId])) === 0;
    if (taken) throw new InstanceIdInUseError(instanceId);
    this.instanceId = instanceId;
    this.lease.register(sentAt);
  }

  async heartbeat(): Promise<void> {
    const instanceId = this.instanceId;
    if (instanceId === undefined) throw new InstanceRegistrationLostError(undefined);
    const sentAt = this.lease.stamp();
    const alive = await this.run('heartbeat', 'registryHeartbeatInstance', [this.keys.instances], [this.token, this.ttlMs, instanceId]);
    if (alive !== 1) {
      this.lease.lapse();
      throw new InstanceRegistrationLostError(instanceId);
    }
    this.lease.confirm(sentAt);
  }

  async liveInstances(): Promise<string[]> {
    const ids = (await this.run('liveInstances', 'registryLiveInstances', [this.keys.instances], [])) as string[];
    return ids.map(String).sort();
  }

  ownershipValid(): boolean {
    return this.lease.valid();
  }

  onOwnershipLost(listener: () => void): () => void {
    return this.lease.onLost(listener);
  }

  async reserveTransactionIds(blockSize: number, above = 0): Promise<TransactionIdBlock> {
    assertBlockSize(blockSize);
    assertFloor(above);
    const [from, to] = (await this.run('reserveTransactionIds', 'registryReserveTransactionIds', [this.keys.transactionIds], [blockSize, MAX_TRANSACTION_ID, above])) as [
      number,
      number,
    ];
    if (Number(from) === 0) throw new TransactionIdsExhaustedError();
    return { from: Number(from), to: Number(to) };
  }

  async rememberStartTransaction(identity: string, startKey: string, transactionId: number, ttlMs: number): Promise<number> {
    const first = await this.run(
      'rememberStartTransaction',
      'registryRememberStartTransaction',
      [this.keys.startTransaction(identity, startKey)],
      [transactionId, ttlMs],
    );
    return Number(first);
  }

  isReady(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  /** Gives up this instance's registration if Redis answers in time, then drops the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    const instanceId = this.instanceId;
    if (instanceId !== undefined && this.client.status === 'ready') {
      await this.run('unregisterInstance', 'registryUnregisterInstance', [this.keys.instances], [this.token, instanceId]).catch(() => undefined);
    }
    this.closed = true;
    this.lease.stop();
    this.client.disconnect();
  }

  private async run(operation: string, script: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    if (this.closed) throw new RegistryUnavailableError(operation, new Error('the registry is closed'));
    try {
      return await this.client[script](keys.length, ...keys, ...args);
    } catch (err) {
      throw new RegistryUnavailableError(operation, err);
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`registry option ${name} must be a positive integer, got ${value}`);
  return value;
}

function toEpoch(text: string | number): number {
  const epoch = Number(text);
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new Error(`the registry holds an epoch that is not a positive safe integer: ${String(text)}`);
  return epoch;
}
