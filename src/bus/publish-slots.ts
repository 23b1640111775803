/**
 * A bound on the publishes a bus holds at once. A publish beyond the bound waits for a place, first come first
 * served, until its own deadline; the waiting line is itself bounded, so a stalled backend makes publishes fail
 * rather than pile up in memory.
 */
export class PublishSlots {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private head = 0;
  private live = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxWaiting: number,
  ) {
    if (!(capacity >= 1)) throw new Error('the publish bound must be at least 1');
  }

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.live;
  }

  /**
   * Resolves true when a place is taken (the caller must release it), false when the deadline passed first.
   * Throws when the waiting line is full. Returns true synchronously-resolved when a place is free at once.
   */
  acquire(deadline: number): Promise<boolean> | true {
    if (this.used < this.capacity && this.waiting === 0) {
      this.used++;
      return true;
    }
    if (this.waiting >= this.maxWaiting) throw new SlotsExhaustedError(this.capacity, this.maxWaiting);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined, done: false };
      waiter.timer = setTimeout(
        () => {
          waiter.done = true;
          this.live--;
          resolve(false);
          this.compact();
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(waiter);
      this.live++;
    });
  }

  release(): void {
    this.used--;
    while (this.head < this.waiters.length && this.used < this.capacity) {
      const waiter = this.waiters[this.head++];
      if (waiter.done) continue;
      waiter.done = true;
      this.live--;
      clearTimeout(waiter.timer);
      this.used++;
      waiter.resolve(true);
    }
    this.compact();
  }

  /** Drops expired waiters from the front and reclaims the array once half of it is dead. */
  private compact(): void {
    while (this.head < this.waiters.length && this.waiters[this.head].done) this.head++;
    if (this.head > 0 && this.head * 2 >= this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface Waiter {
  resolve: (granted: boolean) => void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export class SlotsExhaustedError extends Error {
  override name = 'SlotsExhaustedError';
  constructor(capacity: number, maxWaiting: number) {
    super(`${capacity} publishes in flight and ${maxWaiting} waiting: the bus is not keeping up`);
  }
}
