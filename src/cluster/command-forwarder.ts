import { type Bus, BusTimeoutError, NoRespondersError, SUBJECTS } from '../bus/types.js';
import type { CommandError, CommandForwarder, CommandRequest, CommandResult } from '../gateway/commands.js';
import type { Metrics } from '../observability/metrics.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { Registry } from '../registry/types.js';

/** Added to a command's own timeout when waiting for the holder: its answer has to travel back too. */
export const FORWARD_MARGIN_MS = 2000;

/**
 * Finds the instance holding a charger in the registry and hands it the command over NATS
 * (`gateway.instance.{token}.commands`). Nobody holding it, or a holder that no longer listens (it died and its
 * claim has not expired yet), is DEVICE_OFFLINE at once.
 */
export class ClusterCommandForwarder implements CommandForwarder {
  constructor(
    private readonly bus: Bus,
    private readonly registry: Registry,
    private readonly instanceId: string,
    private readonly defaultTimeoutMs: number,
    private readonly metrics: Metrics,
    private readonly warnings: RateLimitedLog,
  ) {}

  async forward(request: CommandRequest & { commandId: string }): Promise<{ offline: string } | { result: CommandResult } | { error: CommandError }> {
    const id = request.chargePointId;
    let owner: Awaited<ReturnType<Registry['owner']>>;
    try {
      owner = await this.registry.owner(id);
    } catch (err) {
      this.count('registry_unavailable');
      this.warnings.write('error', 'forward:registry', { err }, 'cannot look up the instance holding a charger');
      return { offline: `charge point ${id} is not connected here, and the ownership registry cannot say where it is: ${describe(err)}` };
    }
    if (owner === null) {
      this.count('offline');
      return { offline: `charge point ${id} is not connected to any gateway instance` };
    }
    if (owner.instanceId === this.instanceId) {
      this.count('offline');
      return { offline: `charge point ${id} is not connected` };
    }
    const timeoutMs = (request.timeoutMs ?? this.defaultTimeoutMs) + FORWARD_MARGIN_MS;
    try {
      const answer = await this.bus.request(SUBJECTS.instanceCommands(owner.instanceId), request, timeoutMs);
      if (!isCommandResult(answer)) throw new Error('the holding instance answered with something that is not a command result');
      this.count('forwarded');
      return { result: answer };
    } catch (err) {
      if (err instanceof NoRespondersError) {
        this.count('no_responders');
        return { offline: `charge point ${id} was held by gateway instance ${owner.instanceId}, which no longer answers` };
      }
      if (err instanceof BusTimeoutError) {
        this.count('timeout');
        return { error: { code: 'TIMEOUT', message: `gateway instance ${owner.instanceId}, holding ${id}, did not answer within ${timeoutMs} ms` } };
      }
      this.count('error');
      this.warnings.write('error', 'forward:request', { err }, 'command could not be forwarded to the holding instance');
      return { offline: `charge point ${id} is held by gateway instance ${owner.instanceId}, which cannot be reached: ${describe(err)}` };
    }
  }

  private count(outcome: string): void {
    this.metrics.commandForwards.labels(outcome).inc();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isCommandResult(value: unknown): value is CommandResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.commandId === 'string' && typeof v.chargePointId === 'string' && (v.status === 'completed' || v.status === 'rejected');
}
