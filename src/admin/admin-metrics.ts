import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The admin API's own metrics, on the gateway's registry so one scrape shows everything. Fetched when they
 * exist already, so an admin server restarted on the same gateway does not trip over its own names.
 */
export function createAdminMetrics(registry: Registry) {
  const r = { registers: [registry] };
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, ...r });
  const gauge = (name: string, help: string) => (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, ...r });
  return {
    requests: counter('admin_http_requests_total', 'Admin API requests by route pattern, method and status', ['route', 'method', 'status']),
    sseStreams: gauge('admin_sse_streams', 'Open server-sent-event streams'),
    sseOverflowCloses: counter('admin_sse_overflow_closes_total', 'Event streams ended because the client read too slowly and its buffer filled', []),
  };
}

export type AdminMetrics = ReturnType<typeof createAdminMetrics>;
