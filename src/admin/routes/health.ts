import type { FastifyInstance } from 'fastify';
import type { AdminGateway } from '../admin-gateway.js';

const statusBody = (values: string[]) => ({
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: values } },
});

/** Cluster mode: each dependency of readiness (absent in the embedded mode). */
const readinessBody = (values: string[]) => ({
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: values },
    dependencies: {
      type: 'object',
      required: ['nats', 'redis', 'ownership'],
      properties: {
        nats: { type: 'string', enum: ['up', 'down'] },
        redis: { type: 'string', enum: ['up', 'down'] },
        ownership: { type: 'string', enum: ['valid', 'lost'] },
      },
    },
  },
});

/** Probes and the scrape: public (no token), cheap, and never dependent on a charger. */
export function healthRoutes(app: FastifyInstance, gateway: AdminGateway, scrapeMetrics?: () => Promise<string>): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness: 200 while the process runs',
        security: [],
        response: { 200: statusBody(['ok']) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 while accepting chargers with the bus reachable; 503 when draining or not ready',
        description:
          'In cluster mode `dependencies` says whether NATS and Redis are reachable and whether this instance still holds its ' +
          'ownership registration; any of them down is 503.',
        security: [],
        response: { 200: readinessBody(['ready']), 503: readinessBody(['draining', 'not_ready']) },
      },
    },
    async (_request, reply) => {
      const { ready, dependencies } = gateway.readiness();
      const extra = dependencies === undefined ? {} : { dependencies };
      if (ready) return { status: 'ready', ...extra };
      return reply.code(503).send({ status: gateway.isAccepting ? 'not_ready' : 'draining', ...extra });
    },
  );

  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (no per-charger labels)',
        security: [],
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
          503: { description: "WORKERS > 1: the workers' metrics could not be gathered", content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    async (_request, reply) => {
      const { registry } = gateway.metrics;
      if (scrapeMetrics !== undefined) {
        // A partial sum would under-count without saying so; the scraper records the failed scrape instead.
        const text = await scrapeMetrics().catch((err: Error) => err);
        if (text instanceof Error) return reply.code(503).type('text/plain').send(`metrics of the workers could not be gathered: ${text.message}\n`);
        return reply.type(registry.contentType).send(text);
      }
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
}
