import { BlockList, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { AdmissionVerdict } from './charger-server.js';
import { type Bucket, type BucketLimits, fullBucket, jitteredRetryAfter, takeToken } from './token-bucket.js';

/** The limits on new connections, from `server.admission`. */
export interface AdmissionLimitsConfig {
  /**
   * Connections accepted but not yet upgraded (or refused, or closed) at once; beyond it a new one is turned away.
   * With `handshakesUseSpareCapacity`, the least for plain connections: they may also take the connections the
   * gateway could still hold.
   */
  maxHandshakes: number;
  /**
   * Whether plain handshakes in flight may go beyond `maxHandshakes` up to the connections the gateway could still
   * hold (`spareCapacity`): a whole fleet reconnecting to an emptied gateway is then taken in, not turned away.
   */
  handshakesUseSpareCapacity: boolean;
  /** Upgrades per second and burst from one source address. */
  addressRate: number;
  addressBurst: number;
  /** Upgrades per second and burst from everyone together. */
  overallRate: number;
  overallBurst: number;
  /** Source addresses whose buckets are kept at most; the least recently seen is forgotten beyond it. */
  maxTrackedAddresses: number;
  /** Addresses and CIDR ranges not limited per address (the overall limit still applies). */
  exemptAddresses: readonly string[];
}

export interface AdmissionLimitsOptions extends AdmissionLimitsConfig {
  countAttempt(outcome: string): void;
  /**
   * How many more connections the gateway could hold now (its maximum less those it holds). Asked only once
   * `maxHandshakes` are in flight, and only with `handshakesUseSpareCapacity`; left out, the bound is fixed.
   */
  spareCapacity?(): number;
  /** Told whenever the number of handshakes in flight or of tracked addresses changes (gauges). */
  onHandshakes?(inFlight: number): void;
  onTrackedAddresses?(size: number): void;
  /**
   * Told, for every connection counted as a handshake, how long it was one: from the TCP accept until its upgrade
   * completed (`upgraded`), or until it closed without one (`closed`: refused, given up, reset). In a reconnect storm
   * this is the part of a charger's wait spent inside the gateway; the rest is the kernel's.
   */
  onHandshakeEnded?(seconds: number, outcome: 'upgraded' | 'closed'): void;
  /**
   * Told of each counted handshake as it starts and as it ends: the answer turns of the process
   * (`src/ocpp/answer-turns.ts`), which keep the event loop's turns short while someone is waiting to get in.
   */
  newcomers?: { handshakeStarted(): void; handshakeEnded(): void };
  now?: () => number;
}

/** Base of the jittered Retry-After (seconds): a full handshake table clears in moments, a rate needs a while. */
export const RETRY_AFTER_BASE = { handshakes: 5, rate: 10 } as const;

/** How long a turned-away plain socket may take to read its 503 before it is dropped. */
const REFUSAL_LINGER_MS = 2000;

const LIMITS = Symbol('admissionLimits');
const ACCEPTED_AT = Symbol('acceptedAt');
/** A socket counted as a handshake in flight carries the limits that count it, until it is released, and when it came. */
type CountedSocket = Socket & { [LIMITS]?: AdmissionLimits; [ACCEPTED_AT]?: number };

const DROPPED = Symbol('droppedByAdmission');
type DroppableSocket = { [DROPPED]?: boolean; _parent?: DroppableSocket };

/**
 * Whether admission dropped this connection unread (the TLS socket wrapping it, or the raw socket): the TLS layer
 * then reports the reset as a failed handshake, which it is not; it is counted once, as too_many_handshakes_tls.
 */
export function droppedByAdmission(socket: unknown): boolean {
  const s = socket as DroppableSocket | undefined;
  return s?.[DROPPED] === true || s?._parent?.[DROPPED] === true;
}

function releaseOnClose(this: CountedSocket): void {
  this[LIMITS]?.handshakeEnded(this, 'closed');
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack listener) is 10.0.0.1: one bucket, one exemption rule. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Whether `entry` is an IPv4/IPv6 address or CIDR range (`10.0.0.0/8`, `fd00::/8`). */
export function isAddressOrRange(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (rest.length > 0) return false;
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (max < 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= max);
}

function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/**
 * Admission control in front of the upgrade: how many handshakes may be under way at once (counted from TCP
 * accept, so TLS handshakes are included when attached to a TLS server), and how fast upgrades may come from one
 * source address and from everyone. Every refusal is O(1) and immediate: nothing waits in a queue, no timer runs
 * per address, and the per-address table is bounded.
 */
export class AdmissionLimits {
  private inFlight = 0;
  private readonly addresses = new Map<string, Bucket>();
  private readonly overall: Bucket;
  private readonly overallLimits: BucketLimits;
  private readonly addressLimits: BucketLimits;
  private readonly exempt: BlockList;
  /**
   * Verdicts of `exempt` by address. BlockList.check builds a native SocketAddress per call (about 6 µs, a reconnect
   * storm's worth of them per second); chargers reconnect from the addresses they came from, so most are repeats.
   * Bounded like the buckets: at the cap it starts over.
   */
  private readonly exemptVerdicts = new Map<string, boolean>();
  private readonly now: () => number;

  constructor(private readonly options: AdmissionLimitsOptions) {
    this.now = options.now ?? Date.now;
    this.overallLimits = { ratePerSec: options.overallRate, burst: options.overallBurst };
    this.addressLimits = { ratePerSec: options.addressRate, burst: options.addressBurst };
    this.overall = fullBucket(this.overallLimits, this.now());
    this.exempt = blockListOf(options.exemptAddresses);
  }

  /** Handshakes under way now. */
  get handshakesInFlight(): number {
    return this.inFlight;
  }

  /** Source addresses whose upgrade rate is being tracked now. */
  get trackedAddresses(): number {
    return this.addresses.size;
  }

  /**
   * Counts the handshakes of a listener: the plain HTTP server, or a TLS server, whose 'connection' event fires
   * with the raw TCP socket before any byte of the TLS handshake is read.
   */
  attach(server: Server): void {
    const tls = server instanceof TlsServer;
    server.on('connection', (socket: Socket) => this.onConnection(socket, tls));
  }

  /**
   * The bound on handshakes in flight now, for a connection to a plain or a TLS listener. A plain handshake in
   * flight holds about what a held connection does (5.8 KB against 5-10 KB; docs/admission-control.md), so the
   * room for connections the gateway does not hold now is room it may use: the memory and files it takes stay
   * within what a full gateway takes. A TLS handshake is CPU as well, and one that waits too long for it times out
   * with its work wasted, so on a TLS listener the bound stays `maxHandshakes`.
   */
  handshakeBound(tls: boolean): number {
    const floor = this.options.maxHandshakes;
    if (tls || !this.options.handshakesUseSpareCapacity || this.options.spareCapacity === undefined) return floor;
    return Math.max(floor, this.options.spareCapacity());
  }

  private onConnection(socket: CountedSocket, tls: boolean): void {
    // The floor first: below it (every moment but a storm's) the bound needs no sum of the gateway's connections.
    if (this.inFlight >= this.options.maxHandshakes && this.inFlight >= this.handshakeBound(tls)) {
      if (tls) {
        // Nothing has been read from it yet, so no crypto has been spent: answering in HTTP is impossible before
        // the TLS handshake, and completing that handshake only to say 503 would spend the very CPU this bound
        // protects. The client sees the connection reset and retries on its own back-off.
        this.options.countAttempt('too_many_handshakes_tls');
        (socket as DroppableSocket)[DROPPED] = true;
        socket.destroy();
        return;
      }
      this.options.countAttempt('too_many_handshakes');
      this.turnAway(socket, `the gateway is busy with ${this.inFlight} handshakes; reconnect later`, RETRY_AFTER_BASE.handshakes);
      return;
    }
    this.inFlight++;
    this.options.newcomers?.handshakeStarted();
    socket[LIMITS] = this;
    if (this.options.onHandshakeEnded !== undefined) socket[ACCEPTED_AT] = performance.now();
    socket.once('close', releaseOnClose);
    this.options.onHandshakes?.(this.inFlight);
  }

  /**
   * The upgrade of this socket completed (or was answered): it no longer counts as a handshake. A TLS socket
   * releases the raw socket it wraps (Node links it as `_parent`); closing releases it in any case.
   */
  handshakeEnded(socket: unknown, outcome: 'upgraded' | 'closed' = 'upgraded'): void {
    const counted = ((socket as CountedSocket)[LIMITS] !== undefined ? socket : (socket as { _parent?: unknown })._parent) as CountedSocket | undefined;
    if (counted?.[LIMITS] !== this) return;
    counted[LIMITS] = undefined;
    counted.off('close', releaseOnClose);
    this.inFlight--;
    this.options.newcomers?.handshakeEnded();
    this.options.onHandshakes?.(this.inFlight);
    const acceptedAt = counted[ACCEPTED_AT];
    if (acceptedAt !== undefined) this.options.onHandshakeEnded?.((performance.now() - acceptedAt) / 1000, outcome);
  }

  /**
   * The upgrade rate limits, checked once the request is read: the source address's bucket first (so one noisy
   * address does not drain everyone's), then the overall one.
   */
  checkUpgrade(remoteAddress: string | undefined): AdmissionVerdict {
    const now = this.now();
    const address = normalizeAddress(remoteAddress ?? '');
    if (address !== '' && !this.isExempt(address) && !takeToken(this.bucketOf(address, now), this.addressLimits, now)) {
      return {
        ok: false,
        status: 503,
        reason: `too many connection attempts from this address (at most ${this.options.addressRate} a second); reconnect later`,
        outcome: 'address_rate',
        headers: { 'Retry-After': jitteredRetryAfter(RETRY_AFTER_BASE.rate) },
      };
    }
    if (!takeToken(this.overall, this.overallLimits, now)) {
      return {
        ok: false,
        status: 503,
        reason: `the gateway takes at most ${this.options.overallRate} new connections a second; reconnect later`,
        outcome: 'overall_rate',
        headers: { 'Retry-After': jitteredRetryAfter(RETRY_AFTER_BASE.rate) },
      };
    }
    return { ok: true };
  }

  private isExempt(address: string): boolean {
    let exempt = this.exemptVerdicts.get(address);
    if (exempt === undefined) {
      exempt = this.exempt.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
      if (this.exemptVerdicts.size >= this.options.maxTrackedAddresses) this.exemptVerdicts.clear();
      this.exemptVerdicts.set(address, exempt);
    }
    return exempt;
  }

  /**
   * The address's bucket, kept in least-recently-seen order. At the cap the least recently seen one is
   * forgotten: at worst that address starts again with a full burst, which it would soon have had anyway, while
   * a client with many addresses cannot grow the table.
   */
  private bucketOf(address: string, now: number): Bucket {
    let bucket = this.addresses.get(address);
    if (bucket !== undefined) {
      this.addresses.delete(address);
    } else {
      bucket = fullBucket(this.addressLimits, now);
      if (this.addresses.size >= this.options.maxTrackedAddresses) {
        const oldest = this.addresses.keys().next().value as string;
        this.addresses.delete(oldest);
      }
    }
    this.addresses.set(address, bucket);
    this.options.onTrackedAddresses?.(this.addresses.size);
    return bucket;
  }

  /**
   * Answers a plain socket 503 at once, before its request is read, and drops it once the client had the time
   * to read the answer. Ending (not destroying) the socket keeps the answer from being lost to a reset while the
   * request is still unread; the charger listener drops a socket it can no longer write to when that request
   * arrives.
   */
  private turnAway(socket: Socket, reason: string, retryBase: number): void {
    const body = `${reason}\n`;
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        `Retry-After: ${jitteredRetryAfter(retryBase)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(destroySocket, REFUSAL_LINGER_MS, socket).unref();
  }
}
