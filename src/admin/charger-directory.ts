import type { FlightRecorder } from '../gateway/flight-recorder.js';
import type { ChargerSession } from '../gateway/session.js';
import type { OcppVersion } from '../ocpp/versions.js';
import { type ChargePointDetailView, type ChargePointView, chargePointDetailView, chargePointView } from './charge-point-view.js';
import { smallestAfter } from './paging.js';

/** A charger as listed, with the instance that holds its connection in cluster mode. */
export type ListedCharger = ChargePointView & { instance?: string };
export type DetailedCharger = ChargePointDetailView & { instance?: string };

export interface ChargerPageResult {
  /** The `limit` smallest identities after the cursor, ascending. */
  items: ListedCharger[];
  /** Whether identities follow the last item. */
  more: boolean;
  /** Chargers connected to the instances that answered. */
  total: number;
  /** Instances that did not answer in time (their chargers are missing from the page); empty when none. */
  missingInstances: string[];
}

/** Which chargers a listing shows: `q` a case-insensitive part of identity, boot vendor or model; `protocol` one version. */
export interface ChargerFilter {
  q?: string;
  protocol?: OcppVersion;
}

/** Whether a connected charger passes the filter; `q` is lower-case already. */
export function matchesFilter(session: ChargerSession, filter: ChargerFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.protocol !== undefined && session.protocol !== filter.protocol) return false;
  const q = filter.q;
  if (q === undefined) return true;
  if (session.identity.toLowerCase().includes(q)) return true;
  const boot = session.charger.boot;
  return boot !== undefined && ((boot.vendor?.toLowerCase().includes(q) ?? false) || (boot.model?.toLowerCase().includes(q) ?? false));
}

/**
 * Where the charger routes of the admin API look chargers up: this instance's sessions (embedded mode), or
 * every live instance of the cluster (cluster-charger-directory.ts).
 */
export interface ChargerDirectory {
  /** The chargers that pass `filter` (all without one); `total` counts those. */
  page(after: string | undefined, limit: number, filter?: ChargerFilter): Promise<ChargerPageResult>;
  /** The charger in detail; undefined when no instance holds it. */
  detail(identity: string): Promise<DetailedCharger | undefined>;
}

/** What the directory reads of a gateway's session table. */
export interface SessionLookup {
  readonly size: number;
  get(identity: string): ChargerSession | undefined;
  values(): Iterable<ChargerSession>;
}

/**
 * This instance's chargers. With `instanceId` every charger names it (`instance`), as in the cluster's
 * listing; without it the views are as in embedded mode.
 */
export class LocalChargerDirectory implements ChargerDirectory {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly instanceId?: string,
    /** Where a charger's recording is found for its detail. */
    private readonly recorder?: Pick<FlightRecorder, 'get'>,
  ) {}

  async page(after: string | undefined, limit: number, filter?: ChargerFilter): Promise<ChargerPageResult> {
    return this.pageNow(after, limit, filter);
  }

  /** The page without a promise: the responder and the cluster directory's own part use it. */
  pageNow(after: string | undefined, limit: number, filter?: ChargerFilter): ChargerPageResult {
    const normalised = normaliseFilter(filter);
    let total = this.sessions.size;
    let candidates: Iterable<ChargerSession> = this.sessions.values();
    if (normalised !== undefined) {
      const matching: ChargerSession[] = [];
      for (const session of this.sessions.values()) if (matchesFilter(session, normalised)) matching.push(session);
      total = matching.length;
      candidates = matching;
    }
    // One more than asked tells whether another page follows without a second pass.
    const identities = smallestAfter(identitiesOf(candidates), after, limit + 1);
    const more = identities.length > limit;
    const items: ListedCharger[] = [];
    for (const identity of more ? identities.slice(0, limit) : identities) {
      const session = this.sessions.get(identity);
      if (session !== undefined) items.push(this.tag(chargePointView(session)));
    }
    return { items, more, total, missingInstances: [] };
  }

  async detail(identity: string): Promise<DetailedCharger | undefined> {
    return this.detailNow(identity);
  }

  detailNow(identity: string): DetailedCharger | undefined {
    const session = this.sessions.get(identity);
    if (session === undefined) return undefined;
    return this.tag(chargePointDetailView(session, this.recorder?.get(identity)?.status(this.instanceId)));
  }

  private tag<T extends ChargePointView>(view: T): T & { instance?: string } {
    return this.instanceId === undefined ? view : { ...view, instance: this.instanceId };
  }
}

/** The filter as matched: `q` lower-cased; undefined when it filters nothing. */
function normaliseFilter(filter: ChargerFilter | undefined): ChargerFilter | undefined {
  if (filter === undefined || (filter.q === undefined && filter.protocol === undefined)) return undefined;
  return { ...(filter.q !== undefined ? { q: filter.q.toLowerCase() } : {}), ...(filter.protocol !== undefined ? { protocol: filter.protocol } : {}) };
}

function* identitiesOf(sessions: Iterable<{ identity: string }>): Iterable<string> {
  for (const session of sessions) yield session.identity;
}
