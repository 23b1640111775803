import type { ChargerSession } from '../gateway/session.js';
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

/**
 * Where the charger routes of the admin API look chargers up: this instance's sessions (embedded mode), or
 * every live instance of the cluster (cluster-charger-directory.ts).
 */
export interface ChargerDirectory {
  page(after: string | undefined, limit: number): Promise<ChargerPageResult>;
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
  ) {}

  async page(after: string | undefined, limit: number): Promise<ChargerPageResult> {
    return this.pageNow(after, limit);
  }

  /** The page without a promise: the responder and the cluster directory's own part use it. */
  pageNow(after: string | undefined, limit: number): ChargerPageResult {
    // One more than asked tells whether another page follows without a second pass.
    const identities = smallestAfter(identitiesOf(this.sessions.values()), after, limit + 1);
    const more = identities.length > limit;
    const items: ListedCharger[] = [];
    for (const identity of more ? identities.slice(0, limit) : identities) {
      const session = this.sessions.get(identity);
      if (session !== undefined) items.push(this.tag(chargePointView(session)));
    }
    return { items, more, total: this.sessions.size, missingInstances: [] };
  }

  async detail(identity: string): Promise<DetailedCharger | undefined> {
    return this.detailNow(identity);
  }

  detailNow(identity: string): DetailedCharger | undefined {
    const session = this.sessions.get(identity);
    return session === undefined ? undefined : this.tag(chargePointDetailView(session));
  }

  private tag<T extends ChargePointView>(view: T): T & { instance?: string } {
    return this.instanceId === undefined ? view : { ...view, instance: this.instanceId };
  }
}

function* identitiesOf(sessions: Iterable<{ identity: string }>): Iterable<string> {
  for (const session of sessions) yield session.identity;
}
