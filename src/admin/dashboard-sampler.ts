/**
 * Samples this gateway instance's own metrics every `admin.dashboardIntervalMs` for the dashboard: rates and
 * percentiles over the last interval come from the change of the counters and histograms since the sample
 * before, cumulative counts are read as they are, and the totals of each sample go into a bounded history.
 *
 * It reads the metric objects the message path already updates (src/observability/metrics.ts): the dashboard
 * adds nothing per message.
 */
import type { Metrics } from '../observability/metrics.js';
import { type Connected, type HistogramDelta, type HistoryPoint, type InstanceSample, type InstanceStats, percentiles, sumRates } from './dashboard-stats.js';

/** The history covers at most the last 30 minutes, in at most this many points. */
export const HISTORY_MS = 30 * 60 * 1000;
const MAX_HISTORY_POINTS = 1800;

export function historyCapacity(intervalMs: number): number {
  return Math.max(1, Math.min(MAX_HISTORY_POINTS, Math.ceil(HISTORY_MS / intervalMs)));
}

type MetricValue = { labels: Record<string, string | number | undefined>; value: number; metricName?: string };

/** What a sample reads: the cumulative values the next sample's deltas are taken against. */
interface Reading {
  at: number;
  connected: Connected;
  /** `in\u0001Heartbeat` → messages since the start. */
  messages: Map<string, number>;
  roundTrip: number[];
  inboundCall: number[];
  callErrors: Record<string, number>;
  refusals: Record<string, number>;
  closes: InstanceStats['closes'];
}

export class DashboardSampler {
  private previous: Reading | undefined;
  private latest: InstanceSample;
  private readonly history: HistoryPoint[] = [];
  private readonly capacity: number;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;
  private readonly listeners = new Set<(sample: InstanceSample) => void>();
  private readonly bounds: number[];

  constructor(
    private readonly metrics: Metrics,
    readonly instance: string,
    readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = historyCapacity(intervalMs);
    this.bounds = [...metrics.callDuration.bounds];
    this.latest = this.emptySample();
  }

  /** Takes the first reading (the baseline of the first interval) and samples every interval from then on. */
  async start(): Promise<void> {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    await this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** The last sample (before the first interval has passed: counts as they are, no rates). */
  current(): InstanceSample {
    return this.latest;
  }

  /** The totals of every sample of the last 30 minutes, oldest first. */
  historyPoints(): HistoryPoint[] {
    return [...this.history];
  }

  /** Called with every new sample; returns the function that stops it. */
  onSample(listener: (sample: InstanceSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the metrics and, after the first reading, makes a sample of the interval since the one before. */
  async sample(): Promise<void> {
    // prom-client reads some metrics asynchronously; a slow read is not overtaken by the next tick.
    if (this.sampling) return;
    this.sampling = true;
    try {
      const reading = await this.read();
      const previous = this.previous;
      this.previous = reading;
      if (previous === undefined) {
        this.latest = this.sampleOf(reading, undefined);
        return;
      }
      const sample = this.sampleOf(reading, previous);
      this.latest = sample;
      this.history.push({
        at: new Date(sample.at).toISOString(),
        connected: { ...sample.stats.connected },
        inboundPerSecond: sumRates(sample.stats.messagesPerSecond.inbound),
        outboundPerSecond: sumRates(sample.stats.messagesPerSecond.outbound),
      });
      if (this.history.length > this.capacity) this.history.splice(0, this.history.length - this.capacity);
      for (const listener of this.listeners) listener(sample);
    } finally {
      this.sampling = false;
    }
  }

  private emptySample(): InstanceSample {
    const zero = new Array(this.bounds.length + 1).fill(0);
    return {
      instance: this.instance,
      at: this.now(),
      intervalMs: 0,
      stats: {
        connected: { 'ocpp1.6': 0, 'ocpp2.0.1': 0 },
        messagesPerSecond: { inbound: {}, outbound: {} },
        callRoundTripMs: percentiles({ bounds: this.bounds, cumulative: zero }),
        inboundCallMs: percentiles({ bounds: this.bounds, cumulative: zero }),
        callErrors: {},
        refusals: {},
        closes: { outbox: 0, keepalive: 0 },
      },
      roundTrip: { bounds: this.bounds, cumulative: zero },
      inboundCall: { bounds: this.bounds, cumulative: zero },
    };
  }

  private sampleOf(reading: Reading, previous: Reading | undefined): InstanceSample {
    const elapsedMs = previous === undefined ? 0 : Math.max(1, reading.at - previous.at);
    const inbound: Record<string, number> = {};
    const outbound: Record<string, number> = {};
    if (previous !== undefined) {
      for (const [key, value] of reading.messages) {
        const delta = value - (previous.messages.get(key) ?? 0);
        if (delta <= 0) continue;
        const separator = key.indexOf('\u0001');
        const target = key.slice(0, separator) === 'in' ? inbound : outbound;
        target[key.slice(separator + 1)] = (delta * 1000) / elapsedMs;
      }
    }
    const roundTrip = this.deltaOf(reading.roundTrip, previous?.roundTrip);
    const inboundCall = this.deltaOf(reading.inboundCall, previous?.inboundCall);
    return {
      instance: this.instance,
      at: reading.at,
      intervalMs: elapsedMs,
      stats: {
        connected: reading.connected,
        messagesPerSecond: { inbound, outbound },
        callRoundTripMs: percentiles(roundTrip),
        inboundCallMs: percentiles(inboundCall),
        callErrors: reading.callErrors,
        refusals: reading.refusals,
        closes: reading.closes,
      },
      roundTrip,
      inboundCall,
    };
  }

  /** The interval's share of a cumulative histogram (all of it before there is a previous reading: nothing). */
  private deltaOf(now: number[], before: number[] | undefined): HistogramDelta {
    return { bounds: this.bounds, cumulative: before === undefined ? now.map(() => 0) : now.map((value, i) => value - (before[i] ?? 0)) };
  }

  private async read(): Promise<Reading> {
    const m = this.metrics;
    const [connections, received, attempts, validation, disconnects] = await Promise.all([
      m.connections.get(),
      m.callErrorsReceived.get(),
      m.connectionAttempts.get(),
      m.validationFailures.get(),
      m.disconnects.get(),
    ]);
    const connected: Connected = { 'ocpp1.6': 0, 'ocpp2.0.1': 0 };
    for (const { labels, value } of connections.values as MetricValue[]) {
      if (labels.protocol === 'ocpp1.6' || labels.protocol === 'ocpp2.0.1') connected[labels.protocol] += value;
    }
    const messages = new Map<string, number>();
    for (const { labels, value } of m.messages.get().values as MetricValue[]) {
      const key = `${labels.direction}\u0001${labels.action}`;
      messages.set(key, (messages.get(key) ?? 0) + value);
    }
    const { out: roundTrip, in: inboundCall } = this.cumulativeByDirection(m.callDuration.get().values as MetricValue[]);
    const callErrors: Record<string, number> = {};
    for (const { labels, value } of [...(m.callErrorsSent.get().values as MetricValue[]), ...(received.values as MetricValue[])]) {
      if (value > 0) callErrors[String(labels.code)] = (callErrors[String(labels.code)] ?? 0) + value;
    }
    const refusals: Record<string, number> = {};
    for (const { labels, value } of attempts.values as MetricValue[]) {
      if (labels.outcome !== 'accepted' && value > 0) refusals[String(labels.outcome)] = (refusals[String(labels.outcome)] ?? 0) + value;
    }
    let schema = 0;
    for (const { labels, value } of validation.values as MetricValue[]) if (labels.direction === 'request' && labels.mode === 'strict') schema += value;
    if (schema > 0) refusals.schema = schema;
    const closes: InstanceStats['closes'] = { outbox: 0, keepalive: 0 };
    const other: Record<string, number> = {};
    for (const { labels, value } of disconnects.values as MetricValue[]) {
      if (labels.cause === 'outbox_full') closes.outbox += value;
      else if (labels.cause === 'keepalive') closes.keepalive += value;
      else if (value > 0) other[String(labels.cause)] = (other[String(labels.cause)] ?? 0) + value;
    }
    if (Object.keys(other).length > 0) closes.other = other;
    return { at: this.now(), connected, messages, roundTrip, inboundCall, callErrors, refusals, closes };
  }

  /** The call-duration histogram summed over actions, per direction, as cumulative counts per bound. */
  private cumulativeByDirection(values: MetricValue[]): { out: number[]; in: number[] } {
    const out = new Array(this.bounds.length + 1).fill(0);
    const inbound = new Array(this.bounds.length + 1).fill(0);
    const index = new Map(this.bounds.map((bound, i) => [String(bound), i]));
    for (const { labels, value, metricName } of values) {
      if (metricName === undefined || !metricName.endsWith('_bucket')) continue;
      const i = labels.le === '+Inf' ? this.bounds.length : index.get(String(labels.le));
      if (i === undefined) continue;
      if (labels.direction === 'out') out[i] += value;
      else if (labels.direction === 'in') inbound[i] += value;
    }
    return { out, in: inbound };
  }
}
