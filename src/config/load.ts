import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, type GatewayConfig } from './schema.js';

/** A configuration that cannot be used; its message names the key and the problem, for one clear line at start-up. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Environment variables the gateway reads, mapped onto config keys. The names are those operators already
 * use with the gateway this one replaces, so their deployments carry over unchanged.
 */
const ENVIRONMENT: Record<string, string> = {
  SERVER_HOST: 'server.host',
  SERVER_PORT: 'server.port',
  OCPP_PATH_PREFIX: 'server.pathPrefix',
  MAX_CONNECTIONS: 'server.maxConnections',
  ACCEPTS_PER_TURN: 'server.acceptsPerTurn',
  TAKEOVER_GRACE_MS: 'server.takeoverGraceMs',
  SERVER_PLAIN_ENABLED: 'server.plainEnabled',
  TLS_CERT_FILE: 'tls.certFile',
  TLS_KEY_FILE: 'tls.keyFile',
  TLS_CA_FILE: 'tls.caFile',
  TLS_PORT: 'tls.port',
  TLS_HANDSHAKE_TIMEOUT_MS: 'tls.handshakeTimeoutMs',
  ALLOW_UNKNOWN_CHARGERS: 'security.allowUnknownChargers',
  DEFAULT_SECURITY_PROFILE: 'security.defaultProfile',
  AUTH_MAX_FAILURES_PER_IDENTITY: 'security.identityFailures.maxFailures',
  AUTH_MAX_FAILURES_PER_ADDRESS: 'security.addressFailures.maxFailures',
  LOG_LEVEL: 'log.level',
  POD_ID: 'instance.id',
  STATE_DIR: 'instance.stateDir',
  WORKERS: 'instance.workers',
  KEEPALIVE_INTERVAL_MS: 'keepalive.intervalMs',
  CALL_TIMEOUT_MS: 'ocpp.callTimeoutMs',
  OCPP_FALLBACK_PROTOCOL: 'ocpp.fallbackProtocol',
  ADMIN_HOST: 'admin.host',
  ADMIN_PORT: 'admin.port',
  ADMIN_TOKEN: 'admin.token',
  ADMIN_TOKEN_FILE: 'admin.tokenFile',
  ADMIN_TOKEN_OVERLAP_MS: 'admin.tokenOverlapMs',
  ADMIN_TLS_CERT_FILE: 'admin.tlsCertFile',
  ADMIN_TLS_KEY_FILE: 'admin.tlsKeyFile',
  ADMIN_DASHBOARD_INTERVAL_MS: 'admin.dashboardIntervalMs',
  RECORDER_MAX_CHARGERS: 'recorder.maxChargers',
  RECORDER_MAX_TOTAL_BYTES: 'recorder.maxTotalBytes',
  RECORDER_MAX_CHARGER_BYTES: 'recorder.maxChargerBytes',
  RECORDER_MAX_FRAME_BYTES: 'recorder.maxFrameBytes',
  RECORDER_RETAIN_MS: 'recorder.retainMs',
  ADMISSION_MAX_HANDSHAKES: 'server.admission.maxHandshakes',
  ADMISSION_HANDSHAKES_USE_SPARE_CAPACITY: 'server.admission.handshakesUseSpareCapacity',
  ADMISSION_ADDRESS_RATE: 'server.admission.addressRate',
  ADMISSION_ADDRESS_BURST: 'server.admission.addressBurst',
  ADMISSION_OVERALL_RATE: 'server.admission.overallRate',
  ADMISSION_OVERALL_BURST: 'server.admission.overallBurst',
  ADMISSION_MAX_TRACKED_ADDRESSES: 'server.admission.maxTrackedAddresses',
  ADMISSION_EXEMPT_ADDRESSES: 'server.admission.exemptAddresses',
  INBOUND_CALL_RATE: 'ocpp.inboundRate.callsPerSec',
  INBOUND_CALL_BURST: 'ocpp.inboundRate.burst',
  INBOUND_ABUSE_REFUSALS: 'ocpp.inboundRate.abuseRefusals',
  INBOUND_ABUSE_WINDOW_MS: 'ocpp.inboundRate.abuseWindowMs',
  SHUTDOWN_DRAIN_MS: 'shutdown.drainMs',
  SHUTDOWN_DEADLINE_MS: 'shutdown.deadlineMs',
  CHARGERS_FORGET_AFTER_MS: 'chargers.forgetAfterMs',
  CHARGERS_MAX_REMEMBERED: 'chargers.maxRemembered',
  CHARGERS_MAX_REMEMBERED_ENTRIES: 'chargers.maxRememberedEntries',
  NATS_URL: 'cluster.natsUrl',
  REDIS_URL: 'cluster.redisUrl',
  NATS_STREAM_NAME: 'cluster.stream.name',
  NATS_STREAM_RETENTION: 'cluster.stream.retention',
  NATS_STREAM_MAX_AGE_MS: 'cluster.stream.maxAgeMs',
  NATS_STREAM_MAX_BYTES: 'cluster.stream.maxBytes',
  NATS_STREAM_MAX_MSGS: 'cluster.stream.maxMsgs',
  NATS_STREAM_REPLICAS: 'cluster.stream.replicas',
  NATS_STREAM_DUPLICATE_WINDOW_MS: 'cluster.stream.duplicateWindowMs',
  NATS_ACK_TIMEOUT_MS: 'cluster.ackTimeoutMs',
  NATS_MAX_IN_FLIGHT: 'cluster.maxInFlight',
  OWNERSHIP_TTL_MS: 'cluster.ownershipTtlMs',
  EVICT_TIMEOUT_MS: 'cluster.evictTimeoutMs',
  COMPAT_PROFILE_DEFAULT: 'compat.default',
  CREDENTIALS_FILE: 'security.credentialsFile',
  AUTH_VERIFY_CONCURRENCY: 'security.verifyConcurrency',
  AUTH_VERIFY_QUEUE: 'security.verifyQueue',
};

export interface LoadOptions {
  /** Folder holding application.yaml and application-{profile}.yaml; default `config` or CONFIG_DIR. */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Applied last, above the environment: for embedding and tests. */
  overrides?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Layers `over` onto `base`: objects merge key by key, anything else (arrays too) replaces. */
export function mergeLayers(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isTree(value) && isTree(out[key]) ? mergeLayers(out[key] as Tree, value) : value;
  }
  return out;
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]] = value;
}

function readYamlLayer(file: string): Tree {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed == null) return {};
  if (!isTree(parsed)) throw new ConfigError(`${file}: must hold a mapping of settings`);
  return parsed;
}

function environmentLayer(env: NodeJS.ProcessEnv): Tree {
  const layer: Tree = {};
  for (const [name, path] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(layer, path, value);
  }
  // REDIS_ADDR (`host:port`) is the older spelling; REDIS_URL wins when both are set.
  const addr = env.REDIS_ADDR;
  if (addr !== undefined && addr !== '' && (env.REDIS_URL === undefined || env.REDIS_URL === '')) setPath(layer, 'cluster.redisUrl', `redis://${addr}`);
  return layer;
}

/**
 * application.yaml → application-{APP_PROFILE}.yaml → environment → overrides, merged but not yet validated: for
 * tools (the credentials CLI) that validate only the part of the configuration they use.
 */
export function loadConfigLayers(options: LoadOptions = {}): Record<string, unknown> {
  const env = options.env ?? process.env;
  const dir = options.configDir ?? env.CONFIG_DIR ?? 'config';
  const profile = env.APP_PROFILE || undefined;
  if (profile !== undefined && !/^[A-Za-z0-9_-]+$/.test(profile)) {
    throw new ConfigError(`APP_PROFILE: "${profile}" is not a profile name (letters, digits, "-" and "_")`);
  }
  let tree = readYamlLayer(join(dir, 'application.yaml'));
  if (profile) tree = mergeLayers(tree, readYamlLayer(join(dir, `application-${profile}.yaml`)));
  tree = mergeLayers(tree, environmentLayer(env));
  if (options.overrides) tree = mergeLayers(tree, options.overrides);
  if (profile) tree.profile = profile;
  return tree;
}

/** Defaults → application.yaml → application-{APP_PROFILE}.yaml → environment → overrides, validated as a whole. */
export function loadConfig(options: LoadOptions = {}): GatewayConfig {
  const result = configSchema.safeParse(loadConfigLayers(options));
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path.join('.') || '(root)';
    const envName = environmentVariableOf(key);
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new ConfigError(`invalid configuration at ${key}${envName ? ` (${envName})` : ''}: ${issue.message}${more}`);
  }
  return result.data;
}

/** The environment variable that sets a config key, for error messages of tools that validate part of the config. */
export function environmentVariableOf(key: string): string | undefined {
  return key === 'cluster.redisUrl' ? 'REDIS_URL' : Object.entries(ENVIRONMENT).find(([, p]) => p === key)?.[0];
}
