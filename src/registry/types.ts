/**
 * The ownership registry of cluster mode: which gateway instance holds which charger's connection, at which
 * epoch, and which instances are alive.
 *
 * Several instances share the chargers behind a TCP load balancer and a charger may reconnect to any of them.
 * Each accepted connection claims its identity and gets an epoch higher than every epoch that identity had
 * before, on any instance; every later write about that connection (refresh, release) names the epoch and
 * is applied only while the identity is still held at exactly that epoch, so a late or stale write can never
 * touch the connection that replaced it.
 */

/** One connection's hold on an identity. */
export interface Ownership {
  identity: string;
  epoch: number;
}

/** Who holds an identity. */
export interface Owner {
  instanceId: string;
  epoch: number;
}

export interface ClaimResult {
  /** The new connection's epoch: higher than any epoch this identity was given before. */
  epoch: number;
  /** The connection it replaces, if one still held the identity (its instance is told to close it). */
  previous?: Owner;
}

/** A run of 1.6 transactionIds, first to last inclusive, reserved for one instance and never handed out again. */
export interface TransactionIdBlock {
  from: number;
  to: number;
}

export interface Registry {
  /** How long a claim or an instance registration lives without being refreshed. */
  readonly ttlMs: number;

  /** Takes the identity for a new connection on `instanceId`, whoever held it before. */
  claim(identity: string, instanceId: string): Promise<ClaimResult>;
  /** Gives the identity up, only if it is still held at `epoch`; true when it was. */
  release(identity: string, epoch: number): Promise<boolean>;
  /**
   * Extends the life of each hold that is still at its epoch; returns the others (taken over by a newer
   * connection, or expired), whose sockets the instance should close.
   */
  refresh(held: readonly Ownership[]): Promise<Ownership[]>;
  owner(identity: string): Promise<Owner | null>;
  /** The owners of many identities at once, in the order asked. */
  owners(identities: readonly string[]): Promise<Array<Owner | null>>;

  /**
   * Registers this instance as alive under `instanceId`. Fails with InstanceIdInUseError while another live
   * instance holds that id (so POD_ID must be unique among live instances). Registering again from the same
   * registry (after a lapse) is allowed and makes ownership valid again.
   */
  registerInstance(instanceId: string): Promise<void>;
  /** Extends this instance's registration; InstanceRegistrationLostError when it has expired or been taken. */
  heartbeat(): Promise<void>;
  /** The ids of the instances alive now. */
  liveInstances(): Promise<string[]>;
  /**
   * Whether this instance may still consider its claims its own: registered, and confirmed alive within
   * the last `ttlMs`. Once false it stays false until `registerInstance` succeeds again.
   */
  ownershipValid(): boolean;
  /** Called once each time ownership turns from valid to invalid; returns an unsubscribe function. */
  onOwnershipLost(listener: () => void): () => void;

  /**
   * Reserves `blockSize` transactionIds no instance was given before (fewer only at the very top of the
   * range). `above` (default 0): ids up to it count as already given (e.g. the mark of the embedded allocator
   * a cluster replaces), so the block starts above it.
   */
  reserveTransactionIds(blockSize: number, above?: number): Promise<TransactionIdBlock>;

  /**
   * The transactionId of the first answer given to one 1.6 StartTransaction of `identity` (`startKey` tells the
   * start apart, see `startTransactionKey`): `transactionId` if none was remembered yet (it is then, for `ttlMs`),
   * else the one remembered. Lets a charger's retry that reaches another instance get the transactionId the first
   * instance gave, and whose `transaction.started` the stream may already hold.
   */
  rememberStartTransaction(identity: string, startKey: string, transactionId: number, ttlMs: number): Promise<number>;

  /** Whether the registry can answer now. */
  isReady(): boolean;
  /** Gives up this instance's registration (best effort) and releases the connection. */
  close(): Promise<void>;
}

/** 1.6 transactionId is a JSON integer; chargers commonly store it as a signed 32-bit value. */
export const MAX_TRANSACTION_ID = 2_147_483_647;

/** The registry cannot be reached (or did not answer within its command timeout); nothing was decided. */
export class RegistryUnavailableError extends Error {
  readonly code = 'REGISTRY_UNAVAILABLE';
  constructor(operation: string, cause: unknown) {
    super(`ownership registry unavailable: ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RegistryUnavailableError';
  }
}

/** Another live instance is registered under this id. */
export class InstanceIdInUseError extends Error {
  readonly code = 'INSTANCE_ID_IN_USE';
  constructor(readonly instanceId: string) {
    super(`instance id "${instanceId}" is held by another live gateway instance; every instance needs its own POD_ID`);
    this.name = 'InstanceIdInUseError';
  }
}

/** This instance's registration expired (or another instance took the id); it must register again. */
export class InstanceRegistrationLostError extends Error {
  readonly code = 'INSTANCE_REGISTRATION_LOST';
  constructor(readonly instanceId: string | undefined) {
    super(
      instanceId === undefined
        ? 'this instance is not registered; call registerInstance first'
        : `the registration of instance "${instanceId}" has expired or was taken; register again before claiming`,
    );
    this.name = 'InstanceRegistrationLostError';
  }
}

/** Every transactionId up to MAX_TRANSACTION_ID has been reserved. */
export class TransactionIdsExhaustedError extends Error {
  readonly code = 'TRANSACTION_IDS_EXHAUSTED';
  constructor() {
    super(`all 1.6 transactionIds up to ${MAX_TRANSACTION_ID} have been reserved; ids are never reused, so no more can be given`);
    this.name = 'TransactionIdsExhaustedError';
  }
}

export function assertBlockSize(blockSize: number): void {
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > MAX_TRANSACTION_ID) {
    throw new RangeError(`transactionId block size must be an integer from 1 to ${MAX_TRANSACTION_ID}, got ${blockSize}`);
  }
}

/** Matches a lone surrogate: such a string has no UTF-8 form, so two of them could map to one key. */
const LONE_SURROGATE = /\p{Cs}/u;

export function assertFloor(above: number): void {
  if (!Number.isSafeInteger(above) || above < 0 || above > MAX_TRANSACTION_ID) {
    throw new RangeError(`transactionIds can only be reserved above an integer from 0 to ${MAX_TRANSACTION_ID}, got ${above}`);
  }
}

export function assertIdentity(identity: string): void {
  if (typeof identity !== 'string' || identity.length === 0 || LONE_SURROGATE.test(identity)) {
    throw new TypeError(`a charger identity must be a non-empty, well-formed string, got ${JSON.stringify(identity)}`);
  }
}

export function assertInstanceId(instanceId: string): void {
  if (typeof instanceId !== 'string' || instanceId.length === 0 || LONE_SURROGATE.test(instanceId)) {
    throw new TypeError(`an instance id must be a non-empty, well-formed string, got ${JSON.stringify(instanceId)}`);
  }
}
