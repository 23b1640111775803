/**
 * OCPP 1.6 transactionIds for the gateway's embedded answers.
 *
 * A 1.6 charger stores the transactionId the central system gives it and uses it in MeterValues and
 * StopTransaction, possibly long after a gateway restart. An id handed out twice would merge two
 * sessions, so ids are never reused, not even after a crash.
 *
 * Hi/lo scheme: the state file holds a high-water mark, the last id that may already have been handed
 * out. Before handing out any id of a new block the mark is moved past the block and written durably
 * (temp file, fsync, rename, fsync of the directory). A crash loses at most the unused rest of one
 * block; a restart continues above the stored mark. The disk is touched once per block, so the common
 * case is a counter increment.
 *
 * One state directory belongs to one gateway process: the file is not locked against other processes.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** 1.6 transactionId is a JSON integer; chargers commonly store it as a signed 32-bit value. */
export const MAX_TRANSACTION_ID = 2_147_483_647;
export const DEFAULT_BLOCK_SIZE = 1000;
const STATE_FILE = 'transaction-ids.json';

/** Every id up to MAX_TRANSACTION_ID has been reserved; this gateway can start no more transactions. */
export class TransactionIdsExhaustedError extends Error {
  readonly code = 'TRANSACTION_IDS_EXHAUSTED';
  constructor(file: string) {
    super(
      `all 1.6 transactionIds up to ${MAX_TRANSACTION_ID} have been used (state file ${file}); ` +
        'ids are never reused, so new transactions cannot be given one',
    );
    this.name = 'TransactionIdsExhaustedError';
  }
}

/** State files open in this process; two allocators on one file would hand out the same ids. */
const openFiles = new Set<string>();

export class TransactionIdAllocator {
  /** The next id to hand out. */
  private nextId: number;
  /** The last id of the current block; equal to the durable mark once a block is reserved. */
  private blockEnd: number;
  /** The block reservation in progress, shared by every caller that found the block used up. */
  private reserving: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly blockSize: number,
    storedMark: number,
  ) {
    // Nothing is handed out until a block above the stored mark has been durably reserved.
    this.nextId = storedMark + 1;
    this.blockEnd = storedMark;
  }

  /** Open the allocator whose state lives in `stateDir` (created if missing). */
  static async open(stateDir: string, blockSize: number = DEFAULT_BLOCK_SIZE): Promise<TransactionIdAllocator> {
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > MAX_TRANSACTION_ID) {
      throw new RangeError(`transactionId block size must be an integer from 1 to ${MAX_TRANSACTION_ID}, got ${blockSize}`);
    }
    const file = resolve(stateDir, STATE_FILE);
    if (openFiles.has(file)) throw new Error(`transactionId state ${file} is already open in this process`);
    openFiles.add(file);
    try {
      await mkdir(stateDir, { recursive: true });
      return new TransactionIdAllocator(file, blockSize, await readMark(file));
    } catch (error) {
      openFiles.delete(file);
      throw error;
    }
  }

  /** A fresh transactionId. Touches the disk only when the current block is used up. */
  async next(): Promise<number> {
    for (;;) {
      if (this.closed) throw new Error('transactionId allocator is closed');
      if (this.nextId <= this.blockEnd) return this.nextId++;
      if (this.blockEnd >= MAX_TRANSACTION_ID) throw new TransactionIdsExhaustedError(this.file);
      this.reserving ??= this.reserveBlock().finally(() => {
        this.reserving = undefined;
      });
      // Every waiter loops back: the block may already be drained by earlier waiters.
      await this.reserving;
    }
  }

  /** Stop handing out ids. The unused rest of the block is given up, never reused. */
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

  private async reserveBlock(): Promise<void> {
    // Re-read the mark: if anything moved it past our block, start above it rather than overlap.
    const from = Math.max(this.blockEnd, await readMark(this.file));
    if (from >= MAX_TRANSACTION_ID) {
      this.blockEnd = MAX_TRANSACTION_ID;
      this.nextId = MAX_TRANSACTION_ID + 1;
      return;
    }
    const to = Math.min(from + this.blockSize, MAX_TRANSACTION_ID);
    await writeMarkDurably(this.file, to);
    // Only now, with the mark safe on disk, do the block's ids become available.
    this.nextId = from + 1;
    this.blockEnd = to;
  }
}

interface StateFile {
  /** Every id up to and including this one may have been handed out. */
  reservedThrough: number;
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
  let handle;
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
