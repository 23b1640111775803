/**
 * The charger listing of cluster mode: any instance's admin API shows every charger of the cluster, each with
 * the instance that holds its connection.
 *
 * Each instance answers for its own chargers on `{root}.instance.{pod token}.charge-points` (the pod id written
 * as one subject token, src/bus/subject-token.ts). A listing asks every live instance (from the registry) at
 * once for its part of the page, with a timeout, and merges the parts; an instance that does not answer in
 * time is named in the page (`partial`, `missingInstances`) instead of holding the request. A detail asks only
 * the instance that owns the charger in the registry.
 */
import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { encodeSubjectToken } from '../bus/subject-token.js';
import type { Bus, Subscription } from '../bus/types.js';
import type { FlightRecorder } from '../gateway/flight-recorder.js';
import { isOcppVersion } from '../ocpp/versions.js';
import type { Registry } from '../registry/types.js';
import type { ChargerDirectory, ChargerFilter, ChargerPageResult, DetailedCharger, ListedCharger, SessionLookup } from './charger-directory.js';
import { LocalChargerDirectory } from './charger-directory.js';

/** The subject an instance answers charger look-ups on. */
export function instanceChargePointsSubject(instanceId: string, subjectRoot = 'gateway'): string {
  return `${subjectRoot}.instance.${encodeSubjectToken(instanceId)}.charge-points`;
}

/** A request on that subject: a page (`after`, `limit`, filtered by `q` and `protocol`) or one charger (`identity`). */
export type ChargePointsRequest = { after?: string; limit: number; q?: string; protocol?: string } | { identity: string };

/** The longest `q` a listing takes (the API's own bound). */
export const MAX_QUERY_LENGTH = 128;

export interface ChargePointsPageAnswer {
  instance: string;
  total: number;
  /** At most `limit`, ascending by identity. */
  items: ListedCharger[];
}

export interface ChargePointAnswer {
  instance: string;
  charger: DetailedCharger | null;
}

/** Most chargers one instance sends for a page: the API's largest page plus the one that tells "more". */
export const MAX_ANSWER_ITEMS = 1001;
/** Identities are at most a few hundred characters; a cursor longer than this is not one. */
const MAX_IDENTITY_LENGTH = 1024;

export interface ServeChargerDirectoryOptions {
  bus: Pick<Bus, 'respond'>;
  instanceId: string;
  sessions: SessionLookup;
  subjectRoot?: string;
  /** The gateway's metrics registry: refused requests are counted there. */
  metrics?: MetricsRegistry;
  /** This instance's flight recorder: a charger's detail shows its recording. */
  recorder?: Pick<FlightRecorder, 'get'>;
}

/** A counter on `registry`, fetched when it exists (several directories or responders on one gateway). */
function counter(registry: MetricsRegistry | undefined, name: string, help: string, labelNames: string[]): Counter<string> | undefined {
  if (registry === undefined) return undefined;
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * Answers this instance's part of the cluster's charger listing from its sessions. Requests that are not
 * one of the two forms are refused (the requester sees a responder error), never guessed at.
 */
export function serveChargerDirectory(options: ServeChargerDirectoryOptions): Subscription {
  const local = new LocalChargerDirectory(options.sessions, options.instanceId, options.recorder);
  const refusals = counter(options.metrics, 'gateway_charger_directory_refusals_total', 'Charge-point look-ups from other instances refused as malformed', []);
  return options.bus.respond(instanceChargePointsSubject(options.instanceId, options.subjectRoot), (message) => {
    try {
      return answerLookup(local, options.instanceId, message.data);
    } catch (err) {
      refusals?.inc();
      throw err;
    }
  });
}

function answerLookup(local: LocalChargerDirectory, instanceId: string, data: unknown): ChargePointAnswer | ChargePointsPageAnswer {
  const request = data as Record<string, unknown> | null;
  if (typeof request !== 'object' || request === null) throw new Error('a charge-points request is a JSON object');
  if ('identity' in request) {
    if (typeof request.identity !== 'string' || request.identity.length === 0 || request.identity.length > MAX_IDENTITY_LENGTH) {
      throw new Error('identity must be a non-empty string');
    }
    const answer: ChargePointAnswer = { instance: instanceId, charger: local.detailNow(request.identity) ?? null };
    return answer;
  }
  const { after, limit, q, protocol } = request;
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_ANSWER_ITEMS) {
    throw new Error(`limit must be an integer from 1 to ${MAX_ANSWER_ITEMS}`);
  }
  if (after !== undefined && (typeof after !== 'string' || after.length > MAX_IDENTITY_LENGTH)) throw new Error('after must be an identity');
  if (q !== undefined && (typeof q !== 'string' || q.length === 0 || q.length > MAX_QUERY_LENGTH)) throw new Error(`q must be 1 to ${MAX_QUERY_LENGTH} characters`);
  if (protocol !== undefined && !isOcppVersion(protocol)) throw new Error('protocol must be ocpp1.6 or ocpp2.0.1');
  const filter: ChargerFilter = { ...(q !== undefined ? { q: q as string } : {}), ...(protocol !== undefined ? { protocol } : {}) };
  const page = local.pageNow(after as string | undefined, limit as number, filter);
  const answer: ChargePointsPageAnswer = { instance: instanceId, total: page.total, items: page.items };
  return answer;
}

/** The instance that holds the charger did not answer; the detail cannot be given now. */
export class InstanceUnavailableError extends Error {
  readonly code = 'INSTANCE_UNAVAILABLE';
  constructor(
    readonly instance: string,
    cause: unknown,
  ) {
    super(`instance ${instance}, which holds the charger, did not answer: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'InstanceUnavailableError';
  }
}

export interface ClusterChargerDirectoryOptions {
  registry: Pick<Registry, 'liveInstances' | 'owner'>;
  bus: Pick<Bus, 'request'>;
  /** This instance: its own part is read from `sessions` directly, not over NATS. */
  instanceId: string;
  sessions: SessionLookup;
  subjectRoot?: string;
  /** How long a listing or detail waits for other instances. Default 2 s. */
  timeoutMs?: number;
  /** The gateway's metrics registry: instances that did not answer are counted there. */
  metrics?: MetricsRegistry;
  /** This instance's flight recorder: a charger's detail shows its recording. */
  recorder?: Pick<FlightRecorder, 'get'>;
}

export class ClusterChargerDirectory implements ChargerDirectory {
  private readonly local: LocalChargerDirectory;
  private readonly timeoutMs: number;
  private readonly unanswered: Counter<string> | undefined;

  constructor(private readonly options: ClusterChargerDirectoryOptions) {
    this.local = new LocalChargerDirectory(options.sessions, options.instanceId, options.recorder);
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.unanswered = counter(
      options.metrics,
      'admin_cluster_unanswered_total',
      'Instances that did not answer a charger listing (lookup="page") or detail (lookup="detail") in time',
      ['lookup'],
    );
  }

  async page(after: string | undefined, limit: number, filter?: ChargerFilter): Promise<ChargerPageResult> {
    const instances = [...(await this.options.registry.liveInstances())];
    // Our own part even when our registration lapsed: its chargers are still connected here.
    if (!instances.includes(this.options.instanceId)) instances.push(this.options.instanceId);
    // Each instance sends its `limit + 1` smallest after the cursor: the merged page's `limit + 1` smallest are
    // among them, and the one beyond `limit` tells whether another page follows.
    const parts = await Promise.all(
      instances.map(async (instance) => {
        if (instance === this.options.instanceId) {
          const own = this.local.pageNow(after, limit + 1, filter);
          return { instance, answer: { instance, total: own.total, items: own.items } as ChargePointsPageAnswer };
        }
        try {
          const answer = (await this.options.bus.request(
            instanceChargePointsSubject(instance, this.options.subjectRoot),
            {
              ...(after !== undefined ? { after } : {}),
              limit: limit + 1,
              ...(filter?.q !== undefined ? { q: filter.q } : {}),
              ...(filter?.protocol !== undefined ? { protocol: filter.protocol } : {}),
            },
            this.timeoutMs,
          )) as ChargePointsPageAnswer;
          return { instance, answer };
        } catch {
          return { instance, answer: undefined };
        }
      }),
    );
    const missingInstances: string[] = [];
    const byIdentity = new Map<string, ListedCharger>();
    let total = 0;
    for (const { instance, answer } of parts) {
      if (!Array.isArray(answer?.items)) {
        missingInstances.push(instance);
        this.unanswered?.labels('page').inc();
        continue;
      }
      total += typeof answer.total === 'number' ? answer.total : 0;
      // An instance sends at most what was asked; more would only be work for nothing.
      for (const item of answer.items.slice(0, limit + 1)) {
        if (typeof item !== 'object' || item === null || typeof item.identity !== 'string' || (after !== undefined && !(item.identity > after))) continue;
        // A charger that just moved may be listed by both instances for a moment: show it once.
        if (!byIdentity.has(item.identity)) byIdentity.set(item.identity, { ...item, instance });
      }
    }
    const merged = [...byIdentity.values()].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
    return { items: merged.slice(0, limit), more: merged.length > limit, total, missingInstances: missingInstances.sort() };
  }

  async detail(identity: string): Promise<DetailedCharger | undefined> {
    const owner = await this.options.registry.owner(identity);
    if (owner === null) return undefined;
    if (owner.instanceId === this.options.instanceId) return this.local.detailNow(identity);
    let answer: ChargePointAnswer;
    try {
      answer = (await this.options.bus.request(
        instanceChargePointsSubject(owner.instanceId, this.options.subjectRoot),
        { identity },
        this.timeoutMs,
      )) as ChargePointAnswer;
    } catch (err) {
      this.unanswered?.labels('detail').inc();
      throw new InstanceUnavailableError(owner.instanceId, err);
    }
    return answer?.charger ? { ...answer.charger, instance: owner.instanceId } : undefined;
  }
}
