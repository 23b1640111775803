import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { compatSchema } from '../compat/compat-config.js';
import { isAddressOrRange } from '../transport/admission-limits.js';
import { SHUTDOWN_RESERVE_MS } from './shutdown-budget.js';

/**
 * The gateway's whole configuration, with its defaults. Every knob an operator may turn lives here so that
 * start-up validates all of it at once and names the key that is wrong.
 */

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
/** A boolean from YAML or from an environment variable (`true`/`false`; z.coerce would read "false" as true). */
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], 'must be true or false');

/** strict: a payload that breaks the schema gets a CALLERROR; log: it is logged and counted, then handled; off: not checked. */
export const validationModeSchema = z.enum(['strict', 'log', 'off']);
export type ValidationMode = z.infer<typeof validationModeSchema>;

/** A comma-separated environment value (`none` for an empty list, since an empty variable counts as unset), or a YAML list. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .replace(/^\s*none\s*$/i, '')
            .split(',')
            .map((part) => part.trim())
            .filter((part) => part !== '')
        : value,
    z.array(item),
  );

const rate = (fallback: number) => z.coerce.number().positive().max(1_000_000).default(fallback);

/**
 * Limits on new connections (docs/admission-control.md). Beyond each, 503 with a jittered Retry-After.
 * The defaults let a whole process's reconnect storm (19,500 chargers at once) through the rate limits, then
 * hold upgrades to a pace the process sustains; per-address limits skip loopback, where every charger behind a
 * local proxy (and every test and benchmark) shares one address.
 */
const admissionSchema = z
  .object({
    /**
     * Connections accepted but not yet upgraded at once (TLS handshakes included); a plain one beyond gets 503, a TLS
     * one is dropped unread. With `handshakesUseSpareCapacity`, the least on the plain port: more may be in flight
     * there while the gateway holds fewer than `server.maxConnections`, up to the connections it could still hold.
     */
    maxHandshakes: int(1, 1_000_000, 2048),
    /**
     * Whether a reconnecting fleet may use the room it left: plain handshakes in flight go beyond `maxHandshakes` up
     * to `server.maxConnections` less the connections held (TLS ones never: their bound protects the CPU). false:
     * `maxHandshakes` is a fixed bound for both.
     */
    handshakesUseSpareCapacity: bool.default(true),
    /** Upgrades a second from one source address, and how many may come at once after a quiet spell. */
    addressRate: rate(50),
    addressBurst: int(1, 10_000_000, 500),
    /** Upgrades a second from all addresses together, and the burst: a full process's storm at once. */
    overallRate: rate(2000),
    overallBurst: int(1, 10_000_000, 20_000),
    /** Source addresses tracked for their rate at most; the least recently seen is forgotten beyond it. */
    maxTrackedAddresses: int(1, 10_000_000, 10_000),
    /** Addresses or CIDR ranges exempt from the per-address limit (comma-separated); a proxy or load balancer in front belongs here. */
    exemptAddresses: list(z.string().refine(isAddressOrRange, 'must be IP addresses or CIDR ranges, comma-separated')).default(['127.0.0.0/8', '::1']),
  })
  .prefault({});

const serverSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0'),
    port: int(0, 65535, 8080),
    /** Chargers connect at `{pathPrefix}/{identity}`. */
    pathPrefix: z
      .string()
      .regex(/^\/[^?#]*[^/?#]$|^\/$/, 'must start with "/" and not end with "/" (or be "/" alone)')
      .default('/ocpp'),
    /** Largest WebSocket message accepted; a larger one closes the socket with 1009. */
    maxFrameBytes: int(1024, 64 * 1024 * 1024, 1024 * 1024),
    /** Connections beyond this are refused with HTTP 503 before the upgrade (the process has 20,000 files). */
    maxConnections: int(1, 1_000_000, 19_500),
    /** Listen backlog, so a reconnect storm is queued by the kernel instead of refused. */
    backlog: int(1, 65535, 4096),
    /**
     * Connections the plain listener may take from the kernel's queue per turn of the event loop (Node.js takes one
     * per listening descriptor per turn; the gateway adds copies of the descriptor). A reconnect storm then waits in
     * the gateway, served as it is read, instead of in a full kernel queue whose dropped packets come back on doubling
     * retransmission timers. 1: one descriptor, one accept per turn.
     */
    acceptsPerTurn: int(1, 1024, 64),
    /**
     * A new connection of an identity whose session is still open takes it over once it shows life (a frame, or the
     * pong to the ping it is sent at once), or after this long while it stays silent and open. A connection the
     * charger already gave up on ends within a round trip and leaves the open session alone.
     */
    takeoverGraceMs: int(0, 60_000, 2000),
    admission: admissionSchema,
    /** False: no plain ws listener, chargers connect over TLS only (needs `tls`). */
    plainEnabled: bool.default(true),
  })
  .prefault({});

/** The chargers' TLS listener (wss, security profiles 2 and 3), beside the plain one; off without certFile/keyFile. */
const tlsSchema = z
  .object({
    /** PEM certificate chain of the listener. */
    certFile: z.string().min(1).optional(),
    /** PEM private key of the listener. */
    keyFile: z.string().min(1).optional(),
    /** PEM CA(s) that client certificates (profile 3) must chain to; without it none is asked for. */
    caFile: z.string().min(1).optional(),
    port: int(0, 65535, 8443),
    /** Quiet time after a change to the files before they are reloaded. */
    reloadDebounceMs: int(0, 60_000, 250),
    /** Stat check of the files beside the file watch (some file systems never report changes); 0: off. */
    reloadPollMs: int(0, 3_600_000, 10_000),
    /**
     * Longest a client may take from TCP accept to a completed TLS handshake before it is dropped (and counted as
     * a `timeout` TLS client error). Each one holds a place in `server.admission.maxHandshakes` meanwhile, so
     * Node's own default (120 s) would let a few thousand stalled clients keep everyone out for two minutes at a
     * time; a charger completes its handshake in a few round trips, seconds even on a poor cellular link.
     */
    handshakeTimeoutMs: int(1000, 120_000, 10_000),
  })
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [tls.certFile === undefined ? 'certFile' : 'keyFile'], message: 'TLS needs both TLS_CERT_FILE and TLS_KEY_FILE' });
    } else if (tls.caFile !== undefined && tls.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'client certificates need the TLS listener: set TLS_CERT_FILE and TLS_KEY_FILE too' });
    }
  })
  .prefault({});

const failureLimit = (perWhat: number) =>
  z
    .object({
      /** Failed authentications within `windowMs` before the key is blocked. */
      maxFailures: int(1, 1_000_000, perWhat),
      /** Failures older than this (counted from the last one) are forgotten. */
      windowMs: int(1000, 86_400_000, 300_000),
      /** First block; it doubles with every further failure. */
      blockMs: int(100, 86_400_000, 5_000),
      maxBlockMs: int(100, 86_400_000, 300_000),
      /** Keys remembered at most (the one touched longest ago is forgotten first). */
      maxTracked: int(1, 10_000_000, 10_000),
    })
    .prefault({});

/** Charger authentication: who may connect and how (security profiles); docs: README "Credentials". */
export const securitySchema = z
  .object({
    /** The credential store file (CREDENTIALS_FILE), relative to the working directory; Redis replaces it in cluster mode. */
    credentialsFile: z.string().min(1).default('data/credentials.json'),
    /**
     * Identities that have no record in the credential store: true lets them in (with `defaultProfile`), false
     * refuses them with 404. Unset: allowed while the store holds no record at all, so the quick start works.
     */
    allowUnknownChargers: bool.optional(),
    /** The lowest security profile for chargers without a pin of their own (a charger with a password: at least 1). */
    defaultProfile: z.coerce.number().int().min(0).max(3).default(0),
    /** Failed authentications per identity: a small number, since real chargers get their password right. */
    identityFailures: failureLimit(5),
    /** Per source address: higher, since chargers behind one NAT share it. */
    addressFailures: failureLimit(20),
    /**
     * scrypt password checks running at once (0: one per CPU core) and waiting for a slot; one more is answered 503
     * with a jittered Retry-After (outcome auth_busy). Only checks the verified-credentials cache cannot answer count.
     */
    verifyConcurrency: int(0, 64, 0),
    verifyQueue: int(0, 100_000, 256),
  })
  .prefault({});

const ocppSchema = z
  .object({
    /** Subprotocols accepted, in the gateway's order; the charger's preference decides among them. */
    protocols: z
      .array(z.enum(['ocpp1.6', 'ocpp2.0.1']))
      .min(1)
      .default(['ocpp1.6', 'ocpp2.0.1']),
    /** Version assumed for a charger that offers no subprotocol at all (field firmware does this). Off by default. */
    fallbackProtocol: z.enum(['ocpp1.6', 'ocpp2.0.1']).nullable().default(null),
    /** How long a CALL to a charger waits for its answer. */
    callTimeoutMs: int(100, 600_000, 30_000),
    /**
     * CALLs of one charger that may wait behind the one being answered (OCPP-J allows one in flight, but a
     * charger replaying its offline queue often sends many): all are answered, in order; one more gets a
     * GenericError. The same for every action, however it is answered.
     */
    maxQueuedInboundCalls: int(0, 10_000, 500),
    /** The same bound in bytes of the waiting CALLs' frames (a frame may be 1 MiB). */
    maxQueuedInboundBytes: int(1024, 1024 * 1024 * 1024, 2 * 1024 * 1024),
    /** Commands that may wait behind the one in flight to a charger before QUEUE_FULL. */
    maxQueuedOutboundCalls: int(1, 10_000, 16),
    /**
     * Per-charger rate of CALLs (a token bucket per connection): a CALL beyond it gets a GenericError; a charger
     * refused `abuseRefusals` times within `abuseWindowMs` is closed with 1008. The defaults are far above any
     * charger's own pace (a few CALLs a minute, an offline queue replayed in a burst) and above the fastest the
     * benchmarks and tests drive one connection.
     */
    inboundRate: z
      .object({
        callsPerSec: rate(200),
        burst: int(1, 10_000_000, 2000),
        abuseRefusals: int(1, 10_000_000, 500),
        abuseWindowMs: int(100, 3_600_000, 10_000),
      })
      .prefault({}),
    validation: z
      .object({
        default: validationModeSchema.default('strict'),
        /** Per action, e.g. `{ BootNotification: log }` for a fleet with 23-character models. */
        actions: z.record(z.string(), validationModeSchema).default({}),
      })
      .prefault({}),
  })
  .prefault({});

const outboxSchema = z
  .object({
    /** Above this many bytes buffered in the socket, frames wait in the outbox instead. */
    highWaterBytes: int(1024, 64 * 1024 * 1024, 64 * 1024),
    /** A charger whose outbox holds more than this is not reading: it is closed with 1008. */
    maxQueuedFrames: int(1, 1_000_000, 256),
    maxQueuedBytes: int(1024, 1024 * 1024 * 1024, 2 * 1024 * 1024),
  })
  .prefault({});

const keepaliveSchema = z
  .object({
    /** A charger silent for this long is pinged; keep it well below load balancers' 60 s idle cut. */
    intervalMs: int(100, 3_600_000, 30_000),
    /** After a ping, how long the charger has to show life before it is terminated. */
    pongTimeoutMs: int(50, 600_000, 10_000),
    /** Fraction of the interval by which pings are spread so chargers are not pinged in lockstep. */
    jitter: z.coerce.number().min(0).max(0.5).default(0.1),
  })
  .prefault({});

const localAnswersSchema = z
  .object({
    /** BootNotification interval (seconds) the gateway hands to chargers. */
    bootIntervalSeconds: int(1, 86_400, 300),
    /** 1.6 transactionIds reserved on disk at a time (one write per block; a crash forgoes at most two blocks). */
    transactionIdBlockSize: int(1, 1_000_000, 1000),
    authorize: z
      .object({
        mode: z.enum(['acceptAll', 'allowList']).default('acceptAll'),
        allowList: z.array(z.string()).default([]),
      })
      .prefault({}),
  })
  .prefault({});

/** local: answer from config; event: publish, wait for the bus's acknowledgement, answer; backend: ask the backend. */
export const callPolicySchema = z.enum(['local', 'event', 'backend']);
export type CallPolicy = z.infer<typeof callPolicySchema>;

/** Per-action policies that apply unless the configuration names the action itself. */
export const DEFAULT_ACTION_POLICIES: Readonly<Record<string, CallPolicy>> = Object.freeze({
  Heartbeat: 'local',
  BootNotification: 'backend',
  Authorize: 'backend',
  StartTransaction: 'backend',
});

const policySchema = z
  .object({
    default: callPolicySchema.default('event'),
    /** Merged per action over DEFAULT_ACTION_POLICIES: naming one action leaves the others' defaults alone. */
    actions: z
      .record(z.string(), callPolicySchema)
      .default({})
      .transform((actions) => ({ ...DEFAULT_ACTION_POLICIES, ...actions })),
    backend: z
      .object({
        /** How long a charger's CALL waits for the backend before the fallback applies. */
        timeoutMs: int(10, 60_000, 5_000),
        /** local: answer from config; error: CALLERROR (the charger retries later). */
        fallback: z.enum(['local', 'error']).default('local'),
      })
      .prefault({}),
  })
  .prefault({});

/** 127.0.0.0/8, ::1 and localhost: reachable from this host only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const adminSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: int(0, 65535, 9090),
    /** When set, every admin route but /healthz, /readyz and /metrics needs `Authorization: Bearer <token>`. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** A file holding the token instead (takes precedence); re-read when it changes and on SIGHUP, without a restart. */
    tokenFile: z.string().min(1).optional(),
    /** After a rotation the previous token is still accepted this long, so scripts holding it can pick up the new one. */
    tokenOverlapMs: int(0, 86_400_000, 60_000),
    /** Serve the admin API over HTTPS (TLS 1.2+) with this certificate and key (PEM files); both or neither. */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    /** Events buffered per SSE client before a slow client is disconnected. */
    sseBufferEvents: int(10, 1_000_000, 10_000),
    /** The same bound in bytes: events carry OCPP payloads of up to 1 MiB. */
    sseBufferBytes: int(1024, 1024 * 1024 * 1024, 8 * 1024 * 1024),
    /** How often the dashboard statistics are sampled: the rates and percentiles cover this interval. */
    dashboardIntervalMs: int(100, 60_000, 2000),
  })
  .superRefine((admin, ctx) => {
    if ((admin.tlsCertFile === undefined) !== (admin.tlsKeyFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [admin.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile'],
        message: 'the admin API over HTTPS needs both ADMIN_TLS_CERT_FILE and ADMIN_TLS_KEY_FILE',
      });
    }
    // Beyond loopback anyone who reaches the port could send commands to every charger.
    if (!isLoopbackHost(admin.host) && admin.token === undefined && admin.tokenFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: `the admin API would listen on ${admin.host}, beyond loopback, without a token: set ADMIN_TOKEN or ADMIN_TOKEN_FILE, or ADMIN_HOST=127.0.0.1`,
      });
    }
  })
  .prefault({});

const shutdownSchema = z
  .object({
    /** Chargers are closed in waves spread over this period, so they do not all reconnect elsewhere at once. */
    drainMs: int(0, 600_000, 10_000),
    waves: int(1, 1000, 10),
    /**
     * Hard limit: the process exits by then whatever is left. The drain is budgeted within it (chargers with
     * CALLs in flight are closed anyway when their time is up), so it must leave room beyond drainMs.
     */
    deadlineMs: int(1000, 900_000, 30_000),
  })
  .superRefine((shutdown, ctx) => {
    if (shutdown.drainMs + SHUTDOWN_RESERVE_MS > shutdown.deadlineMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['deadlineMs'],
        message:
          `${shutdown.deadlineMs} ms leaves no room for shutdown.drainMs ${shutdown.drainMs} ms plus ${SHUTDOWN_RESERVE_MS} ms ` +
          'to close connections and flush; raise shutdown.deadlineMs or lower shutdown.drainMs',
      });
    }
  })
  .prefault({});

const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .prefault({});

const MAX_WORKERS = 256;
const WORKERS_RANGE = `must be a whole number from 1 to ${MAX_WORKERS}, or "auto"`;

const instanceSchema = z
  .object({
    /** This instance's id (POD_ID); generated when absent. */
    id: z.string().min(1).max(64).optional(),
    /** Where state that must survive a restart is kept (transaction id high-water mark). */
    stateDir: z.string().min(1).default('data'),
    /**
     * Worker processes sharing the charger and admin ports (WORKERS; `auto`: one per CPU core). 1 runs one plain
     * process; more need cluster mode, each worker being an instance `{POD_ID}-w{n}` (docs/cluster.md).
     */
    workers: z
      .union([z.literal('auto'), z.coerce.number(WORKERS_RANGE).int(WORKERS_RANGE).min(1, WORKERS_RANGE).max(MAX_WORKERS, WORKERS_RANGE)], WORKERS_RANGE)
      .default(1)
      .transform((workers) => (workers === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : workers)),
  })
  .prefault({});

const chargersSchema = z
  .object({
    /**
     * What the gateway knows of a charger (boot, connector statuses, transactions, recent answers) is kept this
     * long after its last connection ends, so a reconnect carries on where it left off.
     */
    forgetAfterMs: int(100, 30 * 86_400_000, 4 * 3_600_000),
    /** Chargers remembered at most; beyond it the one gone longest is forgotten (connected ones always are kept). */
    maxRemembered: int(1, 10_000_000, 100_000),
    /**
     * Entries (connector statuses, transactions, kept answers, refusals) that chargers which left may hold in all;
     * beyond it the one gone longest is forgotten. A record costs about 0.45 KB plus 0.14 KB an entry (bench/charger-memory-size.ts), so the
     * default holds a fleet's worth of ordinary chargers while a client inventing identities that each report
     * dozens of connectors cannot make the process hold more than some 30 MB for them.
     */
    maxRememberedEntries: int(1, 100_000_000, 200_000),
  })
  .prefault({});

/**
 * The flight recorder (docs/flight-recorder.md): the raw frames of chargers an operator chose to record. Each
 * bound is a cap on memory: a frame is cut at `maxFrameBytes`, a recording drops its oldest frames beyond its
 * `maxFrames` or `maxChargerBytes`, and all recordings together hold at most `maxTotalBytes`.
 */
const recorderSchema = z
  .object({
    /** Chargers recording at once; one more is refused with 429 RECORDER_FULL. */
    maxChargers: int(1, 10_000, 100),
    /** Bytes of frames all recordings hold together, stopped ones kept for download included. */
    maxTotalBytes: int(64 * 1024, 4 * 1024 * 1024 * 1024, 64 * 1024 * 1024),
    /** Bytes of frames one recording holds; beyond it its oldest frames are dropped (and counted). */
    maxChargerBytes: int(1024, 4 * 1024 * 1024 * 1024, 8 * 1024 * 1024),
    /** A frame longer than this is stored cut to it and marked `truncated`. */
    maxFrameBytes: int(256, 16 * 1024 * 1024, 64 * 1024),
    /** How long a recording's frames stay downloadable after it ended (even after the charger left). */
    retainMs: int(100, 7 * 86_400_000, 3_600_000),
  })
  .prefault({});

/**
 * Cluster mode: set both URLs (NATS_URL, REDIS_URL) to run as one of several instances sharing chargers;
 * neither keeps the embedded mode. docs/cluster.md ("Running a cluster") has the flows.
 */
export const clusterSchema = z
  .object({
    /** NATS server URL(s), comma-separated (`nats://host:4222`); selects the JetStream bus. */
    natsUrl: z.string().min(1).optional(),
    /** `redis://host:port` (REDIS_URL, or REDIS_ADDR as `host:port`); selects the Redis ownership registry. */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
      .optional(),
    stream: z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "-" and "_"')
          .default('OCPP_EVENTS'),
        retention: z.enum(['limits', 'interest', 'workqueue']).default('limits'),
        maxAgeMs: int(1000, 10 * 365 * 86_400_000, 7 * 86_400_000),
        /** 0: unlimited; when reached, the oldest events are dropped. */
        maxBytes: int(0, Number.MAX_SAFE_INTEGER, 0),
        maxMsgs: int(0, Number.MAX_SAFE_INTEGER, 0),
        replicas: int(1, 5, 1),
        duplicateWindowMs: int(1000, 86_400_000, 120_000),
      })
      .prefault({}),
    /** How long an event may take to be stored by JetStream before its CALL gets InternalError. */
    ackTimeoutMs: int(100, 120_000, 5000),
    /** Event publishes held at once; beyond it they wait for a place (within ackTimeoutMs). */
    maxInFlight: int(1, 1_000_000, 1024),
    /** Life of a charger's claim and of this instance's registration without a refresh (refreshed every third of it). */
    ownershipTtlMs: int(3000, 300_000, 30_000),
    /** How long a new connection waits for the previous owner instance to close the old one before going on. */
    evictTimeoutMs: int(100, 60_000, 2000),
  })
  .prefault({});

export const configSchema = z
  .object({
    server: serverSchema,
    tls: tlsSchema,
    security: securitySchema,
    ocpp: ocppSchema,
    outbox: outboxSchema,
    keepalive: keepaliveSchema,
    localAnswers: localAnswersSchema,
    policy: policySchema,
    admin: adminSchema,
    shutdown: shutdownSchema,
    log: logSchema,
    instance: instanceSchema,
    chargers: chargersSchema,
    recorder: recorderSchema,
    cluster: clusterSchema,
    /** Compatibility profiles for firmware quirks, per charger or per model (README "Compatibility profiles"). */
    compat: compatSchema,
    profile: z.string().optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!config.server.plainEnabled && config.tls.certFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['server', 'plainEnabled'],
        message: 'the plain listener can only be switched off when TLS is configured (TLS_CERT_FILE, TLS_KEY_FILE)',
      });
    }
    const { natsUrl, redisUrl } = config.cluster;
    if ((natsUrl === undefined) !== (redisUrl === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', natsUrl === undefined ? 'natsUrl' : 'redisUrl'],
        message: 'cluster mode needs both NATS_URL and REDIS_URL (or neither, for the embedded mode)',
      });
    } else if (natsUrl !== undefined && config.instance.id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['instance', 'id'], message: 'cluster mode needs POD_ID, unique among the live instances' });
    } else if (config.instance.workers > 1 && natsUrl === undefined) {
      // Without the shared bus and registry a command or a listing on one worker could not see another's chargers.
      ctx.addIssue({
        code: 'custom',
        path: ['instance', 'workers'],
        message: `${config.instance.workers} workers need cluster mode (NATS_URL, REDIS_URL and POD_ID): each worker is an instance of the cluster`,
      });
    } else if (config.instance.workers > 1 && (config.instance.id as string).length + `-w${config.instance.workers}`.length > 64) {
      ctx.addIssue({ code: 'custom', path: ['instance', 'id'], message: `must leave room for the worker suffix "-w${config.instance.workers}" within 64 characters` });
    }
  });

/** Cluster mode is on when both its servers are configured (the schema refuses one without the other). */
export function isClusterMode(config: GatewayConfig): config is GatewayConfig & { cluster: { natsUrl: string; redisUrl: string } } {
  return config.cluster.natsUrl !== undefined && config.cluster.redisUrl !== undefined;
}

export type GatewayConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
