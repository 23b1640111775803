import { createHash } from 'node:crypto';
import type { ChargerModel } from '../compat/selection.js';
import { ConnectorMemory, type ConnectorMemorySnapshot } from '../events/index.js';
import type { JsonObject } from '../ocpp/framing.js';
import type { SchemaRefusal } from '../ocpp/inbound-check.js';

/**
 * What the gateway knows about a charger, kept per identity so that it outlives the connection: a reconnect is
 * not a reboot, so the charger carries on with its boot, its connectors and its transactions, and expects us to
 * as well. Sessions come and go; the record stays until the charger has been gone for `forgetAfterMs`.
 *
 * Bounded three ways: each record is small and bounded (the connector memory's limits, a few answers and
 * refusals); records of chargers that left are at most `maxRemembered` in total (the longest gone is forgotten
 * first); and they are released by one sweep over the records in the order their chargers left, with no timer
 * per charger.
 */

/** What the charger told us in its last BootNotification and what it was answered, for the admin API. */
export interface BootInfo {
  at: number;
  /** What the central system answered: Accepted, Pending or Rejected. */
  status?: string;
  vendor?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
}

/** Refusals kept per charger: the last few say why; more say nothing new. */
export const REFUSALS_KEPT = 5;
/** StartTransaction answers kept per charger for retries: a charger retries the last few, not old ones. */
export const START_ANSWERS_KEPT = 8;

export type { SchemaRefusal };

type StartAnswer = JsonObject | Promise<JsonObject>;

export class ChargerRecord {
  boot: BootInfo | undefined;
  /**
   * Vendor and model of the charger's last BootNotification as read before validation: its compatibility profile
   * is matched on them, also when that BootNotification was refused, and again when it reconnects without one.
   */
  compatModel: ChargerModel | undefined;
  readonly connectors: ConnectorMemory;
  /** Live sessions holding this record (a replaced one may still be closing beside its successor). */
  sessions = 0;
  /** When the last session ended; meaningful while `sessions` is 0. */
  goneSince = 0;
  /** Its entries when the charger left, counted in the memory's total of gone entries until it returns or is forgotten. */
  goneEntries = 0;
  private startAnswers: Map<string, StartAnswer> | undefined;
  private refusalList: SchemaRefusal[] | undefined;

  constructor(
    readonly identity: string,
    connectorLimit?: number,
  ) {
    this.connectors = new ConnectorMemory(connectorLimit);
  }

  /** What the record holds beyond itself, in entries (each some 0.15 KB). */
  get entries(): number {
    return this.connectors.entries + (this.startAnswers?.size ?? 0) + (this.refusalList?.length ?? 0);
  }

  /** Nothing worth keeping once the charger is gone: it never booted, reported, started or was refused. */
  get isEmpty(): boolean {
    return this.boot === undefined && this.connectors.isEmpty && (this.startAnswers?.size ?? 0) === 0 && (this.refusalList?.length ?? 0) === 0;
  }

  /** The answer given to an earlier StartTransaction with this key, or the one still being decided. */
  startAnswer(key: string): StartAnswer | undefined {
    return this.startAnswers?.get(key);
  }

  /**
   * Keeps the answer to a StartTransaction so that the charger's retry gets the same one. An answer still being
   * decided is kept as its promise (a retry waits for the same decision); a decision that fails is not kept, so
   * the retry asks again.
   */
  rememberStartAnswer(key: string, answer: StartAnswer): void {
    const map = (this.startAnswers ??= new Map());
    map.delete(key);
    while (map.size >= START_ANSWERS_KEPT) map.delete(map.keys().next().value as string);
    map.set(key, answer);
    if (answer instanceof Promise) {
      answer.then(
        (value) => {
          if (map.get(key) === answer) map.set(key, value);
        },
        () => {
          if (map.get(key) === answer) map.delete(key);
        },
      );
    }
  }

  rememberRefusal(refusal: SchemaRefusal): void {
    const list = (this.refusalList ??= []);
    if (list.length >= REFUSALS_KEPT) list.shift();
    list.push(refusal);
  }

  /** The last refusals, oldest first. */
  get refusals(): readonly SchemaRefusal[] {
    return this.refusalList ?? [];
  }

  toSnapshot(): ChargerSnapshot {
    const answers: Array<[string, JsonObject]> = [];
    for (const [key, answer] of this.startAnswers ?? []) if (!(answer instanceof Promise)) answers.push([key, answer]);
    return {
      identity: this.identity,
      boot: this.boot ?? null,
      connectors: this.connectors.snapshot(),
      startAnswers: answers,
      ...(this.compatModel !== undefined ? { compatModel: this.compatModel } : {}),
    };
  }

  restore(snapshot: ChargerSnapshot): void {
    if (isObject(snapshot.boot) && typeof snapshot.boot.at === 'number') this.boot = snapshot.boot;
    if (isObject(snapshot.connectors)) this.connectors.restore(snapshot.connectors);
    if (isObject(snapshot.compatModel)) {
      const { vendor, model } = snapshot.compatModel;
      this.compatModel = { vendor: typeof vendor === 'string' ? vendor : undefined, model: typeof model === 'string' ? model : undefined };
    }
    if (Array.isArray(snapshot.startAnswers)) {
      for (const entry of snapshot.startAnswers) {
        if (Array.isArray(entry) && typeof entry[0] === 'string' && isObject(entry[1])) this.rememberStartAnswer(entry[0], entry[1]);
      }
    }
  }
}

/** One charger's record as plain data (the snapshot file). */
export interface ChargerSnapshot {
  identity: string;
  boot: BootInfo | null;
  connectors: ConnectorMemorySnapshot;
  startAnswers: Array<[string, JsonObject]>;
  /** Vendor/model its compatibility profile was matched on (absent in files written before profiles existed). */
  compatModel?: ChargerModel;
}

export interface ChargerMemoryOptions {
  /** A charger gone this long is forgotten. */
  forgetAfterMs: number;
  /** Records kept at most; beyond it the charger gone longest is forgotten (connected ones never are). */
  maxRemembered: number;
  /** Entries the records of gone chargers hold in all; beyond it the charger gone longest is forgotten. */
  maxRememberedEntries?: number;
  /** Per-charger bound of the connector memory (default DEFAULT_MEMORY_LIMIT). */
  connectorLimit?: number;
  /** Told the number of records whenever it changes (a gauge). */
  onSize?: (size: number) => void;
}

export class ChargerMemory {
  private readonly records = new Map<string, ChargerRecord>();
  /** Records without a session, in the order their chargers left (oldest first): the sweep reads from the front. */
  private readonly gone = new Map<string, ChargerRecord>();
  /** Entries held by the records in `gone`. */
  private goneEntries = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ChargerMemoryOptions) {}

  /** Records held now, connected chargers included. */
  get size(): number {
    return this.records.size;
  }

  get(identity: string): ChargerRecord | undefined {
    return this.records.get(identity);
  }

  /** The record of a charger whose connection has just been accepted; made when the charger is new or forgotten. */
  attach(identity: string): ChargerRecord {
    let record = this.records.get(identity);
    if (record === undefined) {
      record = new ChargerRecord(identity, this.options.connectorLimit);
      this.records.set(identity, record);
      this.evictBeyondLimit();
      this.sized();
    }
    this.forgetGone(identity);
    record.sessions++;
    return record;
  }

  /** A session of this record ended; with the last one the charger counts as gone from `now`. */
  detach(record: ChargerRecord, now = Date.now()): void {
    if (record.sessions > 0) record.sessions--;
    if (record.sessions > 0 || this.records.get(record.identity) !== record) return;
    this.forgetGone(record.identity);
    if (record.isEmpty) {
      // A connection that said nothing worth remembering (a scanner, a charger that dropped before its boot)
      // leaves nothing behind: otherwise every identity ever tried would hold a record for forgetAfterMs.
      this.records.delete(record.identity);
      this.sized();
      return;
    }
    record.goneSince = now;
    record.goneEntries = record.entries;
    this.goneEntries += record.goneEntries;
    this.gone.set(record.identity, record);
    if (this.evictBeyondLimit()) this.sized();
  }

  /** Forgets every charger gone for `forgetAfterMs` or more. Cost: the records forgotten, plus one. */
  sweep(now = Date.now()): number {
    const limit = now - this.options.forgetAfterMs;
    let forgotten = 0;
    for (const [identity, record] of this.gone) {
      if (record.goneSince > limit) break;
      this.forgetGone(identity);
      this.records.delete(identity);
      forgotten++;
    }
    if (forgotten > 0) this.sized();
    return forgotten;
  }

  /** Starts the one periodic sweep (a quarter of `forgetAfterMs`, at most a minute apart). */
  start(): void {
    if (this.timer !== undefined) return;
    const every = Math.max(10, Math.min(60_000, Math.floor(this.options.forgetAfterMs / 4)));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every record as plain data. */
  snapshot(): ChargerSnapshot[] {
    const out: ChargerSnapshot[] = [];
    for (const record of this.records.values()) out.push(record.toSnapshot());
    return out;
  }

  /** Brings back the records of a snapshot as chargers gone since `goneSince`. */
  restore(snapshots: unknown, goneSince: number): void {
    if (!Array.isArray(snapshots)) return;
    for (const snapshot of snapshots as ChargerSnapshot[]) {
      if (!isObject(snapshot) || typeof snapshot.identity !== 'string' || this.records.has(snapshot.identity)) continue;
      const record = new ChargerRecord(snapshot.identity, this.options.connectorLimit);
      record.restore(snapshot);
      record.goneSince = goneSince;
      record.goneEntries = record.entries;
      this.goneEntries += record.goneEntries;
      this.records.set(record.identity, record);
      this.gone.set(record.identity, record);
      this.evictBeyondLimit();
    }
    this.sized();
  }

  private sized(): void {
    this.options.onSize?.(this.records.size);
  }

  /** Takes a record out of the gone list (it came back, or is being forgotten), and its entries out of the total. */
  private forgetGone(identity: string): void {
    const record = this.gone.get(identity);
    if (record === undefined) return;
    this.gone.delete(identity);
    this.goneEntries -= record.goneEntries;
    record.goneEntries = 0;
  }

  /** Forgets the chargers gone longest while either bound is passed; true when it forgot any. */
  private evictBeyondLimit(): boolean {
    const maxEntries = this.options.maxRememberedEntries ?? Number.POSITIVE_INFINITY;
    let evicted = false;
    while (this.records.size > this.options.maxRemembered || this.goneEntries > maxEntries) {
      const oldest = this.gone.keys().next();
      if (oldest.done === true) break; // every record is a connected charger: those are bounded by the listener
      this.forgetGone(oldest.value);
      this.records.delete(oldest.value);
      evicted = true;
    }
    return evicted;
  }
}

/**
 * The key of a 1.6 StartTransaction for retry detection: a retry repeats connector, idTag, timestamp and
 * meterStart exactly. Hashed, so a charger with validation off cannot make the key large.
 */
export function startTransactionKey(payload: Record<string, unknown>): string {
  const text = JSON.stringify([payload.connectorId, payload.idTag, payload.timestamp, payload.meterStart]);
  return createHash('sha256').update(text).digest('base64url');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
