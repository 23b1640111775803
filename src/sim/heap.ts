/**
 * A binary min-heap of scheduled items, ordered by `dueAt`. One heap per simulator process replaces
 * a timer per charger: the scheduler ticks a few times a second and pops whatever is due. Items
 * remember their position so that they can be removed when plans change (a socket closes, a
 * central-system CALL asks for something now).
 */
export interface Scheduled {
  dueAt: number;
  /** Position in the heap, -1 when not scheduled. */
  heapPos: number;
}

export class MinHeap<T extends Scheduled> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Schedules an item at `dueAt`, rescheduling it if it is already in the heap. */
  schedule(item: T, dueAt: number): void {
    if (item.heapPos >= 0) this.remove(item);
    item.dueAt = dueAt;
    item.heapPos = this.items.length;
    this.items.push(item);
    this.up(item.heapPos);
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop();
    top.heapPos = -1;
    if (last !== undefined && items.length > 0) {
      items[0] = last;
      last.heapPos = 0;
      this.down(0);
    }
    return top;
  }

  remove(item: T): void {
    const i = item.heapPos;
    if (i < 0) return;
    const items = this.items;
    const last = items.pop();
    item.heapPos = -1;
    if (last === undefined || i === items.length) return; // it was the last one
    items[i] = last;
    last.heapPos = i;
    this.down(i);
    this.up(last.heapPos);
  }

  clear(): void {
    for (const item of this.items) item.heapPos = -1;
    this.items = [];
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p.dueAt <= item.dueAt) break;
      items[i] = p;
      p.heapPos = i;
      i = parent;
    }
    items[i] = item;
    item.heapPos = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right].dueAt < items[left].dueAt ? right : left;
      const c = items[child];
      if (c.dueAt >= item.dueAt) break;
      items[i] = c;
      c.heapPos = i;
      i = child;
    }
    items[i] = item;
    item.heapPos = i;
  }
}
