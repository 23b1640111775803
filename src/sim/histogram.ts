/**
 * A log-bucketed latency histogram in the spirit of HDR histograms: constant memory whatever the
 * number of samples, about 0.8 % relative error, and mergeable, so every worker records its own
 * and the parent adds them up without ever holding a per-sample array.
 *
 * Values are non-negative integers (the simulator records microseconds). Values below 256 get a
 * bucket each; above that every power-of-two range is split into 128 linear sub-buckets.
 */

const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS; // 128 sub-buckets per power of two
const MAX_VALUE = 0x7fffffff; // about 35 minutes in microseconds: anything above is clamped
const BUCKETS = bucketIndex(MAX_VALUE) + 1;

/** The bucket a value falls in. Exact below 256, then 128 buckets per doubling. */
function bucketIndex(value: number): number {
  if (value < 2 * SUB_COUNT) return value;
  const exponent = 31 - Math.clz32(value);
  const shift = exponent - SUB_BITS;
  return SUB_COUNT * shift + (value >>> shift);
}

/** Smallest value that lands in bucket `index`. */
function bucketLow(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  return (index - SUB_COUNT * shift) * 2 ** shift;
}

/** Width of bucket `index` (1 for the exact ones). */
function bucketWidth(index: number): number {
  if (index < 2 * SUB_COUNT) return 1;
  return 2 ** (Math.floor(index / SUB_COUNT) - 1);
}

/** What crosses a process boundary: only the non-empty buckets, as [index, count] pairs flattened. */
export interface HistogramData {
  buckets: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class Histogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Records one sample; negative and fractional values are rounded into range. */
  record(value: number): void {
    let v = Math.round(value);
    if (!(v >= 0)) v = 0;
    if (v > MAX_VALUE) v = MAX_VALUE;
    this.counts[bucketIndex(v)]++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's samples to this one. */
  add(other: Histogram | HistogramData): this {
    const data = other instanceof Histogram ? other.toJSON() : other;
    const b = data.buckets;
    for (let i = 0; i < b.length; i += 2) this.counts[b[i]] += b[i + 1];
    this.count += data.count;
    this.sum += data.sum;
    if (data.count > 0) {
      if (data.min < this.min) this.min = data.min;
      if (data.max > this.max) this.max = data.max;
    }
    return this;
  }

  /**
   * The value at quantile `q` (0..1): the middle of the bucket holding that rank, kept within the
   * observed min and max so p100 is the true maximum.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    if (q >= 1) return this.max;
    if (q <= 0) return this.min;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      seen += c;
      if (seen >= rank) {
        const mid = bucketLow(i) + (bucketWidth(i) - 1) / 2;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }

  toJSON(): HistogramData {
    const buckets: number[] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) buckets.push(i, this.counts[i]);
    return { buckets, count: this.count, sum: this.sum, min: this.count ? this.min : 0, max: this.max };
  }

  static from(data: HistogramData): Histogram {
    return new Histogram().add(data);
  }

  /**
   * The samples recorded between two states of one cumulative histogram (`later` minus `earlier`),
   * for per-interval percentiles. Min and max are the edges of the outermost non-empty buckets.
   */
  static difference(later: HistogramData, earlier: HistogramData): Histogram {
    const counts = new Map<number, number>();
    for (let i = 0; i < later.buckets.length; i += 2) counts.set(later.buckets[i], later.buckets[i + 1]);
    for (let i = 0; i < earlier.buckets.length; i += 2) {
      counts.set(earlier.buckets[i], (counts.get(earlier.buckets[i]) ?? 0) - earlier.buckets[i + 1]);
    }
    const h = new Histogram();
    let lo = Infinity;
    let hi = -1;
    for (const [index, n] of counts) {
      if (n <= 0) continue;
      h.counts[index] = n;
      h.count += n;
      if (index < lo) lo = index;
      if (index > hi) hi = index;
    }
    h.sum = Math.max(0, later.sum - earlier.sum);
    if (hi >= 0) {
      h.min = bucketLow(lo);
      h.max = bucketLow(hi) + bucketWidth(hi) - 1;
    }
    return h;
  }
}

/** The usual latency digest, in milliseconds, from a histogram recorded in microseconds. */
export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export function summarizeMicros(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    count: h.count,
    minMs: ms(h.count ? h.min : 0),
    meanMs: ms(h.mean()),
    p50Ms: ms(h.quantile(0.5)),
    p90Ms: ms(h.quantile(0.9)),
    p99Ms: ms(h.quantile(0.99)),
    p999Ms: ms(h.quantile(0.999)),
    maxMs: ms(h.max),
  };
}
