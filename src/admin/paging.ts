/**
 * Keyset paging over identities. A page is "the `limit` smallest identities after the cursor", picked with a
 * bounded heap: O(n log limit) per request instead of sorting every connected charger, which at 20,000
 * sessions would hold the event loop for tens of milliseconds on each page. Chargers that connect or leave
 * between pages never make a page repeat an identity.
 */

/** The `k` smallest strings greater than `after` (all when `after` is undefined), in ascending order. */
export function smallestAfter(values: Iterable<string>, after: string | undefined, k: number): string[] {
  const heap: string[] = []; // max-heap: heap[0] is the largest kept so far
  if (k <= 0) return heap;
  for (const value of values) {
    if (after !== undefined && !(value > after)) continue;
    if (heap.length < k) {
      heap.push(value);
      siftUp(heap, heap.length - 1);
    } else if (value < heap[0]) {
      heap[0] = value;
      siftDown(heap, 0);
    }
  }
  return heap.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function siftUp(heap: string[], i: number): void {
  const value = heap[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] >= value) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = value;
}

function siftDown(heap: string[], i: number): void {
  const n = heap.length;
  const value = heap[i];
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && heap[right] > heap[left] ? right : left;
    if (heap[child] <= value) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = value;
}

/** Cursors are opaque to clients (so their form can change): the last identity of a page, base64url. */
export function encodeCursor(identity: string): string {
  return Buffer.from(identity, 'utf8').toString('base64url');
}

/** The identity a cursor stands for, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const identity = Buffer.from(cursor, 'base64url').toString('utf8');
  return identity.length > 0 && encodeCursor(identity) === cursor ? identity : undefined;
}
