/**
 * What the primary and its workers say to each other over the cluster module's IPC channel. Every message has a
 * `type` starting with `gateway:` so it never mixes with Node's own or a library's messages.
 */

/** Worker → primary: the gateway of this worker accepts chargers (its metrics can be collected from now on). */
export interface WorkerReady {
  type: 'gateway:worker-ready';
  instanceId: string;
}

/** Worker → primary: a scrape arrived at this worker; answer with every worker's metrics summed. */
export interface ScrapeRequest {
  type: 'gateway:scrape';
  id: number;
}

/** Primary → worker: the answer to a ScrapeRequest, in the Prometheus text format, or why there is none. */
export interface ScrapeAnswer {
  type: 'gateway:scrape-answer';
  id: number;
  text?: string;
  error?: string;
}

/** Primary → worker: send your metrics (prom-client `getMetricsAsJSON`) for a scrape. */
export interface CollectRequest {
  type: 'gateway:collect';
  id: number;
}

/** Worker → primary: the answer to a CollectRequest. */
export interface CollectAnswer {
  type: 'gateway:collect-answer';
  id: number;
  metrics?: unknown[];
  error?: string;
}

/** Primary → worker: drain and exit (a signal reached the primary). Idempotent: a worker already draining goes on. */
export interface ShutdownRequest {
  type: 'gateway:shutdown';
}

export type WorkerMessage = WorkerReady | ScrapeRequest | CollectAnswer;
export type PrimaryMessage = ScrapeAnswer | CollectRequest | ShutdownRequest;

const WORKER_TYPES = new Set(['gateway:worker-ready', 'gateway:scrape', 'gateway:collect-answer']);
const PRIMARY_TYPES = new Set(['gateway:scrape-answer', 'gateway:collect', 'gateway:shutdown']);

function typeOf(message: unknown): unknown {
  return typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return WORKER_TYPES.has(typeOf(message) as string);
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return PRIMARY_TYPES.has(typeOf(message) as string);
}

/** Set by the primary in each worker's environment: the worker's slot, 1..WORKERS. */
export const WORKER_SLOT_ENV = 'GATEWAY_WORKER_SLOT';

/** A worker slot's instance id: stable per slot, so a restarted worker takes its predecessor's place. */
export function workerInstanceId(podId: string, slot: number): string {
  return `${podId}-w${slot}`;
}

/** A worker slot's state folder: each worker writes its own charger memory. */
export function workerStateDir(stateDir: string, slot: number): string {
  return `${stateDir.replace(/\/+$/, '')}/worker-${slot}`;
}
