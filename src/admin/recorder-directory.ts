/**
 * Where the flight recorder routes of the admin API find a charger's recording: this instance's recorder
 * (embedded mode), or in cluster mode the instance that holds the charger (to start one) and whichever live
 * instance has its recording (to stop, read or download it; a charger that disconnected may have left it on
 * an instance that no longer holds it).
 *
 * Each instance answers on `{root}.instance.{pod token}.recorder`. Frames cross the bus a bounded page at a
 * time, since a recording may hold megabytes and a NATS message may not.
 */
import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import { encodeSubjectToken } from '../bus/subject-token.js';
import type { Bus, Subscription } from '../bus/types.js';
import type { FlightRecorder, FramePage, RecordedFrame, RecordingStatus } from '../gateway/flight-recorder.js';
import { MAX_DURATION_SECONDS, MAX_FRAMES } from '../gateway/flight-recorder.js';
import type { Registry } from '../registry/types.js';
import type { SessionLookup } from './charger-directory.js';

export type RecorderErrorCode = 'DEVICE_OFFLINE' | 'RECORDER_FULL' | 'NOT_RECORDING' | 'UNAVAILABLE';

export type RecorderOutcome<T> = { ok: T } | { error: { code: RecorderErrorCode; message: string; instance?: string } };

export type RecordingWithFrames = RecordingStatus & { items: RecordedFrame[] };

export interface RecorderDirectory {
  start(identity: string, durationSeconds: number, maxFrames: number): Promise<RecorderOutcome<RecordingStatus>>;
  stop(identity: string): Promise<RecorderOutcome<RecordingStatus>>;
  /** The recording with every frame it holds, oldest first. */
  frames(identity: string): Promise<RecorderOutcome<RecordingWithFrames>>;
}

const notRecording = (identity: string) => ({ error: { code: 'NOT_RECORDING' as const, message: `charge point ${identity} has no recording` } });

/** This instance's recorder and sessions. */
export class LocalRecorderDirectory implements RecorderDirectory {
  private readonly instanceId: string | undefined;

  constructor(
    private readonly recorder: FlightRecorder,
    private readonly sessions: SessionLookup,
    /** Named in every status (cluster mode); default the recorder's own. */
    instanceId?: string,
  ) {
    this.instanceId = instanceId ?? recorder.instanceId;
  }

  async start(identity: string, durationSeconds: number, maxFrames: number): Promise<RecorderOutcome<RecordingStatus>> {
    return this.startNow(identity, durationSeconds, maxFrames);
  }

  startNow(identity: string, durationSeconds: number, maxFrames: number): RecorderOutcome<RecordingStatus> {
    const outcome = this.recorder.start(this.sessions.get(identity), durationSeconds, maxFrames);
    if ('refused' in outcome) {
      const message = outcome.refused === 'DEVICE_OFFLINE' ? `charge point ${identity} is not connected` : outcome.message;
      return { error: { code: outcome.refused, message } };
    }
    return { ok: this.named(outcome) };
  }

  async stop(identity: string): Promise<RecorderOutcome<RecordingStatus>> {
    return this.stopNow(identity);
  }

  stopNow(identity: string): RecorderOutcome<RecordingStatus> {
    const status = this.recorder.stop(identity);
    return status === undefined ? notRecording(identity) : { ok: this.named(status) };
  }

  async frames(identity: string): Promise<RecorderOutcome<RecordingWithFrames>> {
    const recording = this.recorder.get(identity);
    if (recording === undefined) return notRecording(identity);
    return { ok: { ...recording.status(this.instanceId), items: recording.items() } };
  }

  private named(status: RecordingStatus): RecordingStatus {
    return this.instanceId === undefined || status.instance !== undefined ? status : { ...status, instance: this.instanceId };
  }

  /** The status only, or undefined: what the cluster asks every instance when it looks for a recording. */
  statusNow(identity: string): RecordingStatus | undefined {
    return this.recorder.get(identity)?.status(this.instanceId);
  }

  /** Frames from `fromSeq` on, within `maxBytes`, with the status as it is now. */
  pageNow(identity: string, fromSeq: number, maxBytes: number): { status: RecordingStatus; page: FramePage } | undefined {
    const recording = this.recorder.get(identity);
    if (recording === undefined) return undefined;
    return { status: recording.status(this.instanceId), page: recording.page(fromSeq, maxBytes) };
  }
}

/** The subject an instance answers recorder requests on. */
export function instanceRecorderSubject(instanceId: string, subjectRoot = 'gateway'): string {
  return `${subjectRoot}.instance.${encodeSubjectToken(instanceId)}.recorder`;
}

/** A request on that subject. */
export type RecorderRequest =
  | { op: 'start'; identity: string; durationSeconds: number; maxFrames: number }
  | { op: 'stop'; identity: string }
  | { op: 'status'; identity: string }
  | { op: 'page'; identity: string; fromSeq: number };

/** Frame text per bus answer: well under NATS's default 1 MiB message with the JSON around it. */
export const PAGE_BYTES = 512 * 1024;
const MAX_IDENTITY_LENGTH = 1024;

function counter(registry: MetricsRegistry | undefined, name: string, help: string, labelNames: string[]): Counter<string> | undefined {
  if (registry === undefined) return undefined;
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export interface ServeRecorderOptions {
  bus: Pick<Bus, 'respond'>;
  instanceId: string;
  local: LocalRecorderDirectory;
  subjectRoot?: string;
  metrics?: MetricsRegistry;
}

/** Answers other instances' recorder requests from this instance's recorder; malformed ones are refused. */
export function serveRecorder(options: ServeRecorderOptions): Subscription {
  const refusals = counter(options.metrics, 'gateway_recorder_requests_refused_total', 'Recorder requests from other instances refused as malformed', []);
  return options.bus.respond(instanceRecorderSubject(options.instanceId, options.subjectRoot), (message) => {
    try {
      return answerRecorderRequest(options.local, message.data);
    } catch (err) {
      refusals?.inc();
      throw err;
    }
  });
}

function answerRecorderRequest(local: LocalRecorderDirectory, data: unknown): unknown {
  const request = data as Record<string, unknown> | null;
  if (typeof request !== 'object' || request === null) throw new Error('a recorder request is a JSON object');
  const { op, identity } = request;
  if (typeof identity !== 'string' || identity.length === 0 || identity.length > MAX_IDENTITY_LENGTH) throw new Error('identity must be a non-empty string');
  switch (op) {
    case 'start': {
      const { durationSeconds, maxFrames } = request;
      if (!isIntegerIn(durationSeconds, 1, MAX_DURATION_SECONDS)) throw new Error(`durationSeconds must be an integer from 1 to ${MAX_DURATION_SECONDS}`);
      if (!isIntegerIn(maxFrames, 1, MAX_FRAMES)) throw new Error(`maxFrames must be an integer from 1 to ${MAX_FRAMES}`);
      return local.startNow(identity, durationSeconds as number, maxFrames as number);
    }
    case 'stop':
      return local.stopNow(identity);
    case 'status':
      return { status: local.statusNow(identity) ?? null };
    case 'page': {
      if (!isIntegerIn(request.fromSeq, 0, Number.MAX_SAFE_INTEGER)) throw new Error('fromSeq must be a whole number');
      return local.pageNow(identity, request.fromSeq as number, PAGE_BYTES) ?? null;
    }
    default:
      throw new Error('op must be start, stop, status or page');
  }
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

export interface ClusterRecorderDirectoryOptions {
  registry: Pick<Registry, 'liveInstances' | 'owner'>;
  bus: Pick<Bus, 'request'>;
  instanceId: string;
  local: LocalRecorderDirectory;
  subjectRoot?: string;
  /** How long a request waits for another instance. Default 2 s. */
  timeoutMs?: number;
}

/** The recorder routes of cluster mode: any instance's admin API reaches every instance's recordings. */
export class ClusterRecorderDirectory implements RecorderDirectory {
  private readonly timeoutMs: number;

  constructor(private readonly options: ClusterRecorderDirectoryOptions) {
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  private ask(instance: string, request: RecorderRequest): Promise<unknown> {
    return this.options.bus.request(instanceRecorderSubject(instance, this.options.subjectRoot), request, this.timeoutMs);
  }

  private unavailable(instance: string, err: unknown) {
    return {
      error: {
        code: 'UNAVAILABLE' as const,
        message: `instance ${instance} did not answer: ${err instanceof Error ? err.message : String(err)}`,
        instance,
      },
    };
  }

  /** The owner instance records: a charger held nowhere is offline. */
  async start(identity: string, durationSeconds: number, maxFrames: number): Promise<RecorderOutcome<RecordingStatus>> {
    const owner = await this.options.registry.owner(identity);
    if (owner === null) return { error: { code: 'DEVICE_OFFLINE', message: `charge point ${identity} is not connected` } };
    if (owner.instanceId === this.options.instanceId) return this.options.local.startNow(identity, durationSeconds, maxFrames);
    try {
      return (await this.ask(owner.instanceId, { op: 'start', identity, durationSeconds, maxFrames })) as RecorderOutcome<RecordingStatus>;
    } catch (err) {
      return this.unavailable(owner.instanceId, err);
    }
  }

  async stop(identity: string): Promise<RecorderOutcome<RecordingStatus>> {
    const found = await this.find(identity);
    if ('error' in found) return found;
    if (found.instance === this.options.instanceId) return this.options.local.stopNow(identity);
    try {
      return (await this.ask(found.instance, { op: 'stop', identity })) as RecorderOutcome<RecordingStatus>;
    } catch (err) {
      return this.unavailable(found.instance, err);
    }
  }

  async frames(identity: string): Promise<RecorderOutcome<RecordingWithFrames>> {
    const found = await this.find(identity);
    if ('error' in found) return found;
    if (found.instance === this.options.instanceId) return this.options.local.frames(identity);
    // Pages up to the end of the recording as it was when the download began; an active recording goes on
    // meanwhile, and frames it dropped in between are skipped (the first kept one follows).
    const items: RecordedFrame[] = [];
    let status: RecordingStatus | undefined;
    let fromSeq = 0;
    let endSeq: number | undefined;
    for (let pages = 0; pages <= MAX_FRAMES; pages++) {
      let answer: { status: RecordingStatus; page: FramePage } | null;
      try {
        answer = (await this.ask(found.instance, { op: 'page', identity, fromSeq })) as typeof answer;
      } catch (err) {
        return this.unavailable(found.instance, err);
      }
      if (answer === null || typeof answer !== 'object' || !Array.isArray(answer.page?.items)) return notRecording(identity);
      status = answer.status;
      endSeq ??= answer.page.endSeq;
      items.push(...answer.page.items);
      fromSeq = answer.page.firstSeq + answer.page.items.length;
      if (answer.page.items.length === 0 || fromSeq >= endSeq) break;
    }
    return { ok: { ...(status as RecordingStatus), frames: items.length, items } };
  }

  /**
   * Which instance has the charger's recording: every live instance is asked (ours directly), and the most
   * recent recording wins. An instance that does not answer makes "no recording" a 503 rather than a 404.
   */
  private async find(identity: string): Promise<{ instance: string } | { error: { code: RecorderErrorCode; message: string; instance?: string } }> {
    const instances = [...(await this.options.registry.liveInstances())];
    if (!instances.includes(this.options.instanceId)) instances.push(this.options.instanceId);
    const answers = await Promise.all(
      instances.map(async (instance) => {
        if (instance === this.options.instanceId) return { instance, status: this.options.local.statusNow(identity) ?? null, missing: false };
        try {
          const answer = (await this.ask(instance, { op: 'status', identity })) as { status?: RecordingStatus | null } | null;
          return { instance, status: answer?.status ?? null, missing: false };
        } catch {
          return { instance, status: null, missing: true };
        }
      }),
    );
    let best: { instance: string; status: RecordingStatus } | undefined;
    for (const { instance, status } of answers) {
      if (status === null || typeof status.startedAt !== 'string') continue;
      if (best === undefined || status.startedAt > best.status.startedAt) best = { instance, status };
    }
    if (best !== undefined) return { instance: best.instance };
    const missing = answers.filter((a) => a.missing).map((a) => a.instance);
    if (missing.length > 0) {
      return {
        error: { code: 'UNAVAILABLE', message: `no recording found, but instance ${missing.sort().join(', ')} did not answer; retry later`, instance: missing[0] },
      };
    }
    return notRecording(identity);
  }
}
