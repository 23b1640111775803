import cluster, { type Worker } from 'node:cluster';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { GatewayConfig } from '../config/schema.js';
import { TRANSACTION_ID_STATE_FILE } from '../gateway/transaction-ids.js';
import { withMallocTuning } from '../observability/malloc-tuning.js';
import { createPrimaryMetrics, type PrimaryMetrics } from '../observability/metrics.js';
import { type CollectAnswer, isWorkerMessage, type PrimaryMessage, WORKER_SLOT_ENV, workerInstanceId, workerStateDir } from './messages.js';
import { RestartBackoff } from './restart-backoff.js';

/** How long a worker has to send its metrics for a scrape; one that does not fails the scrape (no partial sums). */
const COLLECT_TIMEOUT_MS = 5000;
/** Beyond shutdown.deadlineMs (each worker's own limit), how long the primary waits before killing what is left. */
const STOP_MARGIN_MS = 2000;

interface Slot {
  slot: number;
  instanceId: string;
  worker: Worker | undefined;
  forkedAt: number;
  ready: boolean;
  backoff: RestartBackoff;
  restartTimer: NodeJS.Timeout | undefined;
}

function send(worker: Worker, message: PrimaryMessage): void {
  // A worker that died since it asked has no channel; the callback keeps the failure from becoming an 'error' event.
  if (worker.isConnected()) worker.send(message, () => {});
}

/**
 * Each worker's metrics for one scrape, summed by prom-client's AggregatorRegistry.aggregate. The primary asks
 * only workers whose gateway is up (a starting worker has no metrics yet); a worker dying during the scrape is
 * left out, as are its chargers; a live worker that does not answer fails the scrape rather than under-count.
 */
class MetricsCollector {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { waiting: Set<Worker>; results: unknown[][]; resolve: (r: unknown[][]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();

  constructor(private readonly primary: PrimaryMetrics) {}

  async scrape(workers: Worker[]): Promise<string> {
    const gathered = workers.length === 0 ? [] : await this.collect(workers);
    const summed = await AggregatorRegistry.aggregate(gathered as never).metrics();
    const own = await this.primary.registry.metrics();
    return `${summed.trim() === '' ? '' : `${summed.trimEnd()}\n`}${own}`;
  }

  private collect(workers: Worker[]): Promise<unknown[][]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`a worker did not send its metrics within ${COLLECT_TIMEOUT_MS} ms`));
      }, COLLECT_TIMEOUT_MS);
      this.pending.set(id, { waiting: new Set(workers), results: [], resolve, reject, timer });
      for (const worker of workers) send(worker, { type: 'gateway:collect', id });
    });
  }

  answer(worker: Worker, message: CollectAnswer): void {
    const request = this.pending.get(message.id);
    if (request === undefined || !request.waiting.delete(worker)) return;
    if (message.error !== undefined || !Array.isArray(message.metrics)) {
      this.settle(message.id, new Error(`a worker could not read its metrics: ${message.error ?? 'no metrics'}`));
      return;
    }
    request.results.push(...(message.metrics as unknown[][]));
    if (request.waiting.size === 0) this.settle(message.id);
  }

  /** A worker died: no scrape waits for it any longer. */
  gone(worker: Worker): void {
    for (const [id, request] of this.pending) {
      if (request.waiting.delete(worker) && request.waiting.size === 0) this.settle(id);
    }
  }

  private settle(id: number, err?: Error): void {
    const request = this.pending.get(id);
    if (request === undefined) return;
    this.pending.delete(id);
    clearTimeout(request.timer);
    if (err) request.reject(err);
    else request.resolve(request.results);
  }
}

/**
 * Each worker keeps its own charger memory; each starts with the transaction id mark of the single process that
 * may have run here before, so a 1.6 transactionId it handed out is never handed out again.
 */
async function prepareStateDirs(stateDir: string, workers: number): Promise<void> {
  for (let slot = 1; slot <= workers; slot++) {
    const dir = workerStateDir(stateDir, slot);
    await mkdir(dir, { recursive: true });
    await copyFile(join(stateDir, TRANSACTION_ID_STATE_FILE), join(dir, TRANSACTION_ID_STATE_FILE)).catch(() => undefined);
  }
}

/**
 * The primary of WORKERS > 1: forks one worker per slot (Node's cluster module shares the charger and admin ports
 * among them), restarts a worker that dies after a backoff, gathers the scrape, and on SIGTERM/SIGINT asks every
 * worker to drain, exiting 0 once all did. It runs no gateway itself and opens no charger connection.
 */
export async function runPrimary(config: GatewayConfig, log: Logger): Promise<void> {
  const podId = config.instance.id as string;
  const count = config.instance.workers;
  await prepareStateDirs(config.instance.stateDir, count);
  const metrics = createPrimaryMetrics();
  const collector = new MetricsCollector(metrics);
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    slot: i + 1,
    instanceId: workerInstanceId(podId, i + 1),
    worker: undefined,
    forkedAt: 0,
    ready: false,
    backoff: new RestartBackoff(),
    restartTimer: undefined,
  }));
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  let exitCode = 0;
  let signalled = false;

  const readyWorkers = () => slots.filter((s) => s.ready && s.worker !== undefined).map((s) => s.worker as Worker);
  const countReady = () => metrics.workersReady.set(readyWorkers().length);

  const finishIfAllStopped = () => {
    if (phase !== 'stopping' || slots.some((s) => s.worker !== undefined)) return;
    log.info({ exitCode }, 'every worker stopped');
    process.exit(exitCode);
  };

  const stopAll = (code: number) => {
    phase = 'stopping';
    exitCode = code;
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      if (worker === undefined) continue;
      // A worker whose gateway is up drains its chargers; one still starting holds none and is simply ended.
      if (slot.ready) send(worker, { type: 'gateway:shutdown' });
      else worker.process.kill('SIGTERM');
    }
    const deadline = setTimeout(() => {
      log.error({ deadlineMs: config.shutdown.deadlineMs }, 'workers still running after the shutdown deadline: killing them');
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdown.deadlineMs + STOP_MARGIN_MS);
    deadline.unref();
    finishIfAllStopped();
  };

  const fork = (slot: Slot) => {
    slot.forkedAt = Date.now();
    slot.ready = false;
    // Workers hold the chargers: they get glibc's fixed mmap threshold even when the primary was started without it.
    const worker = cluster.fork(withMallocTuning({ ...process.env, [WORKER_SLOT_ENV]: String(slot.slot) }));
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'gateway:worker-ready') {
        slot.ready = true;
        countReady();
        log.info({ slot: slot.slot, instanceId: slot.instanceId, pid: worker.process.pid }, 'worker accepting chargers');
        if (phase === 'starting' && slots.every((s) => s.ready)) {
          phase = 'running';
          log.info({ workers: count, port: config.server.port, adminPort: config.admin.port }, 'all workers accepting chargers');
        }
      } else if (message.type === 'gateway:scrape') {
        collector.scrape(readyWorkers()).then(
          (text) => send(worker, { type: 'gateway:scrape-answer', id: message.id, text }),
          (err: Error) => send(worker, { type: 'gateway:scrape-answer', id: message.id, error: err.message }),
        );
      } else if (message.type === 'gateway:collect-answer') {
        collector.answer(worker, message);
      }
    });
    worker.on('exit', (code, signal) => {
      const wasReady = slot.ready;
      slot.worker = undefined;
      slot.ready = false;
      collector.gone(worker);
      countReady();
      if (phase === 'stopping') {
        if (wasReady && code !== 0) exitCode = exitCode === 0 ? 1 : exitCode;
        log.info({ slot: slot.slot, instanceId: slot.instanceId, code, signal }, 'worker stopped');
        finishIfAllStopped();
        return;
      }
      if (phase === 'starting') {
        // Start-up is all or nothing: a worker that cannot start (a port in use, a server unreachable, a bad
        // POD_ID) would not start on a retry either; its own line on stderr says why.
        log.error({ slot: slot.slot, instanceId: slot.instanceId, code, signal }, 'a worker failed to start: stopping the others');
        stopAll(code === 2 ? 2 : 1);
        return;
      }
      const delay = slot.backoff.next(Date.now() - slot.forkedAt);
      metrics.workerRestarts.inc({ cause: signal ? 'signal' : 'exit' });
      log.warn({ slot: slot.slot, instanceId: slot.instanceId, code, signal, restartInMs: delay }, 'worker died: restarting it');
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (phase === 'running') fork(slot);
      }, delay);
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    signalled = true;
    if (phase === 'stopping') return;
    log.info({ signal, workers: readyWorkers().length, deadlineMs: config.shutdown.deadlineMs }, 'shutting down the workers');
    stopAll(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Each worker reloads its own secrets (admin token file, certificates, TLS context); the primary only passes
  // SIGHUP on, and handles it at all because its default action would end the primary.
  process.on('SIGHUP', () => {
    for (const slot of slots) slot.worker?.process.kill('SIGHUP');
  });

  log.info({ workers: count, podId }, 'starting workers');
  for (const slot of slots) fork(slot);
}
