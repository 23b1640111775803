import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config/schema.js';
import { InstanceIdInUseError } from '../registry/types.js';
import { isPrimaryMessage, WORKER_SLOT_ENV, type WorkerMessage, workerInstanceId, workerStateDir } from './messages.js';

/** How long a scrape arriving at this worker waits for the primary's sum of every worker. */
const SCRAPE_TIMEOUT_MS = 10_000;

/**
 * One worker of WORKERS > 1, as its gateway sees the primary: its slot's instance id and state folder, the
 * primary's shutdown request, and the scrape (answered by the primary with every worker's metrics summed).
 */
export class WorkerLink {
  readonly slot: number;
  readonly config: GatewayConfig;
  private registry: Registry | undefined;
  private nextScrapeId = 0;
  private readonly scrapes = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private shutdownListener: (() => void) | undefined;

  constructor(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env) {
    const slot = Number(env[WORKER_SLOT_ENV]);
    if (!Number.isSafeInteger(slot) || slot < 1) throw new Error(`${WORKER_SLOT_ENV} must name this worker's slot, got ${env[WORKER_SLOT_ENV]}`);
    this.slot = slot;
    this.config = {
      ...config,
      instance: { ...config.instance, id: workerInstanceId(config.instance.id as string, slot), stateDir: workerStateDir(config.instance.stateDir, slot) },
    };
    process.on('message', (message: unknown) => this.onMessage(message));
  }

  /**
   * Starts the gateway; while another live registration holds this slot's instance id (the previous worker of
   * the slot died without giving it back) retries until that registration has expired, one TTL at most.
   */
  async startWhenIdFree<T>(start: () => Promise<T>, log: Logger): Promise<T> {
    const ttlMs = this.config.cluster.ownershipTtlMs;
    const giveUpAt = Date.now() + ttlMs + 2000;
    let warned = false;
    for (;;) {
      try {
        return await start();
      } catch (err) {
        if (!(err instanceof InstanceIdInUseError) || Date.now() > giveUpAt) throw err;
        if (!warned) {
          warned = true;
          log.warn(
            { instanceId: this.config.instance.id, ttlMs },
            "this worker slot's instance id is still registered (its previous worker died): waiting for it to expire",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.ceil(ttlMs / 3))));
      }
    }
  }

  /** The gateway is up: the primary may count this worker in scrapes from now on. */
  ready(registry: Registry): void {
    this.registry = registry;
    this.send({ type: 'gateway:worker-ready', instanceId: this.config.instance.id as string });
  }

  /** Called once when the primary asks this worker to drain (a signal reached the primary). */
  onShutdownRequest(listener: () => void): void {
    this.shutdownListener = listener;
  }

  /** Every worker's metrics, summed by the primary, in the Prometheus text format. */
  scrape(): Promise<string> {
    const id = this.nextScrapeId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        reject(new Error(`the primary did not answer within ${SCRAPE_TIMEOUT_MS} ms`));
      }, SCRAPE_TIMEOUT_MS);
      this.scrapes.set(id, { resolve, reject, timer });
      this.send({ type: 'gateway:scrape', id });
    });
  }

  private send(message: WorkerMessage): void {
    // Without the channel the primary is gone, and the cluster module ends this worker anyway.
    if (process.connected) process.send?.(message, undefined, {}, () => {});
  }

  private onMessage(message: unknown): void {
    if (!isPrimaryMessage(message)) return;
    if (message.type === 'gateway:shutdown') {
      const listener = this.shutdownListener;
      this.shutdownListener = undefined;
      listener?.();
    } else if (message.type === 'gateway:collect') {
      const registry = this.registry;
      if (registry === undefined) {
        this.send({ type: 'gateway:collect-answer', id: message.id, metrics: [] });
        return;
      }
      registry.getMetricsAsJSON().then(
        (metrics) => this.send({ type: 'gateway:collect-answer', id: message.id, metrics: [metrics] }),
        (err: Error) => this.send({ type: 'gateway:collect-answer', id: message.id, error: err.message }),
      );
    } else if (message.type === 'gateway:scrape-answer') {
      const scrape = this.scrapes.get(message.id);
      if (scrape === undefined) return;
      this.scrapes.delete(message.id);
      clearTimeout(scrape.timer);
      if (message.text !== undefined) scrape.resolve(message.text);
      else scrape.reject(new Error(message.error ?? 'no metrics'));
    }
  }
}
