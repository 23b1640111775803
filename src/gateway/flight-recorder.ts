/**
 * The flight recorder: on an operator's request, the raw text frames of one charger in both directions, with
 * millisecond timestamps, for a while, to be downloaded afterwards (docs/flight-recorder.md).
 *
 * Everything it holds is bounded: a frame is cut at `maxFrameBytes`; a recording keeps its last `maxFrames`
 * frames within `maxChargerBytes` (older ones are dropped and counted); at most `maxChargers` record at once;
 * all recordings, stopped ones kept for download included, hold at most `maxTotalBytes`. A recording ends by
 * itself at its `until` and is freed `retainMs` after it ended.
 *
 * A session that is not recorded pays one property check per frame: its `recorder` (and its outbox's) is
 * undefined. Frames are redacted (frame-redaction.ts) before they are kept.
 */
import type { FrameTap } from '../transport/outbox.js';
import { redactFrame } from './frame-redaction.js';

export interface RecorderLimits {
  maxChargers: number;
  maxTotalBytes: number;
  maxChargerBytes: number;
  maxFrameBytes: number;
  retainMs: number;
}

export interface RecordingStatus {
  chargePointId: string;
  instance?: string;
  active: boolean;
  startedAt: string;
  until: string;
  stoppedAt?: string;
  maxFrames: number;
  frames: number;
  droppedFrames: number;
  bytes: number;
}

export interface RecordedFrame {
  at: string;
  direction: 'in' | 'out';
  /** Bytes of the frame as it went over the wire. */
  size: number;
  /** Its text, credentials redacted, cut to the per-frame cap. */
  frame: string;
  truncated?: true;
}

/** A page of a recording's frames for the cluster's bus, which carries bounded messages. */
export interface FramePage {
  /** Sequence number of the first frame in `items` (frames are numbered from 0 as they are recorded). */
  firstSeq: number;
  items: RecordedFrame[];
  /** The sequence number after the last frame recorded so far: the page is the last when firstSeq + items.length reaches it. */
  endSeq: number;
}

/** What a session offers the recorder: its identity and the two places frames pass. */
export interface RecordableSession {
  readonly identity: string;
  readonly state: string;
  recorder: FrameTap | undefined;
  readonly outbox: { recorder: FrameTap | undefined };
}

export interface RecorderMetrics {
  framesRecorded(count: number): void;
  activeRecordings(count: number): void;
  bytesHeld(bytes: number): void;
}

export type StartRefusal = { refused: 'DEVICE_OFFLINE' | 'RECORDER_FULL'; message: string };

export const DEFAULT_DURATION_SECONDS = 600;
export const DEFAULT_MAX_FRAMES = 1000;
export const MAX_DURATION_SECONDS = 3600;
export const MAX_FRAMES = 5000;

interface StoredFrame {
  at: number;
  direction: 'in' | 'out';
  size: number;
  frame: string;
  /** UTF-8 bytes of `frame`: what the recording's bounds count. */
  bytes: number;
  truncated: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes that does not split a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= maxBytes) return text;
  let end = maxBytes;
  // A continuation byte (10xxxxxx) at the cut means the character started before it: cut before that character.
  while (end > 0 && (buffer[end] & 0xc0) === 0x80) end--;
  return buffer.subarray(0, end).toString('utf8');
}

/** One charger's recording: a ring of its last frames. It is the tap its session's frames pass through. */
export class Recording implements FrameTap {
  session: RecordableSession | undefined;
  stoppedAt: number | undefined;
  droppedFrames = 0;
  bytes = 0;
  /** Sequence number the next frame kept gets. */
  private nextSeq = 0;
  private readonly ring: Array<StoredFrame | undefined>;
  private head = 0;
  private count = 0;
  untilTimer: NodeJS.Timeout | undefined;
  freeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly owner: FlightRecorder,
    readonly chargePointId: string,
    readonly startedAt: number,
    readonly until: number,
    readonly maxFrames: number,
  ) {
    this.ring = new Array(maxFrames);
  }

  get active(): boolean {
    return this.stoppedAt === undefined;
  }

  get frames(): number {
    return this.count;
  }

  record(direction: 'in' | 'out', text: string): void {
    this.owner.add(this, direction, text);
  }

  /** Appends a frame already within the bounds (the recorder made room). */
  push(frame: StoredFrame): void {
    this.ring[(this.head + this.count) % this.maxFrames] = frame;
    this.count++;
    this.nextSeq++;
    this.bytes += frame.bytes;
  }

  /** Drops the oldest frame; returns its bytes (0 when there is none). */
  dropOldest(): number {
    if (this.count === 0) return 0;
    const frame = this.ring[this.head] as StoredFrame;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.maxFrames;
    this.count--;
    this.droppedFrames++;
    this.bytes -= frame.bytes;
    return frame.bytes;
  }

  /** Forgets every frame (the recording is freed); returns the bytes it held. */
  clear(): number {
    const bytes = this.bytes;
    this.ring.fill(undefined);
    this.count = 0;
    this.bytes = 0;
    return bytes;
  }

  status(instance: string | undefined): RecordingStatus {
    return {
      chargePointId: this.chargePointId,
      ...(instance !== undefined ? { instance } : {}),
      active: this.active,
      startedAt: iso(this.startedAt),
      until: iso(this.until),
      ...(this.stoppedAt !== undefined ? { stoppedAt: iso(this.stoppedAt) } : {}),
      maxFrames: this.maxFrames,
      frames: this.count,
      droppedFrames: this.droppedFrames,
      bytes: this.bytes,
    };
  }

  /** Every frame kept, oldest first. */
  items(): RecordedFrame[] {
    const out: RecordedFrame[] = [];
    for (let i = 0; i < this.count; i++) out.push(view(this.ring[(this.head + i) % this.maxFrames] as StoredFrame));
    return out;
  }

  /**
   * Frames from sequence number `fromSeq` on (or from the oldest kept, when that one was dropped), as many as
   * fit in `maxBytes` of frame text, at least one.
   */
  page(fromSeq: number, maxBytes: number): FramePage {
    const firstKept = this.nextSeq - this.count;
    const start = Math.max(fromSeq, firstKept);
    const items: RecordedFrame[] = [];
    let bytes = 0;
    for (let seq = start; seq < this.nextSeq; seq++) {
      const frame = this.ring[(this.head + (seq - firstKept)) % this.maxFrames] as StoredFrame;
      // JSON may escape a character into six; the budget counts that so a page always fits a bus message.
      const cost = frame.bytes * 6 + 128;
      if (items.length > 0 && bytes + cost > maxBytes) break;
      bytes += cost;
      items.push(view(frame));
    }
    return { firstSeq: start, items, endSeq: this.nextSeq };
  }
}

function view(frame: StoredFrame): RecordedFrame {
  return {
    at: iso(frame.at),
    direction: frame.direction,
    size: frame.size,
    frame: frame.frame,
    ...(frame.truncated ? { truncated: true as const } : {}),
  };
}

/** Every recording of one gateway instance, and the bounds they share. */
export class FlightRecorder {
  private readonly recordings = new Map<string, Recording>();
  private totalBytes = 0;
  private activeCount = 0;

  constructor(
    private readonly limits: RecorderLimits,
    private readonly metrics: RecorderMetrics,
    /** Cluster mode: named in every status, so an operator sees which instance recorded. */
    readonly instanceId?: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes of frames held by every recording together. */
  get bytesHeld(): number {
    return this.totalBytes;
  }

  /** Starts recording a connected charger for `durationSeconds`, replacing any recording it had. */
  start(session: RecordableSession | undefined, durationSeconds = DEFAULT_DURATION_SECONDS, maxFrames = DEFAULT_MAX_FRAMES): RecordingStatus | StartRefusal {
    if (session === undefined || session.state !== 'open') {
      return { refused: 'DEVICE_OFFLINE', message: 'the charger is not connected' };
    }
    const identity = session.identity;
    const previous = this.recordings.get(identity);
    const othersActive = this.activeCount - (previous?.active ? 1 : 0);
    if (othersActive >= this.limits.maxChargers) {
      return { refused: 'RECORDER_FULL', message: `${othersActive} chargers are being recorded already, the most recorder.maxChargers allows` };
    }
    // Stopped recordings make room for a new one; active ones do not.
    const otherBytes = this.totalBytes - (previous?.bytes ?? 0);
    if (otherBytes >= this.limits.maxTotalBytes && !this.evictStoppedUntil(this.limits.maxTotalBytes - 1 + (previous?.bytes ?? 0), previous)) {
      return { refused: 'RECORDER_FULL', message: `the recordings under way hold recorder.maxTotalBytes (${this.limits.maxTotalBytes} bytes) already` };
    }
    if (previous !== undefined) this.free(previous);
    const startedAt = this.now();
    const recording = new Recording(this, identity, startedAt, startedAt + durationSeconds * 1000, maxFrames);
    this.recordings.set(identity, recording);
    this.activeCount++;
    this.metrics.activeRecordings(this.activeCount);
    recording.untilTimer = setTimeout(() => this.stop(identity), durationSeconds * 1000);
    recording.untilTimer.unref();
    this.hook(recording, session);
    return recording.status(this.instanceId);
  }

  /** Ends the recording of `identity` (its frames stay for `retainMs`); undefined when it has none. */
  stop(identity: string): RecordingStatus | undefined {
    const recording = this.recordings.get(identity);
    if (recording === undefined) return undefined;
    if (recording.active) {
      recording.stoppedAt = this.now();
      clearTimeout(recording.untilTimer);
      this.unhook(recording);
      this.activeCount--;
      this.metrics.activeRecordings(this.activeCount);
      recording.freeTimer = setTimeout(() => this.free(recording), this.limits.retainMs);
      recording.freeTimer.unref();
      this.boundStopped();
    }
    return recording.status(this.instanceId);
  }

  get(identity: string): Recording | undefined {
    return this.recordings.get(identity);
  }

  /** A charger connected (again): an active recording of its identity goes on with this connection. */
  attach(session: RecordableSession): void {
    const recording = this.recordings.get(session.identity);
    if (recording === undefined || !recording.active) return;
    this.hook(recording, session);
  }

  /** A connection closed: it no longer feeds a recording (the recording stays until its `until`). */
  detach(session: RecordableSession): void {
    if (session.recorder === undefined) return;
    const recording = session.recorder as Recording;
    if (recording.session === session) this.unhook(recording);
    else {
      session.recorder = undefined;
      session.outbox.recorder = undefined;
    }
  }

  /** Stops every timer and forgets every recording (the gateway is closing). */
  close(): void {
    for (const recording of [...this.recordings.values()]) this.free(recording);
  }

  /** One frame of a recorded session: redacted, cut, then kept within every bound. */
  add(recording: Recording, direction: 'in' | 'out', text: string): void {
    if (!recording.active) return;
    const { maxFrameBytes, maxChargerBytes, maxTotalBytes } = this.limits;
    const size = Buffer.byteLength(text);
    let frame = redactFrame(text);
    let bytes = frame === text ? size : Buffer.byteLength(frame);
    let truncated = false;
    if (bytes > maxFrameBytes) {
      frame = cutUtf8(frame, maxFrameBytes);
      bytes = Buffer.byteLength(frame);
      truncated = true;
    }
    while (recording.frames > 0 && (recording.frames >= recording.maxFrames || recording.bytes + bytes > maxChargerBytes)) {
      this.totalBytes -= recording.dropOldest();
    }
    if (this.totalBytes + bytes > maxTotalBytes) this.evictStoppedUntil(maxTotalBytes - bytes, recording);
    while (recording.frames > 0 && this.totalBytes + bytes > maxTotalBytes) this.totalBytes -= recording.dropOldest();
    if (this.totalBytes + bytes > maxTotalBytes || bytes > maxChargerBytes) {
      // Other recordings under way hold the rest: this frame cannot be kept, and says so in the count.
      recording.droppedFrames++;
      this.metrics.bytesHeld(this.totalBytes);
      return;
    }
    recording.push({ at: this.now(), direction, size, frame, bytes, truncated });
    this.totalBytes += bytes;
    this.metrics.framesRecorded(1);
    this.metrics.bytesHeld(this.totalBytes);
  }

  private hook(recording: Recording, session: RecordableSession): void {
    if (recording.session !== undefined && recording.session !== session) this.unhook(recording);
    recording.session = session;
    session.recorder = recording;
    session.outbox.recorder = recording;
  }

  private unhook(recording: Recording): void {
    const session = recording.session;
    recording.session = undefined;
    if (session === undefined || session.recorder !== recording) return;
    session.recorder = undefined;
    session.outbox.recorder = undefined;
  }

  private free(recording: Recording): void {
    if (this.recordings.get(recording.chargePointId) !== recording) return;
    clearTimeout(recording.untilTimer);
    clearTimeout(recording.freeTimer);
    this.unhook(recording);
    if (recording.active) {
      this.activeCount--;
      this.metrics.activeRecordings(this.activeCount);
      recording.stoppedAt = this.now();
    }
    this.recordings.delete(recording.chargePointId);
    this.totalBytes -= recording.clear();
    this.metrics.bytesHeld(this.totalBytes);
  }

  /** Frees stopped recordings, the one that ended first first, until at most `bytes` are held; false if it cannot. */
  private evictStoppedUntil(bytes: number, spare: Recording | undefined): boolean {
    if (this.totalBytes <= bytes) return true;
    for (const recording of this.stoppedOldestFirst()) {
      if (recording === spare) continue;
      this.free(recording);
      if (this.totalBytes <= bytes) return true;
    }
    return this.totalBytes <= bytes;
  }

  /** Stopped recordings kept for download are at most as many as may record at once. */
  private boundStopped(): void {
    const stopped = this.stoppedOldestFirst();
    for (let i = 0; i < stopped.length - this.limits.maxChargers; i++) this.free(stopped[i]);
  }

  private stoppedOldestFirst(): Recording[] {
    return [...this.recordings.values()].filter((r) => !r.active).sort((a, b) => (a.stoppedAt as number) - (b.stoppedAt as number));
  }
}
