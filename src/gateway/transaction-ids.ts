/**
 * OCPP 1.6 transactionIds for the gateway's embedded answers.
 *
 * A 1.6 charger stores the transactionId the central system gives it and uses it in MeterValues and
 * StopTransaction, possibly long after a gateway restart. An id handed out twice would merge two
 * sessions, so ids are never reused, not even after a crash.
 *
 * Hi/lo scheme: the state file holds a high-water mark, the last id that may already have been handed
 * out. Ids come from blocks; a block's ids become available only once the mark has been moved past the
 * block and written durably (temp file, fsync, rename, fsync of the directory). A restart continues
 * above the stored mark, so a crash loses at most the unused rest of the blocks reserved, never reuses one.
 *
 * The next block is reserved ahead of need, in the background, as soon as the block before it comes into
 * use: while a reserved id is at hand `next()` returns it synchronously, so a StartTransaction is answered
 * in the tick it arrives. Only a caller arriving when every reserved id is gone (a burst larger than a
 * block, or a disk slower than the burst) waits for the reservation.
 *
 * One state directory belongs to one gateway process: the file is not locked against other processes.
 */
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** 1.6 transactionId is a JSON integer; chargers commonly store it as a signed 32-bit value. */
export const MAX_TRANSACTION_ID = 2_147_483_647;
export const DEFAULT_BLOCK_SIZE = 1000;
export const TRANSACTION_ID_STATE_FILE = 'transaction-ids.json';
const STATE_FILE = TRANSACTION_ID_STATE_FILE;

/** Every id up to MAX_TRANSACTION_ID has been reserved; this gateway can start no more transactions. */
export class TransactionIdsExhaustedError extends Error {
  readonly code = 'TRANSACTION_IDS_EXHAUSTED';
  constructor(file: string) {
    super(`all 1.6 transactionIds up to ${MAX_TRANSACTION_ID} have been used (state file ${file}); ` + 'ids are never reused, so new transactions cannot be given one');
    this.name = 'TransactionIdsExhaustedError';
  }
}

/**
 * Where the embedded answers take OCPP 1.6 transactionIds from: this file's allocator (one instance, a state
 * file) or ClusterTransactionIds (blocks from the cluster's registry). Both hand out each id at most once.
 */
export interface TransactionIdSource {
  /** A fresh id: the number itself while one is at hand (answered in the same tick), else a promise of one. */
  next(): number | Promise<number>;
  /** Stops handing out ids; the unused rest of what was reserved is given up, never reused. */
  close(): Promise<void>;
}

/** State files open in this process; two allocators on one file would hand out the same ids. */
const openFiles = new Set<string>();

/** A durably reserved run of ids, first to last inclusive. */
interface Block {
  first: number;
  last: number;
}

export class TransactionIdAllocator implements TransactionIdSource {
  /** The next id to hand out from the block in use. */
  private nextId = 1;
  /** The last id of the block in use; nextId > blockEnd when it is used up. */
  private blockEnd = 0;
  /** The block reserved ahead, durable on disk, none of its ids handed out yet. */
  private spare: Block | undefined;
  /** The highest id reserved so far (the mark this allocator last wrote, or read at open). */
  private reservedThrough: number;
  /** The reservation in progress; rejects when it failed (the background caller ignores that, waiters see it). */
  private reserving: Promise<void> | undefined;
  /** No id above reservedThrough can be reserved any more. */
  private exhausted = false;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly blockSize: number,
    storedMark: number,
  ) {
    // Nothing is handed out until a block above the stored mark has been durably reserved.
    this.reservedThrough = storedMark;
  }

  /**
   * Open the allocator whose state lives in `stateDir` (created if missing). The first block and the one
   * after it are reserved before this resolves, so the first StartTransaction need not wait for the disk.
   */
  static async open(stateDir: string, blockSize: number = DEFAULT_BLOCK_SIZE): Promise<TransactionIdAllocator> {
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > MAX_TRANSACTION_ID) {
      throw new RangeError(`transactionId block size must be an integer from 1 to ${MAX_TRANSACTION_ID}, got ${blockSize}`);
    }
    const file = resolve(stateDir, STATE_FILE);
    if (openFiles.has(file)) throw new Error(`transactionId state ${file} is already open in this process`);
    openFiles.add(file);
    try {
      await mkdir(stateDir, { recursive: true });
      const allocator = new TransactionIdAllocator(file, blockSize, await readMark(file));
      await allocator.reserveFirstBlocks();
      return allocator;
    } catch (error) {
      openFiles.delete(file);
      throw error;
    }
  }

  /**
   * A fresh transactionId: the id itself while a reserved one is at hand (no promise, no tick lost), else a
   * promise of one once the next block is durable. Never throws; failures come as a rejected promise.
   */
  next(): number | Promise<number> {
    const id = this.take();
    return id !== undefined ? id : this.nextAfterReservation();
  }

  /** Ids that can be handed out now without waiting for the disk (the block in use and the spare). */
  get idsAtHand(): number {
    if (this.closed) return 0;
    return Math.max(0, this.blockEnd - this.nextId + 1) + (this.spare ? this.spare.last - this.spare.first + 1 : 0);
  }

  /** Stop handing out ids. The unused rest of the reserved blocks is given up, never reused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.reserving;
    } catch {
      // A failed reservation handed nothing out; there is nothing left to protect.
    } finally {
      openFiles.delete(this.file);
    }
  }

  /** An id from the block in use or the spare one; undefined when none is at hand. */
  private take(): number | undefined {
    if (this.closed) return undefined;
    if (this.nextId > this.blockEnd) {
      const spare = this.spare;
      if (spare === undefined) return undefined;
      this.spare = undefined;
      this.nextId = spare.first;
      this.blockEnd = spare.last;
    }
    const id = this.nextId++;
    // The spare came into use: reserve the one after it while this block lasts.
    if (this.spare === undefined) this.reserveAhead();
    return id;
  }

  private async nextAfterReservation(): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error('transactionId allocator is closed');
      const id = this.take();
      if (id !== undefined) return id;
      if (this.exhausted) throw new TransactionIdsExhaustedError(this.file);
      // Every waiter loops back: the new block may already be drained by earlier waiters.
      await (this.reserving ?? this.startReservation());
    }
  }

  /** Starts reserving the next block unless one is reserved, on its way, or impossible. */
  private reserveAhead(): void {
    if (this.reserving !== undefined || this.spare !== undefined || this.exhausted || this.closed) return;
    // A failure here is not lost: the next caller without an id retries the reservation and gets the error.
    this.startReservation().catch(() => {});
  }

  private startReservation(): Promise<void> {
    const reserving = this.reserveBlock().finally(() => {
      if (this.reserving === reserving) this.reserving = undefined;
    });
    this.reserving = reserving;
    return reserving;
  }

  /** One write reserves the block in use and the spare after it. */
  private async reserveFirstBlocks(): Promise<void> {
    const block = await this.reserve(2 * this.blockSize);
    if (block === undefined) return;
    this.nextId = block.first;
    this.blockEnd = Math.min(block.first + this.blockSize - 1, block.last);
    if (this.blockEnd < block.last) this.spare = { first: this.blockEnd + 1, last: block.last };
  }

  private async reserveBlock(): Promise<void> {
    const block = await this.reserve(this.blockSize);
    if (block !== undefined && !this.closed) this.spare = block;
  }

  /** Moves the durable mark past `size` more ids (fewer at the top of the range); undefined when none are left. */
  private async reserve(size: number): Promise<Block | undefined> {
    // Re-read the mark: if anything moved it past what we reserved, start above it rather than overlap.
    const from = Math.max(this.reservedThrough, await readMark(this.file));
    if (from >= MAX_TRANSACTION_ID) {
      this.exhausted = true;
      return undefined;
    }
    const to = Math.min(from + size, MAX_TRANSACTION_ID);
    await writeMarkDurably(this.file, to);
    // Only now, with the mark safe on disk, do the block's ids become available.
    this.reservedThrough = to;
    return { first: from + 1, last: to };
  }
}

interface StateFile {
  /** Every id up to and including this one may have been handed out. */
  reservedThrough: number;
}

/**
 * The high-water mark of the state folder's allocator (0 when it never handed out an id): a cluster that takes over
 * from this instance's embedded mode starts its ids above it.
 */
export function readTransactionIdMark(stateDir: string): Promise<number> {
  return readMark(resolve(stateDir, STATE_FILE));
}

async function readMark(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let mark: unknown;
  try {
    mark = (JSON.parse(text) as Partial<StateFile> | null)?.reservedThrough;
  } catch {
    mark = undefined;
  }
  if (typeof mark !== 'number' || !Number.isSafeInteger(mark) || mark < 0 || mark > MAX_TRANSACTION_ID) {
    // Guessing a mark could hand out ids a charger still holds; refuse instead.
    throw new Error(
      `transactionId state file ${file} is unreadable (expected {"reservedThrough": <0..${MAX_TRANSACTION_ID}>}); ` +
        'fix or restore it by hand, setting a mark at least as high as any id ever issued',
    );
  }
  return mark;
}

async function writeMarkDurably(file: string, mark: number): Promise<void> {
  const temp = `${file}.tmp`;
  const state: StateFile = { reservedThrough: mark };
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(state)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(dirname(file));
}

/** Make the rename itself durable. Some platforms cannot fsync a directory; there the rename is all we have. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}
