import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { RateLimitedLog } from './rate-limited-log.js';

export type UncaughtKind = 'uncaughtException' | 'unhandledRejection';

/**
 * The last resort: an error nothing else handled is logged and counted, and the process keeps serving the
 * chargers that are fine. Every one is a bug (the counter should stay 0, and the tests of the real process
 * assert it); ending 20,000 connections for one of them would turn that bug into an outage.
 */
export function guardProcess(log: Logger, counter: Counter<'kind'>): void {
  const lines = new RateLimitedLog(log, { intervalMs: 10_000, maxKeys: 100 });
  // Zero from the start, so a scrape (and a test) can tell "none caught" from "no guard".
  counter.labels('uncaughtException').inc(0);
  counter.labels('unhandledRejection').inc(0);
  const guard = (kind: UncaughtKind) => (err: unknown) => {
    counter.labels(kind).inc();
    const message = err instanceof Error ? err.message : String(err);
    lines.write('error', `${kind}:${message.slice(0, 200)}`, { err, kind }, 'uncaught error: logged, counted and survived');
  };
  process.on('uncaughtException', guard('uncaughtException'));
  process.on('unhandledRejection', guard('unhandledRejection'));
}
