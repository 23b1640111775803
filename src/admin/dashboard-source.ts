/**
 * Where `GET /api/v1/dashboard/summary` and `/stream` get their numbers: this instance's sampler (embedded
 * mode), or every live instance's, asked over the bus on `{root}.instance.{pod token}.dashboard` and added up
 * (cluster mode; with WORKERS > 1 each worker is an instance, so the whole process is covered).
 */
import { encodeSubjectToken } from '../bus/subject-token.js';
import type { Bus, Subscription } from '../bus/types.js';
import type { Registry } from '../registry/types.js';
import type { DashboardSampler } from './dashboard-sampler.js';
import { historyCapacity } from './dashboard-sampler.js';
import { type DashboardSnapshot, type HistoryPoint, type InstanceSample, mergeHistories, mergeSamples } from './dashboard-stats.js';

export interface DashboardSource {
  /** The latest statistics; with `withHistory` the last 30 minutes of totals as well. */
  snapshot(withHistory: boolean): Promise<DashboardSnapshot>;
  /** Calls `listener` with a snapshot (without history) every sampling interval until the returned function is called. */
  subscribe(listener: (snapshot: DashboardSnapshot) => void): () => void;
  readonly intervalMs: number;
  close(): void;
}

function snapshotOf(
  mode: DashboardSnapshot['mode'],
  intervalMs: number,
  samples: InstanceSample[],
  missingInstances: string[],
  history: HistoryPoint[] | undefined,
): DashboardSnapshot {
  const sorted = [...samples].sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  const at = samples.reduce((latest, s) => Math.max(latest, s.at), 0) || Date.now();
  return {
    at: new Date(at).toISOString(),
    mode,
    intervalMs,
    totals: mergeSamples(sorted),
    instances: sorted.map((s) => ({ instance: s.instance, ...s.stats })),
    missingInstances: [...missingInstances].sort(),
    ...(history !== undefined ? { history } : {}),
  };
}

/** Embedded mode: this instance alone. `intervalMs` is the length of the interval the last sample covered. */
export class LocalDashboard implements DashboardSource {
  constructor(private readonly sampler: DashboardSampler) {}

  get intervalMs(): number {
    return this.sampler.intervalMs;
  }

  async snapshot(withHistory: boolean): Promise<DashboardSnapshot> {
    return this.snapshotNow(withHistory);
  }

  private snapshotNow(withHistory: boolean, sample = this.sampler.current()): DashboardSnapshot {
    return snapshotOf('embedded', sample.intervalMs || this.sampler.intervalMs, [sample], [], withHistory ? this.sampler.historyPoints() : undefined);
  }

  subscribe(listener: (snapshot: DashboardSnapshot) => void): () => void {
    return this.sampler.onSample((sample) => listener(this.snapshotNow(false, sample)));
  }

  close(): void {
    this.sampler.stop();
  }
}

/** The subject an instance answers dashboard requests on. */
export function instanceDashboardSubject(instanceId: string, subjectRoot = 'gateway'): string {
  return `${subjectRoot}.instance.${encodeSubjectToken(instanceId)}.dashboard`;
}

interface DashboardAnswer {
  sample: InstanceSample;
  history?: HistoryPoint[];
}

/** Answers other instances with this instance's latest sample (and its history when asked). */
export function serveDashboard(options: { bus: Pick<Bus, 'respond'>; instanceId: string; sampler: DashboardSampler; subjectRoot?: string }): Subscription {
  return options.bus.respond(instanceDashboardSubject(options.instanceId, options.subjectRoot), (message) => {
    const request = message.data as { history?: unknown } | null;
    if (typeof request !== 'object' || request === null) throw new Error('a dashboard request is a JSON object');
    const answer: DashboardAnswer = { sample: options.sampler.current() };
    if (request.history === true) answer.history = options.sampler.historyPoints();
    return answer;
  });
}

function isSample(value: unknown): value is InstanceSample {
  const sample = value as InstanceSample | null;
  return typeof sample === 'object' && sample !== null && typeof sample.instance === 'string' && typeof sample.stats === 'object' && sample.stats !== null;
}

export interface ClusterDashboardOptions {
  registry: Pick<Registry, 'liveInstances'>;
  bus: Pick<Bus, 'request'>;
  instanceId: string;
  sampler: DashboardSampler;
  subjectRoot?: string;
  /** How long a snapshot waits for other instances; default the sampling interval, within 0.5 to 2 s. */
  timeoutMs?: number;
}

/** Cluster mode: every live instance's latest sample, added up; those that do not answer in time are named. */
export class ClusterDashboard implements DashboardSource {
  private readonly timeoutMs: number;
  private readonly listeners = new Set<(snapshot: DashboardSnapshot) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly options: ClusterDashboardOptions) {
    this.timeoutMs = options.timeoutMs ?? Math.max(500, Math.min(2000, options.sampler.intervalMs));
  }

  get intervalMs(): number {
    return this.options.sampler.intervalMs;
  }

  async snapshot(withHistory: boolean): Promise<DashboardSnapshot> {
    const { registry, instanceId, sampler } = this.options;
    const instances = [...(await registry.liveInstances())];
    if (!instances.includes(instanceId)) instances.push(instanceId);
    const answers = await Promise.all(
      instances.map(async (instance): Promise<{ instance: string; answer?: DashboardAnswer }> => {
        if (instance === instanceId) return { instance, answer: { sample: sampler.current(), ...(withHistory ? { history: sampler.historyPoints() } : {}) } };
        try {
          const answer = (await this.options.bus.request(
            instanceDashboardSubject(instance, this.options.subjectRoot),
            { history: withHistory },
            this.timeoutMs,
          )) as DashboardAnswer;
          return { instance, answer };
        } catch {
          return { instance };
        }
      }),
    );
    const samples: InstanceSample[] = [];
    const histories: HistoryPoint[][] = [];
    const missing: string[] = [];
    for (const { instance, answer } of answers) {
      if (answer === undefined || !isSample(answer.sample)) {
        missing.push(instance);
        continue;
      }
      // The registry's name, not the one in the answer: a sample is shown under the instance that was asked.
      samples.push({ ...answer.sample, instance });
      if (withHistory && Array.isArray(answer.history)) histories.push(answer.history);
    }
    const history = withHistory ? mergeHistories(histories, this.intervalMs, historyCapacity(this.intervalMs)) : undefined;
    return snapshotOf('cluster', this.intervalMs, samples, missing, history);
  }

  subscribe(listener: (snapshot: DashboardSnapshot) => void): () => void {
    this.listeners.add(listener);
    // Polls the cluster only while someone watches.
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopPolling();
    };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const snapshot = await this.snapshot(false);
      for (const listener of this.listeners) listener(snapshot);
    } catch {
      // The registry did not answer: this tick is skipped, the next one tries again.
    } finally {
      this.polling = false;
    }
  }

  private stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.listeners.clear();
    this.stopPolling();
    this.options.sampler.stop();
  }
}
