/**
 * OCPP 1.6 transactionIds in cluster mode: unique across every gateway instance and every restart.
 *
 * The ids come in blocks from the ownership registry (`reserveTransactionIds`, one Redis INCRBY per block), so
 * no two instances ever hold the same id and an instance that restarts continues above everything reserved
 * before. As in the embedded allocator, the next block is reserved ahead, in the background, as soon as the
 * block before it comes into use: while a reserved id is at hand `next()` returns it synchronously, and only a
 * caller that finds every reserved id gone (a burst larger than a block, or Redis slower than the burst) waits.
 * A reservation that failed (Redis unreachable) is retried by the next caller without an id, who sees its error.
 */
import type { Registry, TransactionIdBlock } from '../registry/types.js';
import { DEFAULT_BLOCK_SIZE, type TransactionIdSource } from './transaction-ids.js';

export interface ClusterTransactionIdsOptions {
  /** Where blocks come from; only `reserveTransactionIds` is used. */
  registry: Pick<Registry, 'reserveTransactionIds'>;
  /** Ids per reservation; the first reservation takes two blocks at once (the one in use and the spare). */
  blockSize?: number;
  /**
   * Ids up to this one count as given already: the mark of the embedded allocator this cluster replaces
   * (`{stateDir}/transaction-ids.json`). Passed with every reservation; the registry only ever raises its counter.
   */
  above?: number;
}

export class ClusterTransactionIds implements TransactionIdSource {
  private nextId = 1;
  /** The last id of the block in use; nextId > blockEnd when it is used up. */
  private blockEnd = 0;
  /** The block reserved ahead, none of its ids handed out yet. */
  private spare: TransactionIdBlock | undefined;
  private reserving: Promise<void> | undefined;
  private closed = false;
  private readonly registry: Pick<Registry, 'reserveTransactionIds'>;
  private readonly blockSize: number;
  private readonly above: number;

  private constructor(options: ClusterTransactionIdsOptions) {
    this.registry = options.registry;
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.above = options.above ?? 0;
  }

  /**
   * Reserves the first block and the spare after it (one registry call) before resolving, so the first
   * StartTransaction need not wait for Redis. Rejects when the registry cannot reserve them.
   */
  static async open(options: ClusterTransactionIdsOptions): Promise<ClusterTransactionIds> {
    const ids = new ClusterTransactionIds(options);
    // Checked by the registry too; failing here names the setting before anything is reserved.
    if (!Number.isSafeInteger(ids.blockSize) || ids.blockSize < 1) throw new RangeError(`transactionId block size must be a positive integer, got ${ids.blockSize}`);
    const block = await ids.registry.reserveTransactionIds(2 * ids.blockSize, ids.above);
    ids.nextId = block.from;
    ids.blockEnd = Math.min(block.from + ids.blockSize - 1, block.to);
    if (ids.blockEnd < block.to) ids.spare = { from: ids.blockEnd + 1, to: block.to };
    return ids;
  }

  next(): number | Promise<number> {
    const id = this.take();
    return id !== undefined ? id : this.nextAfterReservation();
  }

  /** Ids that can be handed out now without asking the registry (the block in use and the spare). */
  get idsAtHand(): number {
    if (this.closed) return 0;
    return Math.max(0, this.blockEnd - this.nextId + 1) + (this.spare ? this.spare.to - this.spare.from + 1 : 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.reserving;
    } catch {
      // A failed reservation handed nothing out.
    }
  }

  private take(): number | undefined {
    if (this.closed) return undefined;
    if (this.nextId > this.blockEnd) {
      const spare = this.spare;
      if (spare === undefined) return undefined;
      this.spare = undefined;
      this.nextId = spare.from;
      this.blockEnd = spare.to;
    }
    const id = this.nextId++;
    // The spare came into use: reserve the one after it while this block lasts.
    if (this.spare === undefined) this.reserveAhead();
    return id;
  }

  private async nextAfterReservation(): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error('transactionId source is closed');
      const id = this.take();
      if (id !== undefined) return id;
      // Every waiter loops back: the new block may already be drained by earlier waiters. An exhausted
      // range rejects here with the registry's TransactionIdsExhaustedError.
      await (this.reserving ?? this.startReservation());
    }
  }

  private reserveAhead(): void {
    if (this.reserving !== undefined || this.spare !== undefined || this.closed) return;
    // Not lost: the next caller without an id retries and gets the error.
    this.startReservation().catch(() => {});
  }

  private startReservation(): Promise<void> {
    const reserving = this.registry
      .reserveTransactionIds(this.blockSize, this.above)
      .then((block) => {
        if (!this.closed) this.spare = block;
      })
      .finally(() => {
        if (this.reserving === reserving) this.reserving = undefined;
      });
    this.reserving = reserving;
    return reserving;
  }
}
