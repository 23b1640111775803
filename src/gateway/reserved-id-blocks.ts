/** A range of ids reserved durably, none of them handed out yet: `first` to `last`, both included. */
export interface IdBlock {
  first: number;
  last: number;
}

/**
 * Hands out ids from blocks reserved ahead of need, so that an id is at hand in the same tick: the block in use,
 * and a spare whose reservation starts as soon as the previous spare comes into use. Only a caller arriving while
 * no reserved id is left waits, for the next reservation. Where blocks come from (a state file, Redis) and what
 * "no id left" means is the subclass's; this class only keeps the blocks and the one reservation in flight.
 */
export abstract class ReservedIdBlocks {
  /** The next id to hand out from the block in use. */
  private nextId = 1;
  /** The last id of the block in use; nextId > blockEnd when it is used up. */
  private blockEnd = 0;
  /** The block reserved ahead, none of its ids handed out yet. */
  private spare: IdBlock | undefined;
  /** The reservation in progress; rejects when it failed (the background caller ignores that, waiters see it). */
  private reserving: Promise<void> | undefined;
  /** No block can be reserved any more. */
  private exhausted = false;
  protected closed = false;

  protected constructor(protected readonly blockSize: number) {}

  /** Reserves `size` more ids durably (fewer at the top of the range); undefined when none are left. */
  protected abstract reserve(size: number): Promise<IdBlock | undefined>;

  /** The error for a caller that needs an id when none can be reserved any more. */
  protected abstract exhaustedError(): Error;

  /** Reserves the block in use and the spare after it in one reservation, before the first id is asked for. */
  protected async reserveFirstBlocks(): Promise<void> {
    const block = await this.reserve(2 * this.blockSize);
    if (block === undefined) {
      this.exhausted = true;
      return;
    }
    this.nextId = block.first;
    this.blockEnd = Math.min(block.first + this.blockSize - 1, block.last);
    if (this.blockEnd < block.last) this.spare = { first: this.blockEnd + 1, last: block.last };
  }

  /**
   * A fresh id: the id itself while a reserved one is at hand (no promise, no tick lost), else a promise of one
   * once the next block is reserved. Never throws; failures come as a rejected promise.
   */
  next(): number | Promise<number> {
    const id = this.take();
    return id !== undefined ? id : this.nextAfterReservation();
  }

  /** Ids that can be handed out now without waiting (the block in use and the spare). */
  get idsAtHand(): number {
    if (this.closed) return 0;
    return Math.max(0, this.blockEnd - this.nextId + 1) + (this.spare ? this.spare.last - this.spare.first + 1 : 0);
  }

  /** Stops handing out ids once the reservation in flight has settled. The unused rest is given up, never reused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.reserving;
    } catch {
      // A failed reservation handed nothing out; there is nothing left to protect.
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
      if (this.closed) throw new Error('transactionId source is closed');
      const id = this.take();
      if (id !== undefined) return id;
      if (this.exhausted) throw this.exhaustedError();
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
    const reserving = this.reserve(this.blockSize)
      .then((block) => {
        if (block === undefined) this.exhausted = true;
        else if (!this.closed) this.spare = block;
      })
      .finally(() => {
        if (this.reserving === reserving) this.reserving = undefined;
      });
    this.reserving = reserving;
    return reserving;
  }
}
