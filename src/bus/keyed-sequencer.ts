interface Lane {
  tail: Promise<unknown>;
  pending: number;
}

const SETTLED: Promise<unknown> = Promise.resolve();

/**
 * Runs work for one key strictly after the work issued before it for the same key, while different keys run
 * side by side. The work decides what to do about its predecessor's failure (it receives its predecessor's
 * promise). A key's lane is dropped as soon as its last work settles, so the map holds only keys with work in
 * progress, never every key ever seen.
 */
export class KeyedSequencer {
  private readonly lanes = new Map<string, Lane>();

  /** `work` is called at once (synchronously), so anything it does before its first await happens in call order. */
  run<T>(key: string, work: (previous: Promise<unknown>) => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) this.lanes.set(key, (lane = { tail: SETTLED, pending: 0 }));
    const mine = work(lane.tail);
    lane.tail = mine;
    lane.pending++;
    const settle = () => {
      if (--lane.pending === 0) this.lanes.delete(key);
    };
    mine.then(settle, settle);
    return mine;
  }

  /** Keys with work in progress. */
  get size(): number {
    return this.lanes.size;
  }

  /** Settles once all work issued so far has settled (whatever the outcome). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.lanes.values()].map((lane) => lane.tail));
  }
}
