import type { IdToken } from './payloads.js';

/**
 * What one connected charger last reported about its connectors and open transactions. It gives each
 * `connector.status_changed` its `previousStatus`, fills in the EVSE and connector that later transaction
 * messages leave out, and lets the admin API show connector statuses and open transactions as last reported.
 *
 * It lives as long as the connection and there is one per charger, so it starts empty (no maps until the
 * first report) and holds at most `limit` connectors and `limit` transactions: a charger inventing connector
 * or transaction ids pushes out its own least recently reported entries, never grows the process.
 */

/** Enough for any real charger (a connector per key, one transaction per EVSE); small enough to not matter. */
export const DEFAULT_MEMORY_LIMIT = 64;

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

type MutableTransaction = { -readonly [K in keyof OpenTransaction]: OpenTransaction[K] };

/** The memory key of a connector: 1.6 has no EVSE level (`evseId` null). */
export function connectorKey(evseId: unknown, connectorId: unknown): string {
  return evseId === null || evseId === undefined ? `${connectorId}` : `${evseId}/${connectorId}`;
}

/** Transactions are kept and reported under a string id in both versions (1.6 sends an integer). */
export function transactionIdString(id: unknown): string | null {
  return id === null || id === undefined ? null : String(id);
}

export class ConnectorMemory {
  private statusMap: Map<string, ConnectorStatusEntry> | undefined;
  private txMap: Map<string, MutableTransaction> | undefined;
  private evictedCount = 0;
  private readonly limit: number;

  constructor(limit: number = DEFAULT_MEMORY_LIMIT) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** Remembers a status report and returns the status reported before it for the same connector, if any. */
  recordStatus(entry: ConnectorStatusEntry): string | null {
    const map = (this.statusMap ??= new Map());
    const previous = map.get(entry.key);
    if (previous !== undefined) map.delete(entry.key); // re-insert: Map order is then least recent first
    else this.makeRoom(map);
    map.set(entry.key, entry);
    return previous === undefined ? null : previous.status;
  }

  status(key: string): ConnectorStatusEntry | undefined {
    return this.statusMap?.get(key);
  }

  /** Snapshot for display, least recently reported first. */
  statuses(): ConnectorStatusEntry[] {
    return this.statusMap === undefined ? [] : [...this.statusMap.values()];
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
  }

  /**
   * Records a message about a transaction that is under way (2.0.1 `Updated`). One not yet known is opened:
   * after a reconnect the charger carries on with transactions this connection never saw start.
   */
  updateTransaction(
    transactionId: string,
    evseId: number | null,
    connectorId: number | null,
    idToken: IdToken | null,
    at: string | null,
  ): OpenTransaction {
    const known = this.txMap?.get(transactionId);
    if (known === undefined) {
      const tx: OpenTransaction = {
        transactionId, evseId, connectorId, idToken, startedAt: null, meterStart: null, updatedAt: at,
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

  /** Forgets a transaction and returns what was known of it. */
  closeTransaction(transactionId: string): OpenTransaction | undefined {
    const map = this.txMap;
    if (map === undefined) return undefined;
    const tx = map.get(transactionId);
    if (tx !== undefined) map.delete(transactionId);
    return tx;
  }

  transaction(transactionId: string): OpenTransaction | undefined {
    return this.txMap?.get(transactionId);
  }

  /** Snapshot for display, oldest first. */
  openTransactions(): OpenTransaction[] {
    return this.txMap === undefined ? [] : [...this.txMap.values()];
  }

  /** How many entries were pushed out by the limit: a charger doing this is worth a look. */
  get evicted(): number {
    return this.evictedCount;
  }

  private makeRoom(map: Map<string, unknown>): void {
    while (map.size >= this.limit) {
      const oldest = map.keys().next();
      if (oldest.done === true) return;
      map.delete(oldest.value);
      this.evictedCount++;
    }
  }
}

function samePlace(a: OpenTransaction, b: OpenTransaction): boolean {
  if (a.evseId !== null || b.evseId !== null) return a.evseId === b.evseId;
  return a.connectorId !== null && a.connectorId === b.connectorId;
}
