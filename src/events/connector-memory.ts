import type { IdToken } from './payloads.js';

/**
 * What one charger last reported about its connectors and transactions. It gives each
 * `connector.status_changed` its `previousStatus`, fills in the EVSE and connector that later transaction
 * messages leave out, tells a repeated stop from the first, and lets the admin API show connector statuses and
 * open transactions as last reported.
 *
 * There is one per charger and it outlives connections (the gateway's charger memory keeps it until the
 * charger has been gone long enough), so it starts empty (no maps until the first report) and holds at most
 * `limit` connectors, `limit` open transactions and `STOPPED_LIMIT` stopped ones: a charger inventing connector
 * or transaction ids pushes out its own least recently reported entries, never grows the process.
 */

/** Enough for any real charger (a connector per key, one transaction per EVSE); small enough to not matter. */
export const DEFAULT_MEMORY_LIMIT = 64;

/** Stopped transactions remembered per charger: enough to recognise a StopTransaction the charger repeats. */
export const STOPPED_LIMIT = 16;

export interface ConnectorStatusEntry {
  /** 1.6 `"<connectorId>"`, 2.0.1 `"<evseId>/<connectorId>"`. */
  readonly key: string;
  readonly evseId: number | null;
  readonly connectorId: number | null;
  readonly status: string | null;
  readonly errorCode: string | null;
  /** The charger's time of the report, or the gateway's when the charger gave none. */
  readonly timestamp: string;
}

export interface OpenTransaction {
  readonly transactionId: string;
  readonly evseId: number | null;
  readonly connectorId: number | null;
  readonly idToken: IdToken | null;
  /** The charger's start time; null when the transaction was first heard of after it started. */
  readonly startedAt: string | null;
  /** Wh, when known. */
  readonly meterStart: number | null;
  /** The charger's time of the last message about the transaction. */
  readonly updatedAt: string | null;
}

/** What the memory keeps of a readonly entry it hands out: the same fields, updated in place. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type MutableTransaction = Mutable<OpenTransaction>;

/** Where a transaction that has ended ran: kept so that a repeated stop names its place and is marked. */
export interface StoppedTransaction {
  readonly transactionId: string;
  readonly evseId: number | null;
  readonly connectorId: number | null;
}

/** The memory as plain data, for the snapshot written at a graceful shutdown. */
export interface ConnectorMemorySnapshot {
  statuses: ConnectorStatusEntry[];
  transactions: OpenTransaction[];
  stopped: StoppedTransaction[];
}

/** The memory key of a connector: 1.6 has no EVSE level (`evseId` null). */
export function connectorKey(evseId: unknown, connectorId: unknown): string {
  return evseId === null || evseId === undefined ? `${connectorId}` : `${evseId}/${connectorId}`;
}

/** Transactions are kept and reported under a string id in both versions (1.6 sends an integer). */
export function transactionIdString(id: unknown): string | null {
  return id === null || id === undefined ? null : String(id);
}

export class ConnectorMemory {
  /**
   * Statuses by key, each a slot updated in place: a charger re-reports the same connectors on every reconnect,
   * and replacing the entry (delete and set, to keep the order of reports) made a new object and churned the map's
   * table each time. The order of reports lives in `reported` instead; the map's own order is that of first reports.
   */
  private statusMap: Map<string, StatusSlot> | undefined;
  /** Reports counted so far: a slot's `reported` is the count at its last report. */
  private statusReports = 0;
  private txMap: Map<string, MutableTransaction> | undefined;
  private stoppedMap: Map<string, StoppedTransaction> | undefined;
  private evictedCount = 0;
  private readonly limit: number;

  constructor(limit: number = DEFAULT_MEMORY_LIMIT) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** Remembers a status report and returns the status reported before it for the same connector, if any. */
  recordStatus(entry: ConnectorStatusEntry): string | null {
    const map = (this.statusMap ??= new Map());
    const reported = ++this.statusReports;
    const slot = map.get(entry.key);
    if (slot !== undefined) {
      const previous = slot.status;
      slot.evseId = entry.evseId;
      slot.connectorId = entry.connectorId;
      slot.status = entry.status;
      slot.errorCode = entry.errorCode;
      slot.timestamp = entry.timestamp;
      slot.reported = reported;
      return previous;
    }
    this.makeStatusRoom(map);
    map.set(entry.key, {
      key: entry.key,
      evseId: entry.evseId,
      connectorId: entry.connectorId,
      status: entry.status,
      errorCode: entry.errorCode,
      timestamp: entry.timestamp,
      reported,
    });
    return null;
  }

  status(key: string): ConnectorStatusEntry | undefined {
    const slot = this.statusMap?.get(key);
    return slot === undefined ? undefined : statusEntry(slot);
  }

  /** Snapshot for display, least recently reported first. */
  statuses(): ConnectorStatusEntry[] {
    if (this.statusMap === undefined) return [];
    return [...this.statusMap.values()].sort((a, b) => a.reported - b.reported).map(statusEntry);
  }

  /**
   * Records a started transaction. One EVSE (2.0.1) or connector (1.6) runs one transaction at a time, so a
   * transaction still open on the same place was ended without the gateway hearing of it: it is forgotten.
   */
  openTransaction(tx: OpenTransaction): void {
    const map = (this.txMap ??= new Map());
    for (const [id, other] of map) {
      if (id !== tx.transactionId && samePlace(other, tx)) {
        map.delete(id);
        break;
      }
    }
    if (map.has(tx.transactionId)) map.delete(tx.transactionId);
    else this.makeRoom(map);
    map.set(tx.transactionId, { ...tx });
    this.stoppedMap?.delete(tx.transactionId);
  }

  /**
   * Records a message about a transaction that is under way (2.0.1 `Updated`). One not yet known is opened:
   * after a reconnect the charger carries on with transactions this connection never saw start.
   */
  updateTransaction(transactionId: string, evseId: number | null, connectorId: number | null, idToken: IdToken | null, at: string | null): OpenTransaction {
    const known = this.txMap?.get(transactionId);
    if (known === undefined) {
      const tx: OpenTransaction = {
        transactionId,
        evseId,
        connectorId,
        idToken,
        startedAt: null,
        meterStart: null,
        updatedAt: at,
      };
      this.openTransaction(tx);
      return tx;
    }
    if (evseId !== null) known.evseId = evseId;
    if (connectorId !== null) known.connectorId = connectorId;
    // 2.0.1 may start a transaction on plug-in and authorize it later.
    if (idToken !== null) known.idToken = idToken;
    if (at !== null) known.updatedAt = at;
    return known;
  }

  /**
   * Ends a transaction and returns what was known of it while it was open. It is then remembered as stopped
   * (with its place, when known), so a repeated stop can be recognised: ask `stoppedTransaction` first.
   */
  closeTransaction(transactionId: string): OpenTransaction | undefined {
    const tx = this.txMap?.get(transactionId);
    if (tx !== undefined) this.txMap!.delete(transactionId);
    const stopped = (this.stoppedMap ??= new Map());
    const earlier = stopped.get(transactionId);
    if (earlier !== undefined) stopped.delete(transactionId);
    else this.makeRoom(stopped, STOPPED_LIMIT);
    stopped.set(
      transactionId,
      tx !== undefined ? { transactionId, evseId: tx.evseId, connectorId: tx.connectorId } : (earlier ?? { transactionId, evseId: null, connectorId: null }),
    );
    return tx;
  }

  /** A transaction that was stopped (and not reopened) while the charger was remembered. */
  stoppedTransaction(transactionId: string): StoppedTransaction | undefined {
    return this.stoppedMap?.get(transactionId);
  }

  transaction(transactionId: string): OpenTransaction | undefined {
    return this.txMap?.get(transactionId);
  }

  /** Snapshot for display, oldest first. */
  openTransactions(): OpenTransaction[] {
    return this.txMap === undefined ? [] : [...this.txMap.values()];
  }

  /** How many entries were pushed out by the limit: a charger doing this is worth a look. */
  /** Statuses, open and recently stopped transactions held: what this memory costs, in entries. */
  get entries(): number {
    return (this.statusMap?.size ?? 0) + (this.txMap?.size ?? 0) + (this.stoppedMap?.size ?? 0);
  }

  /** Nothing reported yet: no status, no open or recently stopped transaction. */
  get isEmpty(): boolean {
    return (this.statusMap?.size ?? 0) === 0 && (this.txMap?.size ?? 0) === 0 && (this.stoppedMap?.size ?? 0) === 0;
  }

  get evicted(): number {
    return this.evictedCount;
  }

  /** Plain data for a snapshot; `restore` reads it back. */
  snapshot(): ConnectorMemorySnapshot {
    return {
      statuses: this.statuses(),
      transactions: this.openTransactions(),
      stopped: this.stoppedMap === undefined ? [] : [...this.stoppedMap.values()],
    };
  }

  /** Refills an empty memory from a snapshot, skipping entries that are not of the expected shape. */
  restore(snapshot: Partial<ConnectorMemorySnapshot>): void {
    for (const entry of arrayOf(snapshot.statuses)) {
      if (typeof entry?.key === 'string' && typeof entry.timestamp === 'string') this.recordStatus(entry);
    }
    for (const tx of arrayOf(snapshot.transactions)) {
      if (typeof tx?.transactionId === 'string') this.openTransaction(tx);
    }
    for (const stopped of arrayOf(snapshot.stopped)) {
      if (typeof stopped?.transactionId !== 'string') continue;
      const map = (this.stoppedMap ??= new Map());
      this.makeRoom(map, STOPPED_LIMIT);
      map.set(stopped.transactionId, { transactionId: stopped.transactionId, evseId: stopped.evseId ?? null, connectorId: stopped.connectorId ?? null });
    }
  }

  /** Forgets the least recently reported statuses while the map is full (a scan: only a charger at the limit pays it). */
  private makeStatusRoom(map: Map<string, StatusSlot>): void {
    while (map.size >= this.limit) {
      let oldest: StatusSlot | undefined;
      for (const slot of map.values()) if (oldest === undefined || slot.reported < oldest.reported) oldest = slot;
      if (oldest === undefined) return;
      map.delete(oldest.key);
      this.evictedCount++;
    }
  }

  private makeRoom(map: Map<string, unknown>, limit = this.limit): void {
    while (map.size >= limit) {
      const oldest = map.keys().next();
      if (oldest.done === true) return;
      map.delete(oldest.value);
      // Old stopped transactions age out as a matter of course; only live entries pushed out are remarkable.
      if (map !== this.stoppedMap) this.evictedCount++;
    }
  }
}

type StatusSlot = Mutable<ConnectorStatusEntry> & { reported: number };

/** A slot as the plain entry callers see: a copy, so that a later report does not change what they were given. */
function statusEntry(slot: StatusSlot): ConnectorStatusEntry {
  return { key: slot.key, evseId: slot.evseId, connectorId: slot.connectorId, status: slot.status, errorCode: slot.errorCode, timestamp: slot.timestamp };
}

function arrayOf<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function samePlace(a: OpenTransaction, b: OpenTransaction): boolean {
  if (a.evseId !== null || b.evseId !== null) return a.evseId === b.evseId;
  return a.connectorId !== null && a.connectorId === b.connectorId;
}
