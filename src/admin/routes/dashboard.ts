import type { FastifyInstance } from 'fastify';
import { RegistryUnavailableError } from '../../registry/types.js';
import { errorBody } from '../api-errors.js';
import type { DashboardSource } from '../dashboard-source.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';
import type { SseHub } from '../sse-hub.js';

/** The operator dashboard's fleet statistics: one snapshot with its history, or a stream of them. */
export function dashboardRoutes(app: FastifyInstance, source: DashboardSource, hub: SseHub): void {
  app.get(
    '/api/v1/dashboard/summary',
    {
      schema: {
        tags: ['dashboard'],
        summary: 'Fleet statistics: connections, message rates, command round trips, errors, refusals and closes, with the last 30 minutes of totals',
        response: {
          200: { $ref: 'DashboardSnapshot#' },
          ...COMMON_ERRORS,
          503: errorResponse('UNAVAILABLE: cluster mode, the registry did not answer'),
        },
      },
    },
    async (_request, reply) => {
      try {
        return await source.snapshot(true);
      } catch (err) {
        if (err instanceof RegistryUnavailableError) return reply.code(503).send(errorBody('UNAVAILABLE', err.message));
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/dashboard/stream',
    {
      exposeHeadRoute: false,
      schema: {
        tags: ['dashboard'],
        summary: 'The fleet statistics as server-sent events (text/event-stream)',
        description:
          `An event \`stats\` at once, then one every sampling interval (admin.dashboardIntervalMs, ${source.intervalMs} ms here); ` +
          'its data is the summary without `history`. A comment line is sent every 15 s; a client that reads too slowly ' +
          'gets a final `event: overflow`, and at shutdown the stream ends with `event: end`.',
        response: {
          200: { description: 'The stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...COMMON_ERRORS,
          503: errorResponse('UNAVAILABLE: the gateway is shutting down, or the statistics cannot be read now'),
        },
      },
    },
    async (request, reply) => {
      if (hub.isEnding) return reply.code(503).send(errorBody('UNAVAILABLE', 'the gateway is shutting down; streams are closed'));
      reply.hijack();
      await hub.open(reply.raw, {}, undefined, request.ip);
    },
  );
}
