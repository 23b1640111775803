/**
 * One timer for everything a process's chargers have due (next CALL, reconnect): a min-heap of them
 * and a single timeout armed for the earliest. Chargers fire at their own jittered moments, not in
 * batches on a coarse tick (batches would queue behind each other and show up as latency the server
 * did not cause), and still no charger holds a timer of its own.
 */
import { performance } from 'node:perf_hooks';
import { MinHeap, type Scheduled } from './heap.js';

/**
 * Least time between two wake-ups of the timer. Firing each charger at its exact millisecond
 * costs a loop turn per CALL; 2 ms keeps the load spread as a real fleet's (a charger queues
 * behind at most ~2 ms of its own process's sends) at a fraction of the wake-ups.
 */
const WAKE_MIN_MS = 2;

export class DueTimer<T extends Scheduled> {
  private readonly heap = new MinHeap<T>();
  /** The one timeout, and the moment it is armed for. */
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private lastWake = 0;
  private stopped = false;

  /** `fire` runs for each item that is due, with the time of the wake-up. */
  constructor(private readonly fire: (item: T, now: number) => void) {}

  /** Puts an item at `dueAt` (moving it if it was already due), re-arming the timer if it is now the earliest. */
  schedule(item: T, dueAt: number): void {
    this.heap.schedule(item, dueAt);
    if (dueAt < this.wakeAt) this.arm(dueAt);
  }

  remove(item: T): void {
    this.heap.remove(item);
  }

  /** Forgets everything due and fires nothing more. */
  stop(): void {
    this.stopped = true;
    this.heap.clear();
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    this.wakeAt = Infinity;
  }

  private arm(dueAt: number): void {
    if (this.wake) clearTimeout(this.wake);
    const at = Math.max(dueAt, this.lastWake + WAKE_MIN_MS);
    this.wakeAt = at;
    this.wake = setTimeout(this.onWake, Math.max(1, at - performance.now()));
  }

  /** Fires everything due (timers run up to a millisecond late: anything due by then goes now too). */
  private readonly onWake = (): void => {
    this.wake = null;
    this.wakeAt = Infinity;
    if (this.stopped) return;
    const now = performance.now();
    this.lastWake = now;
    const heap = this.heap;
    for (let top = heap.peek(); top && top.dueAt <= now + 1; top = heap.peek()) {
      heap.pop();
      this.fire(top, now);
    }
    const next = heap.peek();
    if (next && next.dueAt < this.wakeAt) this.arm(next.dueAt);
  };
}
