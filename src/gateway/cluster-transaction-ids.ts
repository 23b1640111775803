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
import type { Registry } from '../registry/types.js';
import { type IdBlock, ReservedIdBlocks } from './reserved-id-blocks.js';
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

export class ClusterTransactionIds extends ReservedIdBlocks implements TransactionIdSource {
  private readonly registry: Pick<Registry, 'reserveTransactionIds'>;
  private readonly above: number;

  private constructor(options: ClusterTransactionIdsOptions) {
    super(options.blockSize ?? DEFAULT_BLOCK_SIZE);
    this.registry = options.registry;
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
    await ids.reserveFirstBlocks();
    return ids;
  }

  /** The registry never answers "none left": an exhausted range rejects with its TransactionIdsExhaustedError. */
  protected exhaustedError(): Error {
    return new Error('no transactionId can be reserved any more');
  }

  protected async reserve(size: number): Promise<IdBlock> {
    const block = await this.registry.reserveTransactionIds(size, this.above);
    return { first: block.from, last: block.to };
  }
}
