/**
 * The operator dashboard's statistics: what one instance reports per sampling interval, and how instances'
 * reports add up to the fleet's. Pure functions, no I/O; the sampler (dashboard-sampler.ts) fills them in.
 */

export type Connected = { 'ocpp1.6': number; 'ocpp2.0.1': number };

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  count: number;
}

export interface InstanceStats {
  connected: Connected;
  /** Messages per second over the last interval, by action (CALLs and their answers together). */
  messagesPerSecond: { inbound: Record<string, number>; outbound: Record<string, number> };
  /** Gateway → charger CALLs (commands): the charger's answer time, last interval. */
  callRoundTripMs: Percentiles;
  /** Charger CALL → the gateway's answer, last interval. */
  inboundCallMs?: Percentiles;
  /** CALLERRORs sent and received since the start, by OCPP error code. */
  callErrors: Record<string, number>;
  /** Connection attempts refused since the start, by outcome; `schema`: CALLs refused by the OCPP schema. */
  refusals: Record<string, number>;
  /** Connections closed since the start: outbox (charger stopped reading), keepalive (no pong), the rest by cause. */
  closes: { outbox: number; keepalive: number; other?: Record<string, number> };
}

export interface HistoryPoint {
  at: string;
  connected: Connected;
  inboundPerSecond: number;
  outboundPerSecond: number;
}

export interface DashboardSnapshot {
  at: string;
  mode: 'embedded' | 'cluster';
  intervalMs: number;
  totals: InstanceStats;
  instances: Array<{ instance: string } & InstanceStats>;
  missingInstances: string[];
  history?: HistoryPoint[];
}

/**
 * Cumulative bucket counts of one interval (the delta of a histogram): counts[i] observations ≤ bounds[i], the
 * last entry every observation. Instances add these up, which percentiles cannot.
 */
export interface HistogramDelta {
  /** Upper bounds in seconds, ascending. */
  bounds: number[];
  cumulative: number[];
}

/** One instance's sample: the stats it shows and the histogram deltas the fleet's percentiles are made from. */
export interface InstanceSample {
  instance: string;
  at: number;
  /** How long the interval was: the rates are its counts divided by it. */
  intervalMs: number;
  stats: InstanceStats;
  roundTrip: HistogramDelta;
  inboundCall?: HistogramDelta;
}

const QUANTILES = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
] as const;

/**
 * Percentiles in ms from a histogram delta, interpolated within the bucket as Prometheus' histogram_quantile
 * does; above the last bound the last bound is the answer. null when nothing was observed.
 */
export function percentiles(delta: HistogramDelta): Percentiles {
  const { bounds, cumulative } = delta;
  const count = cumulative[cumulative.length - 1] ?? 0;
  const out: Percentiles = { p50: null, p90: null, p99: null, count };
  if (count <= 0) return out;
  for (const [name, q] of QUANTILES) {
    const rank = q * count;
    let i = 0;
    while (i < bounds.length && cumulative[i] < rank) i++;
    let seconds: number;
    if (i >= bounds.length) seconds = bounds[bounds.length - 1];
    else {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : cumulative[i - 1];
      const inBucket = cumulative[i] - below;
      seconds = inBucket <= 0 ? bounds[i] : lower + ((bounds[i] - lower) * (rank - below)) / inBucket;
    }
    out[name] = Math.round(seconds * 1_000_000) / 1000;
  }
  return out;
}

/** Adds histogram deltas with the same bounds (those of another build are left out rather than mis-added). */
export function mergeHistograms(deltas: Array<HistogramDelta | undefined>): HistogramDelta | undefined {
  let merged: HistogramDelta | undefined;
  for (const delta of deltas) {
    if (delta === undefined || !Array.isArray(delta.bounds) || !Array.isArray(delta.cumulative)) continue;
    if (merged === undefined) {
      merged = { bounds: [...delta.bounds], cumulative: [...delta.cumulative] };
      continue;
    }
    if (delta.bounds.length !== merged.bounds.length || delta.bounds.some((b, i) => b !== merged?.bounds[i])) continue;
    for (let i = 0; i < merged.cumulative.length; i++) merged.cumulative[i] += Number(delta.cumulative[i]) || 0;
  }
  return merged;
}

function addInto(target: Record<string, number>, source: Record<string, number> | undefined): void {
  if (source === undefined || typeof source !== 'object') return;
  for (const [key, value] of Object.entries(source)) if (typeof value === 'number') target[key] = (target[key] ?? 0) + value;
}

/** The fleet's stats: sums of counts and rates; percentiles from the merged histogram deltas. */
export function mergeSamples(samples: InstanceSample[]): InstanceStats {
  const totals: InstanceStats = {
    connected: { 'ocpp1.6': 0, 'ocpp2.0.1': 0 },
    messagesPerSecond: { inbound: {}, outbound: {} },
    callRoundTripMs: percentiles(mergeHistograms(samples.map((s) => s.roundTrip)) ?? { bounds: [], cumulative: [0] }),
    callErrors: {},
    refusals: {},
    closes: { outbox: 0, keepalive: 0 },
  };
  const inbound = mergeHistograms(samples.map((s) => s.inboundCall));
  if (inbound !== undefined) totals.inboundCallMs = percentiles(inbound);
  const other: Record<string, number> = {};
  for (const { stats } of samples) {
    totals.connected['ocpp1.6'] += stats.connected['ocpp1.6'] ?? 0;
    totals.connected['ocpp2.0.1'] += stats.connected['ocpp2.0.1'] ?? 0;
    addInto(totals.messagesPerSecond.inbound, stats.messagesPerSecond.inbound);
    addInto(totals.messagesPerSecond.outbound, stats.messagesPerSecond.outbound);
    addInto(totals.callErrors, stats.callErrors);
    addInto(totals.refusals, stats.refusals);
    totals.closes.outbox += stats.closes.outbox ?? 0;
    totals.closes.keepalive += stats.closes.keepalive ?? 0;
    addInto(other, stats.closes.other);
  }
  if (Object.keys(other).length > 0) totals.closes.other = other;
  return totals;
}

export function sumRates(rates: Record<string, number>): number {
  let sum = 0;
  for (const value of Object.values(rates)) sum += value;
  return sum;
}

/**
 * The fleet's history from each instance's own: points are put in slots of one interval by their time and
 * summed per slot (instances sample at their own moments, each once per interval), oldest first, up to the
 * newest slot every instance has reached.
 */
export function mergeHistories(histories: HistoryPoint[][], intervalMs: number, maxPoints: number): HistoryPoint[] {
  if (histories.length === 1) return histories[0].slice(-maxPoints);
  // The newest slots are complete only once every instance has sampled in them: later ones are left for the next
  // summary, so the last point never adds up only some of the instances.
  let complete = Number.POSITIVE_INFINITY;
  for (const history of histories) {
    const last = Array.isArray(history) && history.length > 0 ? Date.parse(history[history.length - 1]?.at) : Number.NaN;
    if (Number.isFinite(last)) complete = Math.min(complete, Math.floor(last / intervalMs));
  }
  // Each instance once per slot. Its sampling timer runs on its own phase and drifts: two of its samples can fall
  // in one slot (the later stands for it; summing both would count its chargers twice), and it can skip a slot
  // (its previous sample stands for it; leaving it out would drop its chargers from that point of the chart).
  const perInstance: Array<Map<number, HistoryPoint>> = [];
  const slots = new Set<number>();
  for (const history of histories) {
    if (!Array.isArray(history)) continue;
    const bySlot = new Map<number, HistoryPoint>();
    for (const point of history) {
      const ms = Date.parse(point?.at);
      if (!Number.isFinite(ms)) continue;
      const slot = Math.floor(ms / intervalMs);
      if (slot > complete) continue;
      bySlot.set(slot, point);
      slots.add(slot);
    }
    perInstance.push(bySlot);
  }
  const latest: Array<HistoryPoint | undefined> = perInstance.map(() => undefined);
  const merged: HistoryPoint[] = [];
  for (const slot of [...slots].sort((a, b) => a - b)) {
    const point: HistoryPoint = { at: new Date(slot * intervalMs).toISOString(), connected: { 'ocpp1.6': 0, 'ocpp2.0.1': 0 }, inboundPerSecond: 0, outboundPerSecond: 0 };
    perInstance.forEach((bySlot, i) => {
      const own = bySlot.get(slot) ?? latest[i];
      if (own === undefined) return; // not running yet
      latest[i] = own;
      point.connected['ocpp1.6'] += own.connected?.['ocpp1.6'] ?? 0;
      point.connected['ocpp2.0.1'] += own.connected?.['ocpp2.0.1'] ?? 0;
      point.inboundPerSecond += own.inboundPerSecond ?? 0;
      point.outboundPerSecond += own.outboundPerSecond ?? 0;
    });
    merged.push(point);
  }
  return merged.slice(-maxPoints);
}
