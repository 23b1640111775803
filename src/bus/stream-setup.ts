import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

/** How the events stream keeps what it stores. Zero for a limit means "no limit", as in NATS. */
export interface EventStreamOptions {
  /** Stream name; default `OCPP_EVENTS`. */
  name: string;
  /** `limits` keeps events until a limit drops the oldest; `interest` while a consumer still needs them; `workqueue` until one consumer acks. */
  retention: 'limits' | 'interest' | 'workqueue';
  maxAgeMs: number;
  maxBytes: number;
  maxMsgs: number;
  replicas: number;
  /** How long an eventId is remembered for de-duplication; a retry later than this is stored again. */
  duplicateWindowMs: number;
}

export const DEFAULT_EVENT_STREAM: EventStreamOptions = {
  name: 'OCPP_EVENTS',
  retention: 'limits',
  maxAgeMs: 7 * 24 * 3600_000,
  maxBytes: 0,
  maxMsgs: 0,
  replicas: 1,
  duplicateWindowMs: 120_000,
};

const RETENTION = {
  limits: RetentionPolicy.Limits,
  interest: RetentionPolicy.Interest,
  workqueue: RetentionPolicy.Workqueue,
} as const;

/** NATS uses -1 for "unlimited" on byte and message limits. */
function limit(value: number): number {
  return value > 0 ? value : -1;
}

export function eventStreamConfig(options: EventStreamOptions, subject: string): StreamConfig {
  return {
    name: options.name,
    subjects: [subject],
    retention: RETENTION[options.retention],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(Math.max(0, options.maxAgeMs)),
    max_bytes: limit(options.maxBytes),
    max_msgs: limit(options.maxMsgs),
    num_replicas: options.replicas,
    duplicate_window: nanos(options.duplicateWindowMs),
  } as StreamConfig;
}

/**
 * Creates the events stream, or brings an existing one to the configured settings. The server refuses changes
 * it cannot make in place (the retention policy, the storage type): that error reaches the caller unchanged,
 * because silently keeping other settings than the operator asked for is worse than not starting.
 */
export async function ensureEventStream(jsm: JetStreamManager, options: EventStreamOptions, subject: string): Promise<void> {
  const config = eventStreamConfig(options, subject);
  try {
    await jsm.streams.info(options.name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
    await jsm.streams.add(config);
    return;
  }
  const { name, ...update } = config;
  await jsm.streams.update(name, update);
}
