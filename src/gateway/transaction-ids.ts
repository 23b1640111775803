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
import { type IdBlock, ReservedIdBlocks } from './reserved-id-blocks.js';

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

export class TransactionIdAllocator extends ReservedIdBlocks implements TransactionIdSource {
  /** The highest id reserved so far (the mark this allocator last wrote, or read at open). */
  private reservedThrough: number;

  private constructor(
    private readonly file: string,
    blockSize: number,
    storedMark: number,
  ) {
    super(blockSize);
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

  /** Stop handing out ids. The unused rest of the reserved blocks is given up, never reused. */
  override async close(): Promise<void> {
    if (this.closed) return;
    try {
      await super.close();
    } finally {
      openFiles.delete(this.file);
    }
  }

  protected exhaustedError(): Error {
    return new TransactionIdsExhaustedError(this.file);
  }

  /** Moves the durable mark past `size` more ids (fewer at the top of the range); undefined when none are left. */
  protected async reserve(size: number): Promise<IdBlock | undefined> {
    // Re-read the mark: if anything moved it past what we reserved, start above it rather than overlap.
    const from = Math.max(this.reservedThrough, await readMark(this.file));
    if (from >= MAX_TRANSACTION_ID) return undefined;
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
