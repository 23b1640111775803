import type { Logger } from 'pino';
import { NatsBus } from '../bus/nats-bus.js';
import type { GatewayConfig } from '../config/schema.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import { RedisRegistry } from '../registry/redis-registry.js';
import type { Registry } from '../registry/types.js';

/** A server of the cluster could not be reached at start; the message names which and why, in one line. */
export class ClusterUnavailableError extends Error {
  override name = 'ClusterUnavailableError';
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** What a gateway instance needs to take part in a cluster: the shared bus, the shared registry, its own id. */
export interface ClusterServices {
  bus: NatsBus;
  registry: Registry;
  /** POD_ID: this instance's name in the registry and in its NATS subjects. */
  instanceId: string;
  /** How long a new connection waits for the previous owner instance to close the old one. */
  evictTimeoutMs: number;
}

/**
 * Connects to NATS (creating or updating the events stream) and to Redis, and registers this instance under
 * its POD_ID. Rejects (and leaves nothing open) when either server is unreachable or another live instance holds
 * the id (InstanceIdInUseError).
 */
export async function startClusterServices(
  config: GatewayConfig & { cluster: { natsUrl: string; redisUrl: string } },
  instanceId: string,
  log: Logger,
): Promise<ClusterServices> {
  const { cluster } = config;
  // Connection trouble is reported per interval, not per attempt or per message.
  const warnings = new RateLimitedLog(log);
  const registry = await RedisRegistry.connect({
    connection: cluster.redisUrl,
    ttlMs: cluster.ownershipTtlMs,
    onConnectionError: (err) => warnings.write('warn', 'redis-connection', { err }, 'Redis connection error; reconnecting'),
  }).catch((err: unknown) => {
    throw new ClusterUnavailableError(`Redis (REDIS_URL) cannot be reached: ${describe(err)}`, { cause: err });
  });
  let bus: NatsBus | undefined;
  try {
    await registry.registerInstance(instanceId);
    const { stream } = cluster;
    bus = await NatsBus.start({
      servers: cluster.natsUrl.split(',').map((url) => url.trim()),
      name: instanceId,
      stream: {
        name: stream.name,
        retention: stream.retention,
        maxAgeMs: stream.maxAgeMs,
        maxBytes: stream.maxBytes,
        maxMsgs: stream.maxMsgs,
        replicas: stream.replicas,
        duplicateWindowMs: stream.duplicateWindowMs,
      },
      ackTimeoutMs: cluster.ackTimeoutMs,
      maxInFlight: cluster.maxInFlight,
      onError: (err, context) => warnings.write('error', `nats:${context}`, { err, context }, 'NATS bus error'),
    }).catch((err: unknown) => {
      throw new ClusterUnavailableError(`NATS (NATS_URL) cannot be reached or its events stream set up: ${describe(err)}`, { cause: err });
    });
  } catch (err) {
    await registry.close();
    throw err;
  }
  return { bus, registry, instanceId, evictTimeoutMs: cluster.evictTimeoutMs };
}
