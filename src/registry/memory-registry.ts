/**
 * The registry in process memory: the same contract as the Redis registry, for one process. Registries that
 * share a MemoryRegistryStore behave like instances sharing one Redis (used by tests and for symmetry; the
 * embedded gateway keeps its own session table).
 */
import { randomUUID } from 'node:crypto';
import { OwnershipLease } from './ownership-lease.js';
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
  type TransactionIdBlock,
  TransactionIdsExhaustedError,
} from './types.js';

interface Held extends Owner {
  expiresAt: number;
}

interface InstanceEntry {
  token: string;
  expiresAt: number;
}

/** What instances sharing one in-process registry share. */
export class MemoryRegistryStore {
  readonly connections = new Map<string, Held>();
  readonly instances = new Map<string, InstanceEntry>();
  /** One counter for every identity: it only grows, so each identity's epochs only grow. */
  lastEpoch = 0;
  lastTransactionId = 0;
  readonly startTransactions = new Map<string, { transactionId: number; expiresAt: number }>();

  constructor(readonly now: () => number = Date.now) {}

  nextEpoch(): number {
    // Microseconds since 1970, as the embedded gateway's presence epochs are, so both kinds compare.
    this.lastEpoch = Math.max(this.lastEpoch + 1, this.now() * 1000);
    return this.lastEpoch;
  }

  heldNow(identity: string): Held | undefined {
    const held = this.connections.get(identity);
    if (held === undefined) return undefined;
    if (held.expiresAt > this.now()) return held;
    this.connections.delete(identity);
    return undefined;
  }
}

export interface MemoryRegistryOptions {
  store?: MemoryRegistryStore;
  ttlMs?: number;
}

export class MemoryRegistry implements Registry {
  readonly ttlMs: number;
  readonly store: MemoryRegistryStore;
  private readonly token = randomUUID();
  private readonly lease: OwnershipLease;
  private instanceId: string | undefined;
  private closed = false;

  constructor(options: MemoryRegistryOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.store = options.store ?? new MemoryRegistryStore();
    this.lease = new OwnershipLease(this.ttlMs, this.store.now);
  }

  async claim(identity: string, instanceId: string): Promise<ClaimResult> {
    assertIdentity(identity);
    assertInstanceId(instanceId);
    const before = this.store.heldNow(identity);
    const epoch = this.store.nextEpoch();
    this.store.connections.set(identity, { instanceId, epoch, expiresAt: this.store.now() + this.ttlMs });
    return before === undefined ? { epoch } : { epoch, previous: { instanceId: before.instanceId, epoch: before.epoch } };
  }

  async release(identity: string, epoch: number): Promise<boolean> {
    if (this.store.heldNow(identity)?.epoch !== epoch) return false;
    this.store.connections.delete(identity);
    return true;
  }

  async refresh(held: readonly Ownership[]): Promise<Ownership[]> {
    const lost: Ownership[] = [];
    const expiresAt = this.store.now() + this.ttlMs;
    for (const entry of held) {
      const current = this.store.heldNow(entry.identity);
      if (current?.epoch === entry.epoch) current.expiresAt = expiresAt;
      else lost.push(entry);
    }
    return lost;
  }

  async owner(identity: string): Promise<Owner | null> {
    const held = this.store.heldNow(identity);
    return held === undefined ? null : { instanceId: held.instanceId, epoch: held.epoch };
  }

  async owners(identities: readonly string[]): Promise<Array<Owner | null>> {
    return Promise.all(identities.map((identity) => this.owner(identity)));
  }

  async registerInstance(instanceId: string): Promise<void> {
    assertInstanceId(instanceId);
    const sentAt = this.lease.stamp();
    const entry = this.liveInstance(instanceId);
    if (entry !== undefined && entry.token !== this.token) throw new InstanceIdInUseError(instanceId);
    this.store.instances.set(instanceId, { token: this.token, expiresAt: this.store.now() + this.ttlMs });
    this.instanceId = instanceId;
    this.lease.register(sentAt);
  }

  async heartbeat(): Promise<void> {
    const sentAt = this.lease.stamp();
    const entry = this.instanceId === undefined ? undefined : this.liveInstance(this.instanceId);
    if (entry === undefined || entry.token !== this.token) {
      this.lease.lapse();
      throw new InstanceRegistrationLostError(this.instanceId);
    }
    entry.expiresAt = this.store.now() + this.ttlMs;
    this.lease.confirm(sentAt);
  }

  async liveInstances(): Promise<string[]> {
    return [...this.store.instances.keys()].filter((id) => this.liveInstance(id) !== undefined).sort();
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
    if (above > this.store.lastTransactionId) this.store.lastTransactionId = above;
    const from = this.store.lastTransactionId + 1;
    if (from > MAX_TRANSACTION_ID) throw new TransactionIdsExhaustedError();
    const to = Math.min(MAX_TRANSACTION_ID, this.store.lastTransactionId + blockSize);
    this.store.lastTransactionId = to;
    return { from, to };
  }

  async rememberStartTransaction(identity: string, startKey: string, transactionId: number, ttlMs: number): Promise<number> {
    const key = JSON.stringify([identity, startKey]);
    const first = this.store.startTransactions.get(key);
    if (first !== undefined && first.expiresAt > this.store.now()) return first.transactionId;
    this.store.startTransactions.set(key, { transactionId, expiresAt: this.store.now() + ttlMs });
    return transactionId;
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lease.stop();
    if (this.instanceId !== undefined && this.store.instances.get(this.instanceId)?.token === this.token) this.store.instances.delete(this.instanceId);
  }

  private liveInstance(instanceId: string): InstanceEntry | undefined {
    const entry = this.store.instances.get(instanceId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.store.now()) return entry;
    this.store.instances.delete(instanceId);
    return undefined;
  }
}
